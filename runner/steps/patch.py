"""The `patch` step: deliver the CUDA fault shim into the target pods through their templates.

What it changes, per pod template (ONE RFC 6902 patch each, guarded by `test` ops on what it read,
retried on Conflict from a fresh read): a `chaos.dev/run-id` label (restarted pods are ours), the
shim volume (+ for `compile` and `image` an init container building or copying it, admitted under
Pod Security restricted), the toggle volume (the node directory by hostPath; with
`settings.toggle-via: configmap` the run's fault map, runner/steps/faultmap.py, which the step
creates first), the `LD_PRELOAD`/`CUDA_*` environment and mounts on the targeted containers, and an
optional node pin.
Sources: `prebuilt` (the default) first creates the ConfigMap `chaos-shim-<run_id>` whose
`binaryData` holds the shipped libraries (`runner.shimdist`: x86_64, aarch64), mounted read-only as
`/cuda-fault/<platform>/cuda_intercept.so`, and preloads `/cuda-fault/$PLATFORM/cuda_intercept.so`:
the dynamic loader expands `$PLATFORM`, so each pod loads its node's architecture, with no init
container and no image. `compile` (old name `configmap`) creates that ConfigMap with the sources
instead, built by a gcc init container. Every change is journaled first (DeleteObject for the
ConfigMap; RestoreJson of the template subtree with its original value). The template change
rolls the pods; when nothing changed and `restart` is set, it deletes them instead. It never
waits for the rollout (the wait step does).
"""

from __future__ import annotations

import base64
import copy
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

from runner import jsonpointer, shimdist, shimwire
from runner import shim as shim_tools
from runner.cluster.protocol import Cluster, JsonPatch, KubeObject, ObjectRef
from runner.errors import Conflict, NotFound, PreflightError, StepError
from runner.jsonpointer import MISSING, escape
from runner.kernel.admission import PodSecurityNeed
from runner.kernel.labels import RUN_ID_LABEL, run_labels
from runner.kernel.step import Evidence, PlannedChange, RunState, StepContext, StepOutcome, StepStatus
from runner.kernel.undo import DeleteObject, PathState, RevertPaths
from runner.scenario.model import Fault, FaultMode, PatchStep, PinMode, Scenario, ShimSource, StepKind
from runner.steps import admission, faultmap, installed
from runner.steps.common import emit, live_target_pods, pod_summaries, pods_before_arming
from runner.workload.kinds import (
    TemplateLocation,
    desired_replicas,
    pointer_get,
    shape_of,
    templates,
    workload_ref,
)
from runner.workload.views import pod_view

LIBRARY = shimwire.LIBRARY_NAME
SHIM_DIR = "/cuda-fault"  # where the built library is, in every container
# prebuilt: one directory per `$PLATFORM` spelling; the loader picks the node's (the variable is
# the loader's, not a shell's or Kubernetes' `$(VAR)`: nothing expands it before ld.so does)
PLATFORM_LIBRARY = f"{SHIM_DIR}/$PLATFORM/{shimwire.LIBRARY_NAME}"
PREBUILT_MODE = 0o444  # read-only files: a library needs no write or execute bit to be mapped
MAX_CONFIGMAP_BYTES = 1024 * 1024  # the API server's limit on a ConfigMap's data + binaryData
SRC_DIR = "/cuda-fault-src"  # the ConfigMap's sources, in the build init container
SHIM_VOLUME = "chaos-shim"
SRC_VOLUME = "chaos-shim-src"
INIT_NAME = "chaos-shim-init"
PLACEHOLDER = "<read at run time>"
MAX_CONFLICT_RETRIES = 5
HOSTNAME_LABEL = "kubernetes.io/hostname"


class ShimProvider(Protocol):
    """Where the shim comes from: the prebuilt libraries, or the sources and their build command
    (`runner.shimdist` and `runner.shim` in production)."""

    def prebuilt_libraries(self) -> dict[str, bytes]: ...

    def source_files(self) -> dict[str, str]: ...

    def compile_command(self, src_dir: str, out_path: str) -> str: ...


