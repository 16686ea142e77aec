"""The `chaos` command line: Typer commands only.

Each command parses its arguments, calls the library, renders the result and picks the exit code
(DESIGN.md §6). Commands come in groups: run/plan/recover, validate/schema/xids, report, sim, shim.
Heavy imports (the kubernetes client, the engine, the embedded cluster) happen
inside the commands that need them, so `chaos --help` and `chaos validate` start fast.
"""

from __future__ import annotations

import json
import os
import sys
from enum import Enum
from pathlib import Path
from typing import Annotated, Any

import typer

from runner import __version__
from runner.shimwire import DEFAULT_TOGGLE_FILE, DEFAULT_XID

HELP_OPTIONS = {"help_option_names": ["-h", "--help"]}

app = typer.Typer(
    name="chaos",
    help="GPU chaos engineering for Kubernetes: simulate XID failures and prove recovery.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings=HELP_OPTIONS,
    rich_markup_mode="markdown",  # docstring lines join into paragraphs, as they read in the source
)


class ClusterFlag(str, Enum):
    """--cluster: where a run goes (a Choice, so shells complete it)."""

    SIM = "sim"
    KUBE = "kube"


class RunOutput(str, Enum):
    TEXT = "text"
    JSON = "json"


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


# --- engine commands: run, plan, recover ----------------------------------------------------
# A thin layer over runner.engine: parse, load, pick the cluster, call run_with_signals / plan /
# recover, print plain lines (the Rich live view plugs in through a RunListener), exit code.



def _engine_fail(exc: Exception) -> typer.Exit:
    from runner.report.redact import redact_text

    typer.echo(f"error: {redact_text(str(exc))}", err=True)  # an API error may echo an env value
    return typer.Exit(getattr(exc, "exit_code", 1))


def _load_scenario(path: Path) -> Any:
    from runner.scenario.validate import load_scenario

    return load_scenario(path)


def _listener(output: str) -> Any:
    if output == "json":
        return None
    from runner.report.live import LiveView

    return LiveView()


def _print_plan(items: Any) -> None:
    for item in items:
        typer.echo(f"{item.step.name} ({item.step.kind.value})")
        if not item.changes:
            typer.echo("    (changes nothing)")
        for change in item.changes:
            detail = "" if change.detail is None else f" {json.dumps(change.detail)}"
            typer.echo(f"    {change.action} {change.target}{detail}")


def _finishing_signals() -> None:
    """After the run (rollback done, reports written) a late Ctrl-C or SIGTERM must not cut the
    embedded cluster's shutdown or the verdict's exit code short (it used to end in 130)."""
    import signal

    def note(signum: int, frame: object) -> None:
        # os.write: unbuffered, so it cannot re-enter a print the main thread is in the middle of
        os.write(2, b"the run is over; finishing the report and shutting down\n")

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, note)


def _no_more_signals() -> None:
    """The verdict is out and everything is shut down: hold SIGINT/SIGTERM until the process ends,
    so one that lands while the interpreter finalises (which restores the default handlers) cannot
    kill it and turn the verdict's exit code into a signal death."""
    import signal

    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})


def _kubectl_reason(context: str | None, kubeconfig: str | None) -> str:
    """Why a kubectl-like command (recover) talks to this cluster, in kubectl's own terms."""
    where = ("--kubeconfig" if kubeconfig else
             f"KUBECONFIG={os.environ['KUBECONFIG']}" if os.environ.get("KUBECONFIG") else "~/.kube/config")
    which = "--context" if context else "its current context"
    return f"from {where}, {which}, as kubectl would (--context/--kubeconfig choose another)"


# The cluster options of every command that targets a scenario's cluster (run, install, uninstall).
ClusterOption = Annotated[ClusterFlag | None, typer.Option(
    "--cluster", help="sim (the embedded cluster, the default) or kube (a real one).")]
ContextOption = Annotated[str | None, typer.Option(
    "--context", help="kubeconfig context (names a real cluster).")]
