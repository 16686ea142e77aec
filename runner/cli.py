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


# --- shim commands ------------------------------------------------------------------------------
# Build, run and install the CUDA fault-injection shim; audit a machine for leftovers.
# runner.shim does the work; these commands only parse, call and print.

shim_app = typer.Typer(help="The CUDA fault-injection shim (cuda_intercept.so).", no_args_is_help=True)
shim_systemd_app = typer.Typer(help="Preload the shim into ONE systemd unit (never system-wide).",
                               no_args_is_help=True)
shim_app.add_typer(shim_systemd_app, name="systemd")
app.add_typer(shim_app, name="shim")


def _shim_fail(e: Exception) -> typer.Exit:
    from runner.errors import ChaosError

    typer.echo(f"error: {e}", err=True)
    return typer.Exit(e.exit_code if isinstance(e, ChaosError) else 1)


@shim_app.command("build")
def shim_build(
    cache_dir: str = typer.Option(None, "--cache-dir", help="Where built libraries are kept."),
) -> None:
    """Compile the shim (cached by source hash) and print the library's path."""
    from pathlib import Path

    from runner import shim
    from runner.errors import ChaosError

    try:
        typer.echo(str(shim.build(Path(cache_dir) if cache_dir else None)))
    except ChaosError as e:
        raise _shim_fail(e) from e


@shim_app.command("run", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def shim_run(
    cmd: list[str] = typer.Argument(..., help="The command to run (after --)."),  # noqa: B008 (typer idiom)
    xid: int = typer.Option(79, "--xid", help="The XID to simulate."),
    armed: bool = typer.Option(False, "--armed/--disarmed", help="Start armed."),
    toggle_file: str = typer.Option(None, "--toggle-file",
                                     help="Use this toggle file (default: a private one in a temp dir)."),
) -> None:
    """Run a local command under the shim; exits with the command's exit code."""
    from pathlib import Path

    from runner import shim
    from runner.errors import ChaosError

    try:
        toggle = Path(toggle_file) if toggle_file else None
        code = shim.run_under_shim(cmd, xid=xid, armed=armed, toggle_file=toggle)
    except ChaosError as e:
        raise _shim_fail(e) from e
    raise typer.Exit(code)


def _shim_toggle(file: str, armed: bool, xid: int | None, expires_in: str | None, probability: float | None,
                 after_calls: int | None, apis: str | None) -> None:
    import time

    from runner import shim
    from runner.errors import ChaosError

    try:
        expires = int(time.time()) + shim.parse_duration(expires_in) if expires_in else None
        api_list = [a.strip() for a in apis.split(",") if a.strip()] if apis else None
        path = shim.write_toggle(file, armed, xid, expires, probability=probability, after_calls=after_calls,
                                 apis=api_list)
    except (ChaosError, OSError) as e:
        raise _shim_fail(e) from e
    state = "armed" if armed else "disarmed"
    until = f" until {time.strftime('%Y-%m-%dT%H:%M:%S%z', time.localtime(expires))}" if expires else ""
    typer.echo(f"{state} {path}{f' (XID {xid})' if xid else ''}{until}")


@shim_app.command("arm")
def shim_arm(
    file: str = typer.Option("/host-fault/cuda_fault_enabled", "--file", help="The toggle file."),
    xid: int = typer.Option(None, "--xid", help="The XID to simulate (default: CUDA_XID_TYPE)."),
    expires_in: str = typer.Option(None, "--expires-in", help="Dead-man switch: disarm after 30s, 10m, 2h."),
    probability: float = typer.Option(None, "--probability", help="Chance that an eligible call faults."),
    after_calls: int = typer.Option(None, "--after-calls", help="Let this many calls through first."),
    apis: str = typer.Option(None, "--apis", help="alloc,launch,sync,memcpy,peer,context,discovery."),
) -> None:
    """Arm the shim by writing its toggle file (atomically)."""
    _shim_toggle(file, True, xid, expires_in, probability, after_calls, apis)


@shim_app.command("disarm")
def shim_disarm(
    file: str = typer.Option("/host-fault/cuda_fault_enabled", "--file", help="The toggle file."),
) -> None:
    """Disarm the shim (processes that already faulted stay faulted, as real hardware does)."""
    _shim_toggle(file, False, None, None, None, None, None)


@shim_systemd_app.command("install")
def shim_systemd_install(
    unit: str = typer.Argument(..., help="The unit, e.g. ollama or ollama.service."),
    root: str = typer.Option(None, "--root", help="Act on this directory as if it were / (tests, images)."),
    xid: int = typer.Option(79, "--xid", help="The XID to simulate."),
    armed: bool = typer.Option(False, "--armed/--disarmed", help="Armed before any toggle file says so."),
    library: str = typer.Option(None, "--library", help="The shim library (default: build it)."),
    toggle_file: str = typer.Option("/host-fault/cuda_fault_enabled", "--toggle-file", help="Toggle file."),
) -> None:
    """Write a drop-in that preloads the shim into one unit, and say how to undo it."""
    from pathlib import Path

    from runner import shim
    from runner.errors import ChaosError

    try:
        lib = library or str(shim.build())
        res = shim.systemd_install(unit, lib, xid=xid, armed=armed, toggle_file=toggle_file,
                                   root=Path(root) if root else None)
    except (ChaosError, OSError) as e:
        raise _shim_fail(e) from e
    for line in res.actions:
        typer.echo(line)
    typer.echo("to undo from a console:")
    for line in res.undo:
        typer.echo(f"  {line}")


@shim_systemd_app.command("uninstall")
def shim_systemd_uninstall(
    unit: str = typer.Argument(..., help="The unit the drop-in was installed for."),
    root: str = typer.Option(None, "--root", help="Act on this directory as if it were /."),
) -> None:
    """Remove the drop-in written by `chaos shim systemd install`."""
    from pathlib import Path

    from runner import shim
    from runner.errors import ChaosError

    try:
        res = shim.systemd_uninstall(unit, root=Path(root) if root else None)
    except (ChaosError, OSError) as e:
        raise _shim_fail(e) from e
    for line in res.actions:
        typer.echo(line)
    for line in res.undo:
        typer.echo(f"then: {line}")


@shim_app.command("doctor")
def shim_doctor(
    fix: bool = typer.Option(False, "--fix", help="Remove our entries from preload files (keeps a backup)."),
    root: str = typer.Option(None, "--root", help="Inspect this directory as if it were /."),
) -> None:
    """Find the shim configured beyond one process (ld.so.preload, drop-ins, env files).
    Exit 1 while a system-wide preload of the shim remains."""
    from pathlib import Path

    from runner import shim

    try:
        findings = shim.doctor(Path(root) if root else None)
        if not findings:
            typer.echo("ok: the shim is not configured outside single processes")
            return
        for f in findings:
            typer.echo(f"{f.severity}: {f.path}:{f.line}: {f.text}")
            typer.echo(f"  risk: {f.risk}")
        if fix:
            for action in shim.doctor_fix(findings):
                typer.echo(f"fixed: {action}")
            findings = shim.doctor(Path(root) if root else None)
        elif any(f.fixable for f in findings):
            typer.echo("run `chaos shim doctor --fix` to remove the preload entries (a backup is kept)")
    except OSError as e:
        raise _shim_fail(e) from e
    if any(f.severity == "critical" for f in findings):
        raise typer.Exit(1)
