"""The `node-xid` step (opt-in, privileged): write an NVRM XID line into a node's kernel log.

For real health agents (NVSentinel's syslog monitor, DCGM) that read the kernel log rather than
pod logs. A privileged helper pod pinned to the node appends `NVRM: Xid (PCI:...): <n>, ...` to
`/dev/kmsg` (hostPath `/dev`); in the embedded cluster hostPaths live in the node's directory, so
the same pod writes the node dir's `dev/kmsg` file. It refuses unless the run allows privileged
steps (`state.allow_privileged`, from a CLI flag). A kernel log line cannot be taken back: only
the helper pod is journaled (DeleteObject).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from runner import xid as catalogue
from runner.cluster.protocol import KubeObject, ObjectRef
from runner.errors import StepError
from runner.kernel.admission import PodSecurityNeed
from runner.kernel.step import Evidence, PlannedChange, RunState, StepContext, StepOutcome, StepStatus
from runner.kernel.undo import DeleteObject
from runner.scenario.model import NodeXidStep, Scenario, StepKind
from runner.steps import admission
from runner.steps.common import emit, node_ref, safe_name
from runner.steps.helperpod import DEFAULT_HELPER_IMAGE, HostMount, helper_manifest, run_helper
from runner.workload.views import node_gpus

PCI = "0000:3b:00"  # when the node does not say which GPU is where (a real node)
KMSG_ENV = "CHAOS_KMSG_LINE"  # the line, handed to the helper pod as a value (no shell quoting)


def nvrm_pci(bus_id: str) -> str:
    """`00000000:3B:00.0` (nvidia-smi, the device plugin) -> `0000:3b:00` (how NVRM lines name it)."""
    domain, _, rest = bus_id.partition(":")
    bus, _, device = rest.partition(":")
    return f"{domain[-4:]}:{bus}:{device.partition('.')[0]}".lower() if bus and device else PCI


def faulty_pci(node: Mapping[str, Any], gpus: Sequence[int | str]) -> str:
    """The NVRM PCI address of the faulty GPU: the first of `fault.gpus` the node lists."""
    for gpu in node_gpus(node):
        if not gpus or gpu.index in gpus or gpu.uuid.lower() in {str(g).lower() for g in gpus}:
            return nvrm_pci(gpu.pci_bus_id)
    return PCI


def kmsg_line(xid: int, message: str = "", pci: str = PCI) -> str:
    entry = catalogue.lookup(xid)
    text = message or (entry.title if entry else "simulated by chaos")
    return f"NVRM: Xid (PCI:{pci}): {xid}, pid=0, name=chaos, {text}".replace("\n", " ")


class NodeXidImpl:
    kind: ClassVar[StepKind] = StepKind.NODE_XID

    def __init__(self, image: str = DEFAULT_HELPER_IMAGE) -> None:
        self.image = image

    def plan(self, step: NodeXidStep, scenario: Scenario, state: RunState) -> list[PlannedChange]:
        xid = step.xid if step.xid is not None else scenario.fault.xid
        return [PlannedChange(f"node {state.resolve_node(step.node)}",
                              "write kernel log line (privileged helper pod)",
                              {"line": kmsg_line(xid, step.message), "device": "/dev/kmsg"})]

    def pod_security(self, step: NodeXidStep, scenario: Scenario) -> list[PodSecurityNeed]:
        """Its helper pod is privileged: only a privileged namespace admits it."""
        return [admission.helper_pod_need(self._manifest("<pod>", scenario.target.namespace, "<node>",
                                                         "<run-id>", ""),
                                          "the node-xid step's privileged helper pod",
                                          admission.NODE_XID_OPTION)]

    def _manifest(self, name: str, namespace: str, node: str, run_id: str, line: str) -> KubeObject:
        return helper_manifest(name, namespace, node, run_id, "kmsg",
                               f'echo "${KMSG_ENV}" >> /host-dev/kmsg', image=self.image,
                               mounts=(HostMount("/dev", "/host-dev", "Directory"),),
                               privileged=True, env={KMSG_ENV: line})

    def run(self, step: NodeXidStep, ctx: StepContext) -> StepOutcome:
        if not ctx.state.allow_privileged:
            raise StepError("node-xid runs a privileged pod on the node; refused unless privileged "
                            "steps are allowed for this run (--allow-privileged)")
        node = ctx.state.resolve_node(step.node)
        xid = step.xid if step.xid is not None else ctx.scenario.fault.xid
        line = kmsg_line(xid, step.message, faulty_pci(ctx.cluster.get(node_ref(node)),
                                                      ctx.scenario.fault.gpus))
        namespace = ctx.scenario.target.namespace
        name = safe_name("chaos", "kmsg", ctx.run_id, node)
        ctx.record_undo(DeleteObject(ObjectRef("v1", "Pod", namespace, name)))
        manifest = self._manifest(name, namespace, node, ctx.run_id, line)
        run_helper(ctx.cluster, ctx.clock, manifest, deadline=ctx.deadline, gate=ctx.gate)
        ctx.timeline("node-xid", line, node=node)
        emit(ctx, node_ref(node), "ChaosNodeXid", line, warning=True)
        return StepOutcome(StepStatus.PASSED, f"wrote XID {xid} to the kernel log of {node}",
                           (Evidence("log", line, {"node": node, "line": line}),),
                           (f"kernel log line on {node}",))