KubeconfigOption = Annotated[str | None, typer.Option(
    "--kubeconfig", help="kubeconfig file (names a real cluster; KUBECONFIG alone does not).")]


def _say_cluster(connected: Any, why: str, *, to_stderr: bool = False) -> None:
    """The first line of every command that touches a cluster: which one, and why that one."""
    typer.echo(f"cluster: {connected.description}; {why}", err=to_stderr)


@app.command("run")
def run_command(
    scenario_path: Annotated[Path, typer.Argument(help="Scenario file.", metavar="SCENARIO")],
    cluster: ClusterOption = None,
    context: ContextOption = None,
    kubeconfig: KubeconfigOption = None,
    report_dir: Annotated[Path | None, typer.Option(
        "--report-dir", help="Run directory (default reports/<run id>/).", metavar="DIR")] = None,
    dry_run: bool = typer.Option(False, "--dry-run", help="Preflight and plan only."),
    yes: bool = typer.Option(False, "--yes", help="Allow taking the last healthy replica."),
    allow_privileged: bool = typer.Option(
        False, "--allow-privileged", help="Allow privileged steps (node-xid writes the kernel log)."),
    output: RunOutput = typer.Option(RunOutput.TEXT, "-o", "--output", help="text or json."),  # noqa: B008
) -> None:
    """Run a scenario: preflight, steps, rollback, verdict.

    The embedded cluster unless a real one is named: --cluster kube (the current context),
    --context, --kubeconfig, the scenario's settings.cluster, or CHAOS_CONTEXT. An ambient
    KUBECONFIG or ~/.kube/config alone never sends a run to a real cluster.

    Exit 0 passed, 1 failed, 2 invalid input, 3 inconclusive (nothing proven, nothing left
    changed), 4 interrupted, 5 something the run changed is still changed (run chaos recover).
    Settings: defaults < the scenario < CHAOS_* environment (CHAOS_CLUSTER, CHAOS_CONTEXT,
    CHAOS_REPORTS_DIR, CHAOS_TIMEOUT, CHAOS_ROLLBACK, CHAOS_FAULT_EXPIRY) < these flags.
    """
    from runner import __version__ as version
    from runner.engine.executor import dry_run as do_dry_run
    from runner.engine.executor import run_with_signals
    from runner.errors import ChaosError
    from runner.report import redacted, write_reports
    from runner.report.terminal import render
    from runner.settings import Flags, resolve
    from runner.steps.registry import REGISTRY

    try:
        scenario = _load_scenario(scenario_path)
        resolved = resolve(scenario, env=os.environ, tool_version=version,
                           flags=Flags(cluster=cluster.value if cluster else None, context=context,
                                       kubeconfig=kubeconfig, report_dir=report_dir, yes=yes,
                                       allow_privileged=allow_privileged))
        scenario = resolved.apply(scenario)
        options = resolved.options
        as_json = output is RunOutput.JSON
        from runner.api import open_cluster

        with open_cluster(resolved.cluster.value, resolved.context, resolved.kubeconfig,
                          scenario) as connected:
            _say_cluster(connected, resolved.cluster_reason, to_stderr=as_json)
            for name in resolved.ignored_env:
                typer.echo(f"note: {name} is not a chaos setting; ignored (see chaos run --help)",
                           err=True)
            if dry_run:
                found = do_dry_run(scenario, connected, options, REGISTRY)
                if found.refused:
                    typer.echo(f"preflight refused: {found.refused}")
                else:
                    assert found.preflight is not None
                    typer.echo(f"preflight ok: target node {found.preflight.target_node}")
                _print_plan(found.plan)
                raise typer.Exit(found.exit_code)
            files: list[Path] = []

            def write(result: Any, run_dir: Path) -> list[Path]:
                files.extend(write_reports(result, run_dir))
                return files

            result = run_with_signals(scenario, connected, options, steps=REGISTRY,
                                      listener=_listener(output.value), report_writer=write)
            _finishing_signals()  # the render and the embedded cluster's shutdown still follow
            if output is RunOutput.JSON:  # the same redaction pass as the report files
                typer.echo(json.dumps(redacted(result).to_json(), indent=2))
            else:
                render(result, [str(f) for f in files])
    except ChaosError as exc:
        raise _engine_fail(exc) from None
    _no_more_signals()
    raise typer.Exit(result.exit_code)


