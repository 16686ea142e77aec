"""Protobuf request bodies, as client-go sends them for built-in kinds: the decoder's table against the
descriptors of the kubectl on PATH, and kubectl's typed commands against `chaos sim up`, each result
read back with the official client."""

from __future__ import annotations

import base64
import json
import re
import shutil
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import urllib3
from kubernetes import client, config

from runner.sim import protowire
from runner.sim.cluster import SimCluster
from tests.integration.sim.conftest import wait_for
from tests.integration.sim.test_sim_kubectl import SimProcess, start_sim, stop_sim

KUBECTL = shutil.which("kubectl")
needs_kubectl = pytest.mark.skipif(KUBECTL is None, reason="kubectl is not installed")
PACKAGES = {"k8s.io.api.core.v1": "core", "k8s.io.api.apps.v1": "apps", "k8s.io.api.coordination.v1": "coord",
            "k8s.io.api.discovery.v1": "disc", "k8s.io.api.policy.v1": "policy",
            "k8s.io.api.autoscaling.v1": "autoscaling", "k8s.io.api.events.v1": "events",
            "k8s.io.apimachinery.pkg.apis.meta.v1": "meta", "k8s.io.apimachinery.pkg.runtime": "runtime",
            "k8s.io.apimachinery.pkg.util.intstr": "intstr",
            "k8s.io.apimachinery.pkg.api.resource": "resource"}
SCALARS = {3: "i64", 4: "u64", 5: "i32", 8: "b", 9: "s", 12: "by", 13: "u32"}


def _text(value: int | bytes) -> str:
    assert isinstance(value, bytes)
    return value.decode()


