"""`chaos`: GPU chaos engineering for Kubernetes.

The package behind the `chaos` CLI. Layers (checked by import-linter, see pyproject.toml):
scenario (parse and check) -> engine (run, journal, rollback) -> steps (one per kind) ->
cluster (the Cluster protocol and its one kubernetes adapter). `sim` is the embedded cluster,
reached only over HTTP; `report` and `cli` are the only places that render.
"""

__version__ = "0.1.0"

# The Python API (runner/api.py), re-exported on first use so that `import runner` stays light:
# the CLI, the pytest plugin and `chaos --help` import this package without paying for the API.
_API = ("FaultInjector", "FaultInjectorError", "Validation", "load_scenario", "open_cluster", "plan",
        "recover", "run", "validate")

__all__ = ["__version__", *_API]


def __getattr__(name: str) -> object:
    if name in _API:
        from runner import api

        return getattr(api, name)
    raise AttributeError(f"module 'runner' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_API])