@app.command("plan")
def plan_command(
    scenario_path: Annotated[Path, typer.Argument(help="Scenario file.", metavar="SCENARIO")],
    output: RunOutput = typer.Option(RunOutput.TEXT, "-o", "--output", help="text or json."),  # noqa: B008
) -> None:
    """Show every change a run would make, in order, touching nothing."""
    from runner.engine.executor import plan_scenario
    from runner.errors import ChaosError
    from runner.steps.registry import REGISTRY

    try:
        items = plan_scenario(_load_scenario(scenario_path), REGISTRY)
    except ChaosError as exc:
        raise _engine_fail(exc) from None
    if output is RunOutput.JSON:
        typer.echo(json.dumps([{"step": i.step.name, "kind": i.step.kind.value,
                                 "changes": [{"target": c.target, "action": c.action,
                                              "detail": c.detail} for c in i.changes]}
                                for i in items], indent=2))
    else:
        _print_plan(items)


@app.command("recover")
def recover_command(
    run_dir: Annotated[Path | None, typer.Argument(
        help="Run directory holding journal.jsonl.", metavar="RUN_DIR")] = None,
    run_id: str | None = typer.Option(None, "--run", help="Recover this run from its cluster copy.",
                                      metavar="ID"),
    all_runs: bool = typer.Option(False, "--all", help="Recover every run found in the cluster."),
    namespace: str | None = typer.Option(None, "--namespace", "-n", help="Only this namespace."),
    context: str | None = typer.Option(None, "--context",
                                       help="kubeconfig context (default: the current one)."),
    kubeconfig: str | None = typer.Option(
        None, "--kubeconfig", help="kubeconfig file (default: KUBECONFIG, else ~/.kube/config)."),
) -> None:
    """Undo what a dead or interrupted run left changed (safe to run twice).

    Works on a real cluster only, found as kubectl finds it: --context/--kubeconfig, else
    KUBECONFIG and its current context; the first line says which."""
    from runner.cluster.connect import connect_kube
    from runner.engine.recover import recover
    from runner.errors import ChaosError
    from runner.steps.registry import REGISTRY

    if run_dir is None and not run_id and not all_runs:
        typer.echo("error: say which run to recover: a RUN_DIR, --run ID, or --all", err=True)
        raise typer.Exit(2)
    try:
        connected = connect_kube(context, kubeconfig)
        _say_cluster(connected, _kubectl_reason(context, kubeconfig))
        result = recover(connected, REGISTRY.undo_kinds, run_dir=run_dir, run_id=run_id,
                         all_runs=all_runs, namespace=namespace)
    except ChaosError as exc:
        raise _engine_fail(exc) from None
    from runner.report.redact import redact_text

    for line in result.lines():  # a conflict's diff quotes the values it found
        typer.echo(redact_text(line))
    raise typer.Exit(result.exit_code)


# --- install, uninstall, status: the shim left in a workload between runs --------------------


def _scenario_cluster(scenario_path: Path, cluster: ClusterFlag | None, context: str | None,
                      kubeconfig: str | None, yes: bool, report_dir: Path | None = None) -> Any:
    """The scenario with its settings resolved as `chaos run` resolves them (same flags, same
    CHAOS_* layer, same cluster choice)."""
    from runner import __version__ as version
    from runner.settings import Flags, resolve

    scenario = _load_scenario(scenario_path)
    resolved = resolve(scenario, env=os.environ, tool_version=version,
                       flags=Flags(cluster=cluster.value if cluster else None, context=context,
                                   kubeconfig=kubeconfig, report_dir=report_dir, yes=yes))
    return resolved.apply(scenario), resolved


