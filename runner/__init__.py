"""`chaos`: GPU chaos engineering for Kubernetes.

The package behind the `chaos` CLI. Layers (checked by import-linter, see pyproject.toml):
scenario (parse and check) -> engine (run, journal, rollback) -> steps (one per kind) ->
cluster (the Cluster protocol and its one kubernetes adapter). `sim` is the embedded cluster,
reached only over HTTP; `report` and `cli` are the only places that render.
"""

__version__ = "0.1.0"