def kubectl_descriptors() -> dict[str, dict[int, tuple[str, str]]]:
    """message -> number -> (name, type as the table writes it), from the gzipped FileDescriptorProtos
    that kubectl (client-go's generated code) carries."""
    assert KUBECTL is not None
    data = Path(KUBECTL).read_bytes()
    messages: dict[str, list[tuple[int, str, int, int, str]]] = {}
    maps: dict[str, tuple[int, str]] = {}
    for m in re.finditer(b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff", data):
        try:
            raw = zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(data[m.start():m.start() + 4_000_000])
            top = protowire.fields(raw)
        except (zlib.error, ValueError):
            continue
        values = dict(top)
        if (not _text(values.get(1, b"")).endswith("generated.proto")
                or _text(values.get(2, b"")) not in PACKAGES):
            continue

        def walk(prefix: str, desc: bytes) -> None:
            parts = protowire.fields(desc)
            name = f"{prefix}.{_text(dict(parts)[1])}"
            is_map = any(n == 7 and any(o == 7 and v for o, v in protowire.fields(x))  # map_entry
                         for n, x in parts if isinstance(x, bytes))
            fields = []
            for n, v in parts:
                if n == 2 and isinstance(v, bytes):
                    f = dict(protowire.fields(v))
                    fields.append((int(f[3]), _text(f[1]), int(f.get(4, 1)), int(f[5]),
                                   _text(f.get(6, b""))))
                elif n == 3 and isinstance(v, bytes):
                    walk(name, v)
            if is_map:
                value = next(f for f in fields if f[0] == 2)
                maps[name] = (value[3], value[4])
            messages[name] = fields

        for n, v in top:
            if n == 4 and isinstance(v, bytes):
                walk("." + _text(values[2]), v)
    seen = set(messages)

    def short(full: str) -> str:
        pkg, _, msg = full[1:].rpartition(".")
        return f"{PACKAGES[pkg]}.{msg}"

    out: dict[str, dict[int, tuple[str, str]]] = {}
    for full, fields in messages.items():
        if full in maps or full[1:].rpartition(".")[0] not in PACKAGES:
            continue
        table = {}
        for number, name, label, typ, type_name in fields:
            if typ == 11 and type_name in maps:
                vtype, vname = maps[type_name]
                t = "{}" + (short(vname) if vtype == 11 else SCALARS[vtype])
            else:
                t = short(type_name) if typ == 11 else SCALARS[typ]
                if label == 3:
                    t = "[]" + t
            table[number] = (name, t)
        out[short(full)] = table
    assert seen
    return out


@needs_kubectl
def test_the_table_matches_the_descriptors_kubectl_carries() -> None:
    real = kubectl_descriptors()
    ours = protowire.schema()
    assert len(ours) > 200
    for message, fields in ours.items():
        assert message in real, message
        for number, f in fields.items():
            want = real[message].get(number)
            typ = ("{}" if f.map else "[]" if f.repeated else "") + f.type
            assert want == (f.name, typ), f"{message} field {number}: ours {(f.name, typ)}, kubectl's {want}"
        # every field the descriptor has is in the table: a kubectl that knows more fields than the
        # table would have them dropped (as unknown fields are); regenerate with `python -m` this module
        missing = set(real[message]) - set(fields)
        assert not missing, f"{message}: fields {sorted(missing)} are not in the table"


def encode(message: str, obj: dict[str, Any]) -> bytes:
    """A tiny protobuf encoder over the same table, for bodies no kubectl command writes."""
    table = {f.name: (n, f) for n, f in protowire.schema()[message].items()}
    out = b""

    def varint(v: int) -> bytes:
        v &= (1 << 64) - 1
        b = b""
        while True:
            byte, v = v & 0x7F, v >> 7
            b += bytes([byte | (0x80 if v else 0)])
            if not v:
                return b

    def field(n: int, wire: int, payload: bytes) -> bytes:
        return varint(n << 3 | wire) + (varint(len(payload)) + payload if wire == 2 else payload)

    for key, value in obj.items():
        number, f = table[key]
        values = value if f.repeated else [value]
        for v in values:
            if f.type in protowire.schema():
                out += field(number, 2, encode(f.type, v))
            elif f.type == "s":
                out += field(number, 2, v.encode())
            elif f.type in ("b", "i32", "i64"):
                out += field(number, 0, varint(int(v)))
    return out


def envelope(api_version: str, kind: str, raw: bytes) -> bytes:
    type_meta = (b"\n" + bytes([len(api_version)]) + api_version.encode()
                 + b"\x12" + bytes([len(kind)]) + kind.encode())
    return protowire.MAGIC + b"\n" + bytes([len(type_meta)]) + type_meta + b"\x12" + _len(raw) + raw


def _len(raw: bytes) -> bytes:
    v, out = len(raw), b""
    while True:
        byte, v = v & 0x7F, v >> 7
        out += bytes([byte | (0x80 if v else 0)])
        if not v:
            return out


def test_pointer_zeros_survive_and_pod_security_sees_them(sim: SimCluster, core: client.CoreV1Api) -> None:
    core.create_namespace({"metadata": {"name": "locked", "labels": {
        "pod-security.kubernetes.io/enforce": "restricted"}}})
    sc = {"allowPrivilegeEscalation": False, "runAsNonRoot": True, "capabilities": {"drop": ["ALL"]},
          "seccompProfile": {"type": "RuntimeDefault"}}
    pod = {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "busybox",
                                                               "securityContext": sc, "stdin": False}],
                                               "terminationGracePeriodSeconds": 0, "hostNetwork": False}}
    body = envelope("v1", "Pod", encode("core.Pod", pod))
    r = urllib3.PoolManager().request("POST", f"{sim.url}/api/v1/namespaces/locked/pods", body=body,
                                      headers={"Content-Type": protowire.CONTENT_TYPE})
    assert r.status == 201, r.data
    got = json.loads(r.data)
    container = got["spec"]["containers"][0]
    assert container["securityContext"]["allowPrivilegeEscalation"] is False  # a pointer: kept
    assert "stdin" not in container  # not a pointer: a zero is what JSON would leave out
    assert got["spec"]["terminationGracePeriodSeconds"] == 0
    assert "hostNetwork" not in got["spec"]
    # protobuf for a custom resource is refused as a real server refuses it
    r = urllib3.PoolManager().request("POST", f"{sim.url}/apis/nvidia.com/v1alpha1/namespaces/default/x",
                                      body=body, headers={"Content-Type": protowire.CONTENT_TYPE})
    assert r.status == 404
    r = urllib3.PoolManager().request("POST", f"{sim.url}/api/v1/namespaces/locked/pods", body=body[:-3],
                                      headers={"Content-Type": protowire.CONTENT_TYPE})
    assert r.status == 400