def _say_sim_note(resolved: Any) -> None:
    if resolved.cluster.value == "sim":
        typer.echo("note: the embedded cluster started for this command stops when it ends, and "
                   "what is installed there goes with it (name a cluster: --cluster kube, --context)",
                   err=True)


def _kube_only(cluster: ClusterFlag | None, command: str) -> None:
    if cluster is ClusterFlag.SIM:
        typer.echo(f"error: chaos {command} without a SCENARIO reads a running cluster; an embedded "
                   "cluster started for it would be empty (--cluster kube, --context, --kubeconfig)",
                   err=True)
        raise typer.Exit(2)


@app.command("install")
def install_command(
    scenario_path: Annotated[Path, typer.Argument(help="Scenario file.", metavar="SCENARIO")],
    cluster: ClusterOption = None,
    context: ContextOption = None,
    kubeconfig: KubeconfigOption = None,
    report_dir: Annotated[Path | None, typer.Option(
        "--report-dir", help="Where the install's journal is kept locally (default reports/<id>/).",
        metavar="DIR")] = None,
    yes: bool = typer.Option(False, "--yes", help="Allow taking the last healthy replica."),
) -> None:
    """Deliver the scenario's shim, disarmed, into its workload and leave it there.

    Runs the scenario's patch step (passthrough, no pin) and waits for the pods, journaled like a
    run, under the workload's Lease; the install's journal stays in the state namespace as its
    record. `chaos run` on the workload then restarts nothing: it arms and disarms through the
    toggle. Safe to repeat (an installed workload is left as it is). Exit 0 installed, 2 invalid
    input, 3 refused (nothing changed), 5 a failed install left something changed (chaos recover).
    """
    from runner.engine.install import install
    from runner.errors import ChaosError
    from runner.report import write_reports
    from runner.steps.registry import REGISTRY

    try:
        scenario, resolved = _scenario_cluster(scenario_path, cluster, context, kubeconfig, yes,
                                               report_dir)
        from runner.api import open_cluster

        with open_cluster(resolved.cluster.value, resolved.context, resolved.kubeconfig,
                          scenario) as connected:
            _say_cluster(connected, resolved.cluster_reason)
            _say_sim_note(resolved)
            outcome = install(scenario, connected, resolved.options, steps=REGISTRY,
                              listener=_listener("text"), report_writer=write_reports)
            if outcome.already:
                typer.echo(f"already installed: install {outcome.install_id}; nothing changed")
            elif outcome.result is not None:
                result = outcome.result
                _finishing_signals()
                if result.exit_code == 0:
                    from runner.workload.kinds import workload_ref

                    typer.echo(f"installed: install {outcome.install_id} in {workload_ref(scenario.target)}, "
                               "disarmed; chaos run arms it, chaos uninstall removes it")
                else:
                    typer.echo(f"not installed ({result.verdict.value}): {result.reason}")
    except ChaosError as exc:
        raise _engine_fail(exc) from None
    _no_more_signals()
    raise typer.Exit(outcome.exit_code)


