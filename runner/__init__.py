"""`chaos`: GPU chaos engineering for Kubernetes.

The package behind the `chaos` CLI. Layers, top to bottom (an import-linter `layers` contract in
pyproject.toml; README "The house"): the entry points (cli, pytest_plugin, then api); report;
engine | steps | sim; kernel | workload | shim | shimdist | settings; cluster | scenario; shimwire |
jsonpointer; xid; errors. `sim` is the embedded cluster, reached only over HTTP; `report` and
`cli` are the only places that render.
"""

from typing import Any

__version__ = "0.1.0"

# The Python API (runner/api.py), re-exported on first use so that `import runner` stays light:
# the CLI, the pytest plugin and `chaos --help` import this package without paying for the API.
_API = ("FaultInjector", "FaultInjectorError", "Validation", "load_scenario", "open_cluster", "plan",
        "recover", "run", "validate")

__all__ = ["__version__", *_API]


def __getattr__(name: str) -> Any:
    if name in _API:
        from runner import api

        return getattr(api, name)
    raise AttributeError(f"module 'runner' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_API])
