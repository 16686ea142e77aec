"""The `chaos` command line: Typer commands only.

Each command parses its arguments, calls the library, renders the result and picks the exit code
(DESIGN.md §6). Heavy imports (the kubernetes client, the engine, the embedded cluster) happen
inside the commands that need them, so `chaos --help` and `chaos validate` start fast.
"""

from __future__ import annotations

import typer

from runner import __version__

app = typer.Typer(
    name="chaos",
    help="GPU chaos engineering for Kubernetes: simulate XID failures and prove recovery.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"chaos {__version__}")
        raise typer.Exit(0)


@app.callback()
def main(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                 help="Print the version and exit."),
) -> None:
    """GPU chaos engineering for Kubernetes."""
