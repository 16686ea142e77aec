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


# --- sim commands (embedded cluster) ---

sim_app = typer.Typer(name="sim", help="The embedded cluster: a Kubernetes API server on loopback.",
                      no_args_is_help=True)
app.add_typer(sim_app)


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
    rules: str = typer.Option("", "--rules", help="ClusterRole/Role YAML: bind --restricted-token to it."),
    restricted_token: str = typer.Option("", "--restricted-token",
                                         help="A second bearer token limited to the rules of --rules."),
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
    try:
        from runner.sim.cluster import SimCluster
        from runner.sim.rbac import PolicyRule, load_rules

        tokens: dict[str, list[PolicyRule] | None] = {}
        if token:
            tokens[token] = None
        if rules or restricted_token:
            if not (rules and restricted_token and token):
                typer.echo("error: --rules and --restricted-token go together, with --token", err=True)
                raise typer.Exit(2)
            tokens[restricted_token] = load_rules(Path(rules))
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
        cluster.write_kubeconfig(path, token=token or None)
        typer.echo(f"chaos-sim API server: {cluster.url}")
        typer.echo(f"export KUBECONFIG={path}")
        typer.echo("Ctrl-C to stop.")
        while not done.wait(0.5):
            pass
    typer.echo("chaos-sim stopped.")


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
