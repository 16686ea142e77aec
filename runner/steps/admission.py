"""What the step kinds' pods need of Pod Security admission, and keeping our own containers
admissible under `restricted`.

Why it exists: preflight refuses a run whose pods the target namespace would refuse
(runner/kernel/admission.py), so each step kind that creates pods (the toggle's and node-xid's
helper pods) or changes a pod template (the patch step) says what they need, built from the very
manifests and additions the step would write, never from a separate description of them. The
init container the patch step adds gets a securityContext that `restricted` admits, so a
compliant workload stays compliant once patched. It changes nothing by itself.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from runner.kernel.admission import PodSecurityNeed, need_of
from runner.scenario.model import PatchStep, ShimSource

if TYPE_CHECKING:
    from runner.steps.patch import Additions

# What `restricted` asks of each container (the pod's settings are the workload's, so ours are
# all set on the container). A non-root user: `runAsNonRoot` alone makes a kubelet refuse an image
# that runs as root, which compiler images do; the emptyDir it writes into is world-writable.
RESTRICTED_CONTEXT: dict[str, Any] = {
    "allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}, "runAsNonRoot": True,
    "runAsUser": 65534, "runAsGroup": 65534, "seccompProfile": {"type": "RuntimeDefault"}}

USE_CONFIGMAP = "use settings.toggle-via: configmap (no hostPath, no helper pods)"
SOURCE_OPTION = "use patch source configmap or image (the shim from a ConfigMap or an image, not the node)"
NODE_XID_OPTION = ("node-xid writes the node's kernel log from a privileged pod, which only a "
                   "privileged namespace admits: drop the step or target such a namespace")


def restricted_container(container: dict[str, Any]) -> dict[str, Any]:
    """`container` with the securityContext `restricted` admits (one it sets itself is kept)."""
    if "securityContext" in container:
        return container
    return {**container, "securityContext": dict(RESTRICTED_CONTEXT)}


def template_needs(step: PatchStep, add: Additions) -> list[PodSecurityNeed]:
    """What the pods of a template patched with `add` need (the workload's own containers are
    left as they are: admitted now, admitted after)."""
    out = []
    for volume in add.volumes:
        if volume.get("hostPath") is None:
            continue
        toggle = step.source is not ShimSource.HOST_PATH or volume["name"] != "chaos-shim"
        out.append(need_of({"volumes": [volume]}, "the patched pod template's pods",
                           USE_CONFIGMAP if toggle else SOURCE_OPTION))
    inits = need_of({"initContainers": list(add.init_containers)}, "the patched pod template's pods")
    if inits.level != "restricted":
        out.append(inits)
    return out


def helper_pod_need(manifest: dict[str, Any], what: str, option: str) -> PodSecurityNeed:
    """What a helper pod needs, from the manifest the step would create."""
    return need_of(manifest.get("spec") or {}, what, option)
