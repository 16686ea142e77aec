"""Pod volumes as local directories, and the mapping of container paths onto them.

emptyDir -> `<root>/pods/<ns>_<pod>_<uid>/volumes/<name>/` (removed with the pod); configMap and
secret -> the same place, one file per key (or per `items` entry) written from the object's data;
hostPath -> `<root>/nodes/<node>/<path>` (the node's disk: it outlives the pod); anything else is an
empty directory. Processes share the host's filesystem, so a container sees its mounts through
path mapping: wherever a volumeMount's mountPath (plus subPath) appears as a path prefix in an env
value, the command or the args, it is replaced by the volume's directory, longest mount path first
(`/data/models` wins over `/data`); a prefix only matches at a path boundary (`/shim` does not match
inside `/shimmer` or `/opt/shim`). The working directory is mapped the same way.
It must not start processes or write to the store.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runner.errors import ChaosError, NotFound
from runner.sim.resources import CONFIGMAPS, GVR
from runner.sim.store import Obj, Store

SECRETS = GVR("", "v1", "secrets")


class VolumeError(ChaosError):
    """A volume cannot be set up yet (a missing ConfigMap); the kubelet retries."""


@dataclass(frozen=True)
class PathMap:
    """Mount path -> local directory, applied to strings."""

    mounts: tuple[tuple[str, str], ...]  # longest mount path first

    @classmethod
    def build(cls, container: Obj, volume_dirs: dict[str, Path]) -> PathMap:
        pairs: dict[str, str] = {}
        for vm in container.get("volumeMounts") or []:
            mount = str(vm.get("mountPath", "")).rstrip("/")
            base = volume_dirs.get(str(vm.get("name", "")))
            if not mount or base is None:
                continue
            sub = str(vm.get("subPath") or "").strip("/")
            pairs[mount] = str(base / sub) if sub else str(base)
        return cls(tuple(sorted(pairs.items(), key=lambda kv: -len(kv[0]))))

    def apply(self, text: str) -> str:
        if not self.mounts:
            return text
        table = dict(self.mounts)
        pattern = re.compile(r"(?<![\w.\-/])(" + "|".join(re.escape(m) for m, _ in self.mounts)
                             + r")(?=/|$|[^\w.\-])")
        return pattern.sub(lambda m: table[m.group(1)], text)


def _write_items(target: Path, data: dict[str, bytes], items: list[Any] | None) -> None:
    target.mkdir(parents=True, exist_ok=True)
    wanted = {str(i["key"]): str(i.get("path") or i["key"]) for i in items or [] if isinstance(i, dict)}
    for key, value in data.items():
        if wanted and key not in wanted:
            continue
        path = target / (wanted.get(key) or key)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(value)


def prepare(store: Store, pod: Obj, pod_dir: Path, node_dir: Path) -> dict[str, Path]:
    """Create every volume of `pod`; returns name -> directory. VolumeError when one must wait."""
    namespace = pod["metadata"]["namespace"]
    out: dict[str, Path] = {}
    for vol in (pod.get("spec") or {}).get("volumes") or []:
        name = str(vol.get("name", ""))
        local = pod_dir / "volumes" / name
        if "hostPath" in vol:
            host = vol["hostPath"] or {}
            path = node_dir / str(host.get("path", "")).lstrip("/")
            if host.get("type") in ("FileOrCreate", "File"):
                path.parent.mkdir(parents=True, exist_ok=True)
                path.touch(exist_ok=True)
            else:
                path.mkdir(parents=True, exist_ok=True)
            out[name] = path
        elif "configMap" in vol or "secret" in vol:
            is_cm = "configMap" in vol
            src = (vol.get("configMap") if is_cm else vol.get("secret")) or {}
            obj_name = str(src.get("name") if is_cm else src.get("secretName") or "")
            try:
                obj = store.get(CONFIGMAPS if is_cm else SECRETS, namespace, obj_name)
            except NotFound as exc:
                if src.get("optional"):
                    obj = {}
                else:
                    kind = "configmap" if is_cm else "secret"
                    raise VolumeError(f'MountVolume.SetUp failed for volume "{name}" : {kind} '
                                      f'"{obj_name}" not found') from exc
            data: dict[str, bytes] = {k: str(v).encode() for k, v in (obj.get("stringData") or {}).items()}
            if is_cm:
                data.update({k: str(v).encode() for k, v in (obj.get("data") or {}).items()})
                data.update({k: base64.b64decode(str(v)) for k, v in (obj.get("binaryData") or {}).items()})
            else:
                data.update({k: base64.b64decode(str(v)) for k, v in (obj.get("data") or {}).items()})
            _write_items(local, data, src.get("items"))
            out[name] = local
        else:  # emptyDir and kinds we do not model: a fresh directory
            local.mkdir(parents=True, exist_ok=True)
            out[name] = local
    return out
