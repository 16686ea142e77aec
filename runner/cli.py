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


# --- report commands ---------------------------------------------------------------------------


@app.command("report")
def report_cmd(
    run_dir: str = typer.Argument(..., help="A run directory (holding report.json) or a report.json file."),
    output: str = typer.Option("text", "--output", "-o",
                               help="text (to the terminal), json, md or html (to stdout)."),
) -> None:
    """Re-render a finished run's report from its run directory."""
    from pathlib import Path

    from runner.errors import ChaosError
    from runner.report import REPORT_FILES, load_result, redacted

    formats = ("text", "json", "md", "html")
    if output not in formats:
        typer.echo(f"error: -o must be one of {', '.join(formats)} (got {output!r})", err=True)
        raise typer.Exit(2)
    try:
        result = redacted(load_result(Path(run_dir)))
    except ChaosError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    if output == "text":
        from runner.report import terminal

        base = Path(run_dir) if Path(run_dir).is_dir() else Path(run_dir).parent
        files = [str(base / name) for name in REPORT_FILES if (base / name).exists()]
        terminal.render(result, files)
    elif output == "json":
        from runner.report import json_report

        typer.echo(json_report.dumps(result), nl=False)
    elif output == "md":
        from runner.report import markdown

        typer.echo(markdown.render(result), nl=False)
    else:
        from runner.report import html

        typer.echo(html.render(result), nl=False)
