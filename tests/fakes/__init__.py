"""Test doubles shared by every test area: an in-memory Cluster and a fake Clock."""