class ModuleShim:
    """The production provider: the shipped libraries, the shim's sources and build command."""

    def prebuilt_libraries(self) -> dict[str, bytes]:
        try:
            return shimdist.libraries()
        except shimdist.PrebuiltError as exc:
            raise StepError(f"patch: the prebuilt shim cannot be delivered: {exc}") from exc

    def source_files(self) -> dict[str, str]:
        return dict(shim_tools.source_files())

    def compile_command(self, src_dir: str, out_path: str) -> str:
        return shim_tools.compile_command(src_dir, out_path)


def library_in_container(source: ShimSource) -> str:
    """The `LD_PRELOAD` path: per platform for the prebuilt libraries, else the one built file."""
    return PLATFORM_LIBRARY if source.canonical is ShimSource.PREBUILT else f"{SHIM_DIR}/{LIBRARY}"


def prebuilt_items() -> list[dict[str, str]]:
    """ConfigMap key (architecture) -> file, for every `$PLATFORM` spelling of it."""
    return [{"key": arch, "path": f"{platform}/{LIBRARY}"}
            for arch, platforms in shimdist.PLATFORMS.items() for platform in platforms]


def prebuilt_summary(libraries: Mapping[str, bytes]) -> dict[str, str]:
    """What a plan and the step's evidence say about the libraries (never their bytes)."""
    return {arch: f"<{len(data)} bytes, sha256 {hashlib.sha256(data).hexdigest()[:16]}>"
            for arch, data in libraries.items()}


def fault_env(fault: Fault, *, armed: bool, toggle_file: str,
              library: str = f"{SHIM_DIR}/{LIBRARY}") -> dict[str, str]:
    """The shim's environment for the scenario's fault (what differs from the shim's defaults)."""
    return shimwire.shim_env(
        fault.xid, armed, toggle_file, library=library,
        probability=fault.probability if fault.probability != 1.0 else None,
        after_calls=fault.after_calls or None,
        apis=[shimwire.SCENARIO_API_CLASSES[a.value] for a in fault.apis],
        log_limit=fault.log_limit if fault.log_limit != shimwire.DEFAULT_LOG_LIMIT else None,
        gpus=fault.gpus)


def configmap_name(run_id: str) -> str:
    return f"chaos-shim-{run_id}"


def armed_at_start(step: PatchStep, fault: Fault) -> bool:
    """Immediate mode arms from process start; otherwise passthrough decides."""
    return fault.mode is FaultMode.IMMEDIATE or not step.passthrough


# --- what goes into a template ------------------------------------------------------------------


@dataclass(frozen=True)
class Additions:
    """Everything a template gains, independent of its current content."""

    label: tuple[str, str]
    volumes: tuple[dict[str, Any], ...]
    init_containers: tuple[dict[str, Any], ...]
    env: tuple[dict[str, Any], ...]
    mounts: tuple[dict[str, Any], ...]
    affinity: dict[str, Any] | None


