"""Lets `python -m runner` behave exactly like the `chaos` console script."""

from runner.cli import app

app(prog_name="chaos")