@app.command("uninstall")
def uninstall_command(
    scenario_path: Annotated[Path | None, typer.Argument(help="Scenario file.", metavar="SCENARIO")] = None,
    all_installs: bool = typer.Option(False, "--all", help="Every install in the cluster."),
    cluster: ClusterFlag | None = typer.Option(  # noqa: B008 (Typer declares options this way)
        None, "--cluster", help="sim or kube (with --all: a real one, found as kubectl finds it)."),
    context: str | None = typer.Option(None, "--context", help="kubeconfig context."),
    kubeconfig: str | None = typer.Option(None, "--kubeconfig", help="kubeconfig file."),
    namespace: str | None = typer.Option(None, "--namespace", "-n",
                                         help="State namespace (with --all; default chaos-system)."),
    yes: bool = typer.Option(False, "--yes", help="Accepted for symmetry with install."),
) -> None:
    """Take an install out: replay its journal (undo only what is still ours), verify, delete the
    record. Under the workload's Lease: refused (exit 3) while a run holds it. Exit 0 clean or
    nothing installed, 5 something is still changed."""
    from runner.engine.install import uninstall
    from runner.errors import ChaosError
    from runner.report.redact import redact_text
    from runner.steps.registry import REGISTRY

    if (scenario_path is None) == (not all_installs) or (scenario_path is not None and all_installs):
        typer.echo("error: say which install to remove: a SCENARIO, or --all", err=True)
        raise typer.Exit(2)
    try:
        if scenario_path is not None:
            scenario, resolved = _scenario_cluster(scenario_path, cluster, context, kubeconfig, yes)
            from runner.api import open_cluster

            with open_cluster(resolved.cluster.value, resolved.context, resolved.kubeconfig,
                              scenario) as connected:
                _say_cluster(connected, resolved.cluster_reason)
                result = uninstall(connected, REGISTRY.undo_kinds, scenario=scenario, say=typer.echo)
        else:
            _kube_only(cluster, "uninstall --all")
            from runner.cluster.connect import connect_kube

            connected = connect_kube(context, kubeconfig)
            _say_cluster(connected, _kubectl_reason(context, kubeconfig))
            result = uninstall(connected, REGISTRY.undo_kinds, all_installs=True,
                               state_namespace=namespace or "chaos-system", say=typer.echo)
    except ChaosError as exc:
        raise _engine_fail(exc) from None
    if not result.runs:
        typer.echo("nothing installed; nothing changed")
    for line in result.lines() if result.runs else []:
        typer.echo(redact_text(line.replace("run install-", "install install-", 1)))
    raise typer.Exit(result.exit_code)


@app.command("status")
def status_command(
    cluster: ClusterFlag | None = typer.Option(  # noqa: B008 (Typer declares options this way)
        None, "--cluster", help="kube (the default here: status reads a running cluster)."),
    context: str | None = typer.Option(None, "--context", help="kubeconfig context (default: current)."),
    kubeconfig: str | None = typer.Option(
        None, "--kubeconfig", help="kubeconfig file (default: KUBECONFIG, else ~/.kube/config)."),
    namespace: str | None = typer.Option(
        None, "--namespace", "-n", help="Only installs, journals and fault maps of this target namespace."),
    state_namespace: str = typer.Option("chaos-system", "--state-namespace",
                                        help="Where journals and Leases live."),
    output: RunOutput = typer.Option(RunOutput.TEXT, "-o", "--output", help="text or json."),  # noqa: B008
) -> None:
    """What chaos has in the cluster now: installs, runs holding a Lease, journals with changes not
    undone, armed nodes and their expiry. Read-only; exit 0 (2 when the cluster cannot be read)."""
    from runner.cluster.connect import connect_kube
    from runner.engine.status import status
    from runner.errors import ChaosError
    from runner.report.redact import redact_text
    from runner.steps.registry import REGISTRY

    _kube_only(cluster, "status")
    as_json = output is RunOutput.JSON
    try:
        connected = connect_kube(context, kubeconfig)
        _say_cluster(connected, _kubectl_reason(context, kubeconfig), to_stderr=as_json)
        found = status(connected, REGISTRY.undo_kinds, state_namespace=state_namespace,
                       namespace=namespace)
    except ChaosError as exc:
        raise _engine_fail(exc) from None
    if as_json:
        typer.echo(redact_text(json.dumps(found.to_json(), indent=2)))
    else:
        for line in found.lines():
            typer.echo(redact_text(line))


# --- scenario commands: validate, schema, xids ---



class ValidateFormat(str, Enum):
    TEXT = "text"
    JSON = "json"
    GITHUB = "github"
    JUNIT = "junit"
    MARKDOWN = "markdown"


class TableFormat(str, Enum):
    TABLE = "table"
    JSON = "json"


def _color() -> bool:
    return sys.stdout.isatty() and not os.environ.get("NO_COLOR")