def additions(step: PatchStep, scenario: Scenario, run_id: str, node: str,
              compile_command: str) -> Additions:
    fault = scenario.fault
    toggle = faultmap.toggle_parts(step, scenario, run_id)  # per settings.toggle-via
    volumes: list[dict[str, Any]] = [toggle.volume]
    inits: list[dict[str, Any]] = []
    mounts: list[dict[str, Any]] = [toggle.mount,
              {"name": SHIM_VOLUME, "mountPath": SHIM_DIR, "readOnly": True}]
    source = step.source.canonical
    if source is ShimSource.PREBUILT:
        volumes.append({"name": SHIM_VOLUME, "configMap": {"name": configmap_name(run_id),
                                                           "items": prebuilt_items(),
                                                           "defaultMode": PREBUILT_MODE}})
    elif source is ShimSource.HOST_PATH:
        volumes.append({"name": SHIM_VOLUME, "hostPath": {"path": step.host_path, "type": "Directory"}})
    else:
        volumes.append({"name": SHIM_VOLUME, "emptyDir": {}})
        if source is ShimSource.COMPILE:
            volumes.append({"name": SRC_VOLUME, "configMap": {"name": configmap_name(run_id)}})
            inits.append({"name": INIT_NAME, "image": step.compiler_image,
                          "command": ["sh", "-c", compile_command],
                          "volumeMounts": [{"name": SRC_VOLUME, "mountPath": SRC_DIR, "readOnly": True},
                                           {"name": SHIM_VOLUME, "mountPath": SHIM_DIR}]})
        else:
            inits.append({"name": INIT_NAME, "image": step.image,
                          "command": ["sh", "-c", f"cp {SHIM_DIR}/{LIBRARY} /cuda-fault-out/{LIBRARY}"],
                          "volumeMounts": [{"name": SHIM_VOLUME, "mountPath": "/cuda-fault-out"}]})
    inits = [admission.restricted_container(c) for c in inits]  # admitted under Pod Security restricted
    env = fault_env(fault, armed=armed_at_start(step, fault), toggle_file=toggle.toggle_file,
                    library=library_in_container(source))
    term = {"matchExpressions": [{"key": HOSTNAME_LABEL, "operator": "In", "values": [node]}]}
    affinity: dict[str, Any] | None = None
    if step.pin is PinMode.HARD:
        affinity = {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [term]}}
    elif step.pin is PinMode.PREFERRED:
        affinity = {"preferredDuringSchedulingIgnoredDuringExecution": [
            {"weight": 100, "preference": term}]}
    return Additions((RUN_ID_LABEL, run_id), tuple(volumes), tuple(inits),
                     toggle.env + tuple({"name": k, "value": v} for k, v in env.items()), tuple(mounts),
                     affinity)


def _merge_named(pointer: str, current: Any, items: Sequence[Mapping[str, Any]]) -> JsonPatch:
    """Ops that put each named item into the list at `pointer` (replacing one of the same name),
    guarded by a `test` of the list as read; `PLACEHOLDER` means "read at run time" (plans)."""
    if current is MISSING or current is None:
        return [{"op": "add", "path": pointer, "value": [dict(i) for i in items]}]
    ops: JsonPatch = [{"op": "test", "path": pointer, "value": current}]
    names = [] if current == PLACEHOLDER else [c.get("name") for c in current]
    for item in items:
        if item["name"] in names:
            ops.append({"op": "replace", "path": f"{pointer}/{names.index(item['name'])}",
                        "value": dict(item)})
        else:
            ops.append({"op": "add", "path": f"{pointer}/-", "value": dict(item)})
    return ops


def _ensure(obj: Any, pointer: str, value: Any) -> JsonPatch:
    """An `add` of `value` at `pointer`, creating missing parent objects in the same op."""
    if obj is None:  # planning: the parents' existence is read at run time
        return [{"op": "add", "path": pointer, "value": value}]
    tokens = pointer.split("/")[1:]
    for depth in range(len(tokens) - 1, 0, -1):
        parent = "/" + "/".join(tokens[:depth])
        if isinstance(pointer_get(obj, parent), dict):
            child = "/" + "/".join(tokens[: depth + 1])
            nested: Any = value
            for token in reversed(tokens[depth + 1:]):
                nested = {token.replace("~1", "/").replace("~0", "~"): nested}
            return [{"op": "add", "path": child, "value": nested}]
    return [{"op": "add", "path": pointer, "value": value}]


def _read(obj: Any, pointer: str) -> Any:
    if obj is None:
        return PLACEHOLDER
    found = pointer_get(obj, pointer)
    return MISSING if found is None else copy.deepcopy(found)