@pytest.fixture
def sim_up(tmp_path: Path) -> Iterator[SimProcess]:
    if KUBECTL is None:
        pytest.skip("kubectl is not installed")
    sim = start_sim(tmp_path)
    try:
        yield sim
    finally:
        stop_sim(sim)


@pytest.fixture
def official(sim_up: SimProcess) -> Iterator[client.ApiClient]:
    api = config.new_client_from_config(str(sim_up.kubeconfig))
    yield api
    api.close()


def test_kubectl_typed_creates(sim_up: SimProcess, official: client.ApiClient) -> None:
    core, apps = client.CoreV1Api(official), client.AppsV1Api(official)
    k = sim_up.kubectl
    assert k("get", "namespace", "chaos-system").stdout.split()[-3:-1] == ["chaos-system", "Active"]
    assert k("create", "namespace", "team").stdout.strip() == "namespace/team created"
    assert core.read_namespace("team").status.phase == "Active"
    assert "configmap/cfg created" in k("create", "configmap", "cfg", "-n", "team", "--from-literal=a=b",
                                        "--from-literal=mode=fast").stdout
    assert core.read_namespaced_config_map("cfg", "team").data == {"a": "b", "mode": "fast"}
    assert "secret/creds created" in k("create", "secret", "generic", "creds", "-n", "team",
                                       "--from-literal=token=s3cret").stdout
    secret = core.read_namespaced_secret("creds", "team")
    assert (secret.type, base64.b64decode(secret.data["token"])) == ("Opaque", b"s3cret")
    assert "serviceaccount/runner created" in k("create", "serviceaccount", "runner", "-n", "team").stdout
    assert core.read_namespaced_service_account("runner", "team").metadata.name == "runner"
    assert "deployment.apps/web created" in k("create", "deployment", "web", "-n", "team", "--image=vllm:1",
                                              "--replicas=3", "--port=8000").stdout
    dep = apps.read_namespaced_deployment("web", "team")
    assert dep.spec.replicas == 3
    assert dep.spec.selector.match_labels == {"app": "web"}
    c = dep.spec.template.spec.containers[0]
    assert (c.name, c.image, c.ports[0].container_port) == ("vllm", "vllm:1", 8000)
    k("create", "deployment", "idle", "-n", "team", "--image=vllm:1", "--replicas=0")
    assert apps.read_namespaced_deployment("idle", "team").spec.replicas == 0  # a pointer zero
    assert "service/api created" in k("create", "service", "clusterip", "api", "-n", "team",
                                      "--tcp=80:8000").stdout
    api_svc = core.read_namespaced_service("api", "team")
    assert [(p.port, p.target_port, p.protocol) for p in api_svc.spec.ports] == [(80, 8000, "TCP")]
    assert api_svc.spec.cluster_ip.startswith("10.96.")
    assert "service/web exposed" in k("expose", "deployment", "web", "-n", "team", "--port=80",
                                      "--target-port=8000").stdout
    exposed = core.read_namespaced_service("web", "team")
    assert exposed.spec.selector == {"app": "web"}
    assert [(p.port, p.target_port) for p in exposed.spec.ports] == [(80, 8000)]
    scaled = k("scale", "deployment", "web", "-n", "team", "--replicas=5").stdout
    assert "deployment.apps/web scaled" in scaled
    assert apps.read_namespaced_deployment("web", "team").spec.replicas == 5
    k("scale", "deployment", "web", "-n", "team", "--replicas=0")
    assert apps.read_namespaced_deployment("web", "team").spec.replicas == 0
    restarted = k("rollout", "restart", "deployment", "web", "-n", "team").stdout
    assert "deployment.apps/web restarted" in restarted
    annotations = apps.read_namespaced_deployment("web", "team").spec.template.metadata.annotations
    assert "kubectl.kubernetes.io/restartedAt" in annotations
    pdb = k("create", "poddisruptionbudget", "guard", "-n", "team", "--selector=app=web", "--min-available=1")
    assert "poddisruptionbudget.policy/guard created" in pdb.stdout
    guard = client.PolicyV1Api(official).read_namespaced_pod_disruption_budget("guard", "team")
    assert guard.spec.min_available == 1
    assert k("delete", "namespace", "team").stdout.strip() == 'namespace "team" deleted'
    with pytest.raises(client.ApiException):
        core.read_namespace("team")