@app.command()
def validate(
    paths: list[Path] = typer.Argument(  # noqa: B008  (Typer declares arguments this way)
        None, help="Scenario files or directories (searched recursively, skipping manifests/). "
        "Default: scenarios/.", metavar="PATH"),
    output: ValidateFormat = typer.Option(ValidateFormat.TEXT, "-o", "--output",  # noqa: B008
                                          help="text, json, github (workflow annotations), junit or "
                                          "markdown (a summary table)."),
    strict: bool = typer.Option(False, "--strict", help="Warnings fail validation too."),
    junit_file: Path | None = typer.Option(None, "--junit-file",  # noqa: B008
                                           help="Also write JUnit XML here (a test case per problem and per "
                                           "valid file)."),
) -> None:
    """Check scenarios offline: YAML, schema and semantics. Exit 0 when valid, 2 when not."""
    from runner.report import validation as render
    from runner.scenario.validate import expand_paths, validate_file

    given = paths or [Path("scenarios")]
    try:
        results = [validate_file(p) for p in expand_paths(given)]
    except Exception as exc:  # noqa: BLE001  (a bug must still reach the user as one clear line)
        typer.echo(f"chaos validate: internal error: {type(exc).__name__}: {exc}", err=True)
        raise typer.Exit(1) from None
    if not results:
        typer.echo(f"chaos validate: no scenario files (*.yaml, *.yml) in {', '.join(map(str, given))}",
                   err=True)
        raise typer.Exit(2)
    if junit_file is not None:  # CI wants annotations on stdout and JUnit in a file, in one pass
        try:
            junit_file.parent.mkdir(parents=True, exist_ok=True)
            junit_file.write_text(render.render_junit(results, strict), encoding="utf-8")
        except OSError as exc:
            typer.echo(f"chaos validate: cannot write {junit_file}: {exc.strerror or exc}", err=True)
            raise typer.Exit(2) from None
    if output is ValidateFormat.TEXT and _color():
        from rich.console import Console

        styles = {"error": "bold red", "warning": "yellow", "info": "cyan"}
        console = Console(highlight=False)
        for line, severity in render.text_lines(results):
            console.print(line, style=styles.get(severity.value, "") if severity else "dim",
                          markup=False, soft_wrap=True)
    else:
        text = {
            ValidateFormat.TEXT: lambda: render.render_text(results),
            ValidateFormat.JSON: lambda: render.render_json(results, strict),
            ValidateFormat.GITHUB: lambda: render.render_github(results),
            ValidateFormat.JUNIT: lambda: render.render_junit(results, strict),
            ValidateFormat.MARKDOWN: lambda: render.render_markdown(results, strict),
        }[output]()
        sys.stdout.write(text)
    raise typer.Exit(0 if all(r.passed(strict) for r in results) else 2)


@app.command()
def schema() -> None:
    """Print the scenario JSON Schema (for editors and other tools)."""
    from runner.scenario.validate import schema_text

    sys.stdout.write(schema_text())


@app.command()
def xids(
    output: TableFormat = typer.Option(TableFormat.TABLE, "-o", "--output",  # noqa: B008
                                       help="table or json."),
) -> None:
    """List the simulated XIDs: the CUDA errors each returns and the recovery it expects."""
    import json

    from runner import xid as catalogue

    rows = [{
        "xid": x.number, "title": x.title, "scope": x.scope.value, "outcome": x.outcome.value,
        "runtime_error": f"{x.error.runtime_name} ({x.error.code})",
        "driver_error": f"{x.error.driver_name} ({x.error.code})",
        "peer_error": f"{x.peer_error.runtime_name} ({x.peer_error.code})" if x.peer_error else None,
        "after_fault": x.after_fault,
    } for x in catalogue.CATALOGUE.values()]
    if output is TableFormat.JSON:
        sys.stdout.write(json.dumps(rows, indent=2) + "\n")
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title="Simulated XIDs")
    for column in ("XID", "Meaning", "Runtime error", "Driver error", "Scope", "After the fault"):
        table.add_column(column, overflow="fold")
    for row in rows:
        runtime = str(row["runtime_error"]) + (f"; peer: {row['peer_error']}" if row["peer_error"] else "")
        table.add_row(str(row["xid"]), str(row["title"]), runtime, str(row["driver_error"]),
                      str(row["scope"]), str(row["after_fault"]))
    Console().print(table)