def template_patch(loc: TemplateLocation, add: Additions, containers: Sequence[str],
                   obj: KubeObject | None) -> JsonPatch:
    """The one JSON patch for one template (`obj` None: for a plan, nothing read yet). It opens
    with a `test` of the resourceVersion read, so any write since our read fails it (Conflict):
    `add` ops on absent lists cannot otherwise tell that someone created them meanwhile."""
    version = PLACEHOLDER if obj is None else obj.get("metadata", {}).get("resourceVersion")
    ops: JsonPatch = [{"op": "test", "path": "/metadata/resourceVersion", "value": version}]
    ops += _ensure(obj, f"{loc.template_labels}/{escape(add.label[0])}", add.label[1])
    ops += _merge_named(f"{loc.pod_spec}/volumes", _read(obj, f"{loc.pod_spec}/volumes"), add.volumes)
    if add.init_containers:
        ops += _merge_named(f"{loc.pod_spec}/initContainers",
                            _read(obj, f"{loc.pod_spec}/initContainers"), add.init_containers)
    for pointer in containers:
        ops += _merge_named(f"{pointer}/env", _read(obj, f"{pointer}/env"), add.env)
        ops += _merge_named(f"{pointer}/volumeMounts", _read(obj, f"{pointer}/volumeMounts"), add.mounts)
        # keep the `[XID n SIM]` line in the pod status (terminated.message) after a crash, so the
        # proof survives a drain that deletes the pod before anyone reads its log; a policy the
        # user chose is left alone
        if obj is None or _read(obj, f"{pointer}/terminationMessagePolicy") is MISSING:
            ops.append({"op": "add", "path": f"{pointer}/terminationMessagePolicy",
                        "value": "FallbackToLogsOnError"})
    if add.affinity is not None:
        affinity = _read(obj, f"{loc.pod_spec}/affinity")
        if affinity is MISSING:
            ops.append({"op": "add", "path": f"{loc.pod_spec}/affinity",
                        "value": {"nodeAffinity": add.affinity}})
        else:
            ops.append({"op": "test", "path": f"{loc.pod_spec}/affinity", "value": affinity})
            ops.append({"op": "add", "path": f"{loc.pod_spec}/affinity/nodeAffinity",
                        "value": add.affinity})
    return ops


def touched_paths(patch: JsonPatch, obj: KubeObject) -> tuple[PathState, ...]:
    """Each path `patch` changes, once, with its value in `obj` before the change: a list the
    patch appends to or replaces an item of is one path (the whole list), anything else itself."""
    pointers: list[str] = []
    for op in patch:
        if op["op"] == "test":
            continue
        path = str(op["path"])
        parent, _, last = path.rpartition("/")
        if last == "-" or (last.isdigit() and isinstance(pointer_get(obj, parent), list)):
            path = parent
        if path not in pointers:
            pointers.append(path)
    return tuple(PathState(p, copy.deepcopy(jsonpointer.get(obj, p))) for p in pointers)


def chosen_containers(loc: TemplateLocation, wanted: Sequence[str]) -> list[str]:
    """Pointers of the containers to inject (`target.containers`; empty: all of them)."""
    if not wanted:
        return list(loc.containers)
    chosen = [p for p, n in zip(loc.containers, loc.container_names, strict=True) if n in wanted]
    if not chosen:
        raise StepError(f"none of the containers {', '.join(wanted)} is in {loc.pod_spec} "
                        f"(it has {', '.join(loc.container_names) or 'none'})")
    return chosen


def _plan_location(scenario: Scenario) -> list[TemplateLocation]:
    """Template pointers without reading the workload (containers named or `<each>`)."""
    shape = shape_of(scenario.target.workload.kind)
    units = list(scenario.target.workload.services) or ([PLACEHOLDER] if shape.units else [""])
    names = scenario.target.containers or ("<each container>",)
    out = []
    for unit in units:
        def fill(p: str, u: str = unit) -> str:
            return p.replace("{unit}", escape(u))
        if shape.single_container:
            pointers: tuple[str, ...] = (fill(shape.containers),)
            names_t: tuple[str, ...] = ("main",)
        else:
            pointers = tuple(f"{fill(shape.containers)}/<index of {n}>" for n in names)
            names_t = tuple(names)
        out.append(TemplateLocation(unit, fill(shape.restore), fill(shape.template_labels),
                                    fill(shape.pod_spec), pointers, names_t, "", fill(shape.replicas)))
    return out