def test_kubectl_cordon_and_drain_through_evictions(sim_up: SimProcess, official: client.ApiClient) -> None:
    core = client.CoreV1Api(official)
    k = sim_up.kubectl
    for name, node, labels in (("loose", "gpu-node-2", {"app": "loose"}),
                               ("guarded", "gpu-node-3", {"app": "g"})):
        core.create_namespaced_pod("default", {"metadata": {"name": name, "labels": labels}, "spec": {
            "nodeName": node, "containers": [{"name": "main", "image": "vllm"}]}})
        core.patch_namespaced_pod_status(name, "default", {"status": {
            "phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}})
    assert k("cordon", "gpu-node-1").stdout.strip() == "node/gpu-node-1 cordoned"
    assert core.read_node("gpu-node-1").spec.unschedulable is True
    assert k("uncordon", "gpu-node-1").stdout.strip() == "node/gpu-node-1 uncordoned"
    assert not core.read_node("gpu-node-1").spec.unschedulable
    drained = k("drain", "gpu-node-2", "--force", "--ignore-daemonsets")
    assert "evicting pod default/loose" in drained.stderr + drained.stdout
    assert "pod/loose evicted" in drained.stdout
    assert [p.metadata.name for p in core.list_namespaced_pod("default").items] == ["guarded"]
    k("create", "poddisruptionbudget", "keep-one", "--selector=app=g", "--min-available=1")
    policy = client.PolicyV1Api(official)
    wait_for(lambda: policy.read_namespaced_pod_disruption_budget(
        "keep-one", "default").status.current_healthy == 1, what="the budget's status")
    table = k("get", "pdb").stdout.splitlines()
    assert table[0].split() == ["NAME", "MIN", "AVAILABLE", "MAX", "UNAVAILABLE", "ALLOWED", "DISRUPTIONS",
                                "AGE"]
    assert table[1].split()[:4] == ["keep-one", "1", "N/A", "0"]
    blocked = k("drain", "gpu-node-3", "--force", "--timeout=2s", check=False)
    assert blocked.returncode != 0
    assert "Cannot evict pod as it would violate the pod's disruption budget." in blocked.stderr
    assert [p.metadata.name for p in core.list_namespaced_pod("default").items] == ["guarded"]


def regenerate() -> str:
    """The table of runner/sim/protoschema.py rebuilt from the kubectl on PATH, for the messages reachable
    from the kinds protowire.KINDS serves; the `?` (pointer) and `^` (inline) marks are carried over by
    field name, so only a field new to this kubectl needs a look (is it a pointer in Go's types.go?)."""
    import textwrap

    real = kubectl_descriptors()
    ours = protowire.schema()
    leaves = {"meta.Time", "meta.MicroTime", "meta.Duration", "meta.FieldsV1", "runtime.RawExtension",
              "intstr.IntOrString", "resource.Quantity"}
    order: list[str] = []

    def visit(name: str) -> None:
        if name in order or name in leaves:
            return
        order.append(name)
        for _, typ in sorted(real[name].items()):
            inner = typ[1][2:] if typ[1].startswith(("[]", "{}")) else typ[1]
            if inner in real:
                visit(inner)

    for root in ["runtime.Unknown", *protowire.KINDS.values()]:
        visit(root)
    lines = []
    for name in order:
        marks = {f.name: "?" if f.pointer else "^" if f.inline else "" for f in ours.get(name, {}).values()}
        body = "; ".join(f"{n} {fname} {typ}{marks.get(fname, '')}"
                         for n, (fname, typ) in sorted(real[name].items()))
        lines += textwrap.wrap(f"{name}: {body}", width=104, subsequent_indent="    ", break_long_words=False,
                               break_on_hyphens=False)
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(regenerate(), end="")