# --- report commands ---------------------------------------------------------------------------


@app.command("report")
def report_cmd(
    run_dir: str = typer.Argument(..., help="A run directory (holding report.json) or a report.json file."),
    output: str = typer.Option("text", "--output", "-o",
                               help="text (to the terminal), json, md or html (to stdout)."),
) -> None:
    """Re-render a finished run's report from its run directory.

    Exits with the run's own exit code (0 passed, 1 failed, 3 inconclusive, 4 interrupted, 5 rollback
    incomplete); 2 when the report.json is missing or not a valid run report."""
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
    raise typer.Exit(result.exit_code)


# --- sim commands (embedded cluster) ---

sim_app = typer.Typer(name="sim", help="The embedded cluster: a Kubernetes API server on loopback.",
                      no_args_is_help=True)
app.add_typer(sim_app)


def _not_a_file(path: Path, flag: str) -> str:
    """Why `path` cannot be read as a file ('' when it can): a FIFO would block the read."""
    import stat

    try:
        mode = path.stat().st_mode
    except OSError as exc:
        return f"{flag} {path}: {exc.strerror or exc}"
    return "" if stat.S_ISREG(mode) else f"{flag} {path} is not a regular file"


def _not_writable(path: Path, flag: str) -> str:
    """Why a file cannot be written at `path` ('' when it can), before anything is started."""
    parent = path.parent
    if not parent.is_dir():
        return f"{flag} {path}: {parent} is not a directory"
    if path.exists() and not path.is_file():
        return f"{flag} {path} exists and is not a file"
    if not os.access(parent, os.W_OK):
        return f"{flag} {path}: {parent} is not writable"
    return ""