class PatchImpl:
    kind: ClassVar[StepKind] = StepKind.PATCH

    def __init__(self, shim: ShimProvider | None = None) -> None:
        self.shim: ShimProvider = shim or ModuleShim()

    def _compile(self) -> str:
        return self.shim.compile_command(SRC_DIR, f"{SHIM_DIR}/{LIBRARY}")

    def _compile_for_plan(self) -> str:
        try:
            return self._compile()
        except StepError:
            return "<the shim's compile command>"

    def _prebuilt_for_plan(self) -> dict[str, str] | str:
        try:
            return prebuilt_summary(self.shim.prebuilt_libraries())
        except StepError as exc:
            return f"<not deliverable: {exc}>"

    def plan(self, step: PatchStep, scenario: Scenario, state: RunState) -> list[PlannedChange]:
        run_id = "<run-id>"
        changes = []
        configmap = f"ConfigMap {scenario.target.namespace}/{configmap_name(run_id)}"
        source = step.source.canonical
        if source is ShimSource.PREBUILT:
            changes.append(PlannedChange(configmap, "create", {"binaryData": self._prebuilt_for_plan(),
                                                               "labels": run_labels(run_id)}))
        elif source is ShimSource.COMPILE:
            changes.append(PlannedChange(configmap, "create", {"data": "<shim source files>",
                                                               "labels": run_labels(run_id)}))
        changes += faultmap.planned(scenario)
        add = additions(step, scenario, run_id, state.target_node, self._compile_for_plan())
        ref = workload_ref(scenario.target)
        for loc in _plan_location(scenario):
            changes.append(PlannedChange(str(ref), "json-patch",
                                         template_patch(loc, add, loc.containers, None)))
        changes.append(PlannedChange(str(ref), "restart pods",
                                     "the template change rolls the pods" if step.restart else "no"))
        return changes

    def pod_security(self, step: PatchStep, scenario: Scenario) -> list[PodSecurityNeed]:
        """What the patched template's pods need of the namespace's Pod Security level."""
        return admission.template_needs(step, additions(step, scenario, "<run-id>", "<node>", "true"))

    def install_differences(self, step: PatchStep, scenario: Scenario, obj: KubeObject,
                            install: str) -> list[str]:
        """What `step` asks for that the install in the workload `obj` lacks (runner/steps/installed.py)."""
        add = additions(installed.as_install(step), scenario, install, "<node>",
                        self._compile_for_plan())
        return installed.differences(step, scenario, obj, install, add.env, add.volumes,
                                     lambda loc: chosen_containers(loc, scenario.target.containers))

    def preflight_check(self, step: PatchStep, scenario: Scenario, cluster: Cluster) -> list[str]:
        """Preflight's hook (read-only): on an installed workload, refuse a patch the install cannot
        serve (PreflightError naming each difference); notes for the preflight report."""
        install, obj = installed.read_install(cluster, scenario)
        if not install or obj is None:
            return []
        diffs = self.install_differences(step, scenario, obj, install)
        if diffs:
            raise PreflightError(
                f"{workload_ref(scenario.target)} has the shim installed (install {install}), and step "
                f"{step.name} asks for what the install does not have: {'; '.join(diffs)}. Change the "
                "scenario, or `chaos uninstall` it first; nothing was changed")
        return [f"{workload_ref(scenario.target)} has the shim installed (install {install}): step "
                f"{step.name} delivers nothing and restarts no pod"]

    def run(self, step: PatchStep, ctx: StepContext) -> StepOutcome:
        target = ctx.scenario.target
        ref = workload_ref(target)
        install, obj = installed.read_install(ctx.cluster, ctx.scenario)
        if install and install != ctx.run_id and obj is not None:
            return self._already_installed(step, ctx, install, obj)
        if step.source is ShimSource.IMAGE and not step.image:
            raise StepError("patch: source image needs `image`")
        if step.source is ShimSource.HOST_PATH and not step.host_path:
            raise StepError("patch: source hostPath needs `host_path`")
        source = step.source.canonical
        libraries = self._checked_prebuilt() if source is ShimSource.PREBUILT else {}
        node = ctx.state.target_node
        if step.pin is not PinMode.NONE and not node:
            raise StepError("patch: a pin needs the target node (resolved at preflight)")
        armed = armed_at_start(step, ctx.scenario.fault)
        before = pods_before_arming(ctx) if armed else live_target_pods(ctx)
        evidence = [Evidence("placement", f"{len(before)} target pod(s) before the patch",
                             {"pods": pod_summaries(before)})]
        changes: list[str] = []
        compile_cmd = ""
        if source is ShimSource.PREBUILT:
            changes.append(self._create_configmap(ctx, binary=libraries))
            evidence.append(Evidence("note", "prebuilt shim delivered as ConfigMap binaryData",
                                     {"libraries": prebuilt_summary(libraries),
                                      "preload": PLATFORM_LIBRARY}))
        elif source is ShimSource.COMPILE:
            compile_cmd = self._compile()
            changes.append(self._create_configmap(ctx, text=self.shim.source_files()))
        changes += faultmap.ensure(ctx)  # toggle-via configmap: the nodes' fault state
        add = additions(step, ctx.scenario, ctx.run_id, node, compile_cmd)
        patches, changed = [], False
        obj = ctx.cluster.get(ref)
        for unit_loc in templates(target.workload.kind, obj, target.workload.services):
            patch, did = self._patch_template(ctx, ref, unit_loc.unit, add)
            patches.append(patch)
            changed = changed or did
        changes.append(f"patched {ref} ({len(patches)} template(s))")
        emit(ctx, ref, "ChaosShimInjected",
             f"CUDA fault shim added to the pod template(s) (XID {ctx.scenario.fault.xid}, "
             f"{'armed' if armed_at_start(step, ctx.scenario.fault) else 'passthrough'})")
        ctx.timeline("shim-patched", f"{ref}: {len(patches)} template(s)")
        if armed_at_start(step, ctx.scenario.fault):
            ctx.state.armed_nodes.setdefault(node or "*", ctx.clock.time())
            ctx.timeline("fault-armed", "armed from process start (immediate)", node=node)
        if step.restart and not changed:
            changes += self._delete_pods(ctx, before)
        after = live_target_pods(ctx)
        ctx.progress(f"patched {ref}", pods=pod_summaries(after))
        evidence.append(Evidence("object", f"JSON patch applied to {ref}", {"patches": patches}))
        evidence.append(Evidence("placement", f"{len(after)} target pod(s) right after the patch",
                                 {"pods": pod_summaries(after),
                                  "desired": desired_replicas(target.workload.kind, ctx.cluster.get(ref),
                                                              target.workload.services)}))
        return StepOutcome(StepStatus.PASSED, f"shim delivered to {ref}", tuple(evidence),
                           tuple(changes))

    def _already_installed(self, step: PatchStep, ctx: StepContext, install: str,
                           obj: KubeObject) -> StepOutcome:
        """The workload carries the shim (`chaos install`): deliver nothing, restart nothing, pin
        nothing; the toggle writes the install's file or fault map (`state.install_id`)."""
        ref = workload_ref(ctx.scenario.target)
        diffs = self.install_differences(step, ctx.scenario, obj, install)
        if diffs:  # preflight refuses this; the template changed since
            raise StepError(f"{ref} has the shim installed (install {install}) without what step "
                            f"{step.name} asks for: {'; '.join(diffs)}")
        ctx.state.install_id = install
        pods = live_target_pods(ctx)
        ctx.timeline("shim-installed", f"{ref}: already installed (install {install})")
        skipped = " (pin skipped)" if step.pin is not PinMode.NONE else ""
        return StepOutcome(StepStatus.PASSED, f"already installed (install {install}){skipped}",
                           (Evidence("placement", f"{len(pods)} target pod(s); none restarted",
                                     {"pods": pod_summaries(pods), "install": install,
                                      "generation": obj.get("metadata", {}).get("generation")}),), ())

    def _checked_prebuilt(self) -> dict[str, bytes]:
        """The shipped libraries, refused before any change when one ConfigMap cannot hold them."""
        libraries = self.shim.prebuilt_libraries()
        total = sum(len(data) for data in libraries.values())
        if total > MAX_CONFIGMAP_BYTES:
            raise StepError(f"patch: the prebuilt shim libraries are {total} bytes, more than the "
                            f"{MAX_CONFIGMAP_BYTES} a ConfigMap can hold; use source compile, image or "
                            "hostPath")
        missing = sorted(set(shimdist.PLATFORMS) - set(libraries))
        if missing:
            raise StepError(f"patch: no prebuilt shim for {', '.join(missing)}")
        return libraries

    def _create_configmap(self, ctx: StepContext, *, text: Mapping[str, str] | None = None,
                          binary: Mapping[str, bytes] | None = None) -> str:
        """The run's shim ConfigMap: sources as `data` (compile) or libraries as `binaryData`."""
        namespace = ctx.scenario.target.namespace
        name = configmap_name(ctx.run_id)
        ref = ObjectRef("v1", "ConfigMap", namespace, name)
        content: dict[str, Any] = {}
        if text is not None:
            content["data"] = dict(text)
        if binary is not None:
            content["binaryData"] = {k: base64.b64encode(v).decode("ascii") for k, v in binary.items()}
        seq = ctx.record_undo(DeleteObject(ref))
        try:
            made = ctx.cluster.create({"apiVersion": "v1", "kind": "ConfigMap",
                                       "metadata": {"name": name, "namespace": namespace,
                                                    "labels": run_labels(ctx.run_id)},
                                       **content})
        except Conflict:
            made = ctx.cluster.merge_patch(ref, content)  # ours from an earlier try
        ctx.record_applied(seq, DeleteObject(ref, str(made.get("metadata", {}).get("uid", ""))))
        if binary is not None:
            return (f"created {ref} ({', '.join(binary)} libraries, "
                    f"{sum(len(v) for v in binary.values())} bytes)")
        return f"created {ref} ({len(text or {})} file(s))"

    def _patch_template(self, ctx: StepContext, ref: ObjectRef, unit: str,
                        add: Additions) -> tuple[JsonPatch, bool]:
        target = ctx.scenario.target
        seq: int | None = None
        for _ in range(MAX_CONFLICT_RETRIES):
            obj = ctx.cluster.get(ref)
            loc = next(t for t in templates(target.workload.kind, obj, [unit] if unit else [])
                       if t.unit == unit)
            patch = template_patch(loc, add, chosen_containers(loc, target.containers), obj)
            # the undo names exactly the paths this patch changes, with their values as just read
            # (journaled before each try: a retry's read is the "before" of the change that lands)
            undo = RevertPaths(ref, touched_paths(patch, obj))
            if seq is None:
                seq = ctx.record_undo(undo)
            else:
                ctx.record_applied(seq, undo)
            try:
                new = ctx.cluster.json_patch(ref, patch)
            except Conflict:
                continue  # someone else wrote it: re-read and build the patch again
            ctx.record_applied(seq, undo.applied(new))  # ours, as the API server stored it
            return patch, pointer_get(new, loc.restore) != pointer_get(obj, loc.restore)
        raise StepError(f"could not patch {ref}: it kept changing ({MAX_CONFLICT_RETRIES} conflicts)")

    def _delete_pods(self, ctx: StepContext, pods: list[KubeObject]) -> list[str]:
        out = []
        for pod in pods:
            view = pod_view(pod)
            try:
                ctx.cluster.delete(ObjectRef("v1", "Pod", view.namespace, view.name))
            except NotFound:
                continue
            ctx.timeline("pod-deleted", "restart to load the shim", node=view.node, pod=view.name)
            out.append(f"deleted pod {view.name} (template unchanged; restart to load the shim)")
        return out