@sim_app.command("up")
def sim_up(
    nodes: int = typer.Option(3, "--nodes", min=0, help="GPU nodes to create (gpu-node-1..N)."),
    gpus_per_node: int = typer.Option(8, "--gpus-per-node", min=0, help="nvidia.com/gpu per node."),
    kubeconfig: str = typer.Option("chaos-sim.kubeconfig", "--kubeconfig",
                                   help="Where to write the kubeconfig (context chaos-sim)."),
    port: int = typer.Option(0, "--port", min=0, max=65535, help="Port on 127.0.0.1 (0: a free one)."),
    root: str = typer.Option("", "--root", help="Keep the cluster's files (container logs) here; "
                             "default: a temporary directory removed on exit."),
    token: str = typer.Option("", "--token", help="Require this bearer token (unrestricted)."),
    rules: list[str] = typer.Option(  # noqa: B008 (typer idiom)
        [], "--rules", help="RBAC YAML (Roles, ClusterRoles and their bindings; repeatable): "
        "--restricted-token acts as the ServiceAccount they name, with what they bind to it."),
    restricted_token: str = typer.Option("", "--restricted-token",
                                         help="A second bearer token limited to what --rules grant."),
    from_scenario: str = typer.Option("", "--from",
                                      help="Scenario file: its settings.sim nodes and manifests (overrides "
                                           "--nodes/--gpus-per-node)."),
    time_scale: float = typer.Option(-1.0, "--time-scale",
                                     help="Multiply kubelet durations (backoff, grace); default 1 or the "
                                          "scenario's."),
    api_only: bool = typer.Option(False, "--api-only",
                                  help="Only the API server and Node objects: no scheduler, controllers, "
                                       "kubelets or health agent (pods are never run)."),
) -> None:
    """Run the embedded cluster in the foreground until Ctrl-C or SIGTERM."""
    import signal
    import threading
    from pathlib import Path

    from runner.errors import ChaosError

    path = Path(kubeconfig).expanduser().resolve()
    default_config = (Path.home() / ".kube" / "config").resolve()
    if path == default_config:
        typer.echo(f"error: refusing to overwrite {default_config}; pick another --kubeconfig", err=True)
        raise typer.Exit(2)
    problem = (_not_writable(path, "--kubeconfig")
               or next((p for p in (_not_a_file(Path(r), "--rules") for r in rules) if p), "")
               or (_not_a_file(Path(from_scenario), "--from") if from_scenario else ""))
    if problem:
        typer.echo(f"error: {problem}", err=True)
        raise typer.Exit(2)
    try:
        from runner.sim.cluster import SimCluster
        from runner.sim.rbac import Policy, PolicyRule, load_policy

        tokens: dict[str, list[PolicyRule] | Policy | None] = {}
        if token:
            tokens[token] = None
        if rules or restricted_token:
            if not (rules and restricted_token and token):
                typer.echo("error: --rules and --restricted-token go together, with --token", err=True)
                raise typer.Exit(2)
            tokens[restricted_token] = load_policy([Path(r) for r in rules])
        from runner.scenario.model import SimNode, SimSettings
        from runner.sim.nodeside import NodeSideSettings, attach
        from runner.sim.seed import seed, sim_settings_from_file

        base_dir = Path.cwd()
        if from_scenario:
            sim = sim_settings_from_file(Path(from_scenario))
            base_dir = Path(from_scenario).resolve().parent
        else:
            sim = SimSettings(nodes=(SimNode(count=nodes, gpus=gpus_per_node),))
        scale = time_scale if time_scale > 0 else sim.time_scale
        cluster = SimCluster(Path(root) if root else None, port=port, tokens=tokens)
        if restricted_token:  # what the rules lack, as it is refused (also what clients swallow)
            cluster.authorizer.on_denied = lambda message: typer.echo(f"forbidden: {message}", err=True)
        if not api_only:
            attach(cluster, NodeSideSettings(time_scale=scale, health_agent=sim.health_agent))
    except (OSError, ValueError) as exc:  # a busy port, an unreadable or malformed rules file
        typer.echo(f"error: cannot start the embedded cluster: {exc}", err=True)
        raise typer.Exit(2) from exc
    except ChaosError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    done = threading.Event()

    def _stop(signum: int, frame: object) -> None:
        done.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    with cluster:
        try:
            names = seed(cluster, sim, base_dir)
        except ChaosError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from exc
        typer.echo(f"nodes: {', '.join(names) or 'none'}")
        if restricted_token:
            user = cluster.authorizer.tokens[restricted_token].user
            typer.echo(f"restricted token: acts as {user}, with what {', '.join(rules)} bind to it")
        cluster.write_kubeconfig(path, token=token or None)
        typer.echo(f"chaos-sim API server: {cluster.url}")
        typer.echo(f"export KUBECONFIG={path}")
        typer.echo("Ctrl-C to stop.")
        while not done.wait(0.5):
            pass
    typer.echo("chaos-sim stopped.")


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
    xid: int = typer.Option(DEFAULT_XID, "--xid", help="The XID to simulate."),
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
    file: str = typer.Option(DEFAULT_TOGGLE_FILE, "--file", help="The toggle file."),
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
    file: str = typer.Option(DEFAULT_TOGGLE_FILE, "--file", help="The toggle file."),
) -> None:
    """Disarm the shim (processes that already faulted stay faulted, as real hardware does)."""
    _shim_toggle(file, False, None, None, None, None, None)


@shim_systemd_app.command("install")
def shim_systemd_install(
    unit: str = typer.Argument(..., help="The unit, e.g. ollama or ollama.service."),
    root: str = typer.Option(None, "--root", help="Act on this directory as if it were / (tests, images)."),
    xid: int = typer.Option(DEFAULT_XID, "--xid", help="The XID to simulate."),
    armed: bool = typer.Option(False, "--armed/--disarmed", help="Armed before any toggle file says so."),
    library: str = typer.Option(None, "--library", help="The shim library (default: build it)."),
    toggle_file: str = typer.Option(DEFAULT_TOGGLE_FILE, "--toggle-file", help="Toggle file."),
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
