"""Pod volumes as local directories, and the mapping of container paths onto them.

emptyDir -> `<root>/pods/<ns>_<pod>_<uid>/volumes/<name>/` (removed with the pod); hostPath ->
`<root>/nodes/<node>/<path>` (the node's disk: it outlives the pod); anything else we do not model
is an empty directory.

configMap and secret volumes are written as the kubelet's AtomicWriter writes them, so programs
that watch them (inotify on `..data`, re-reading a file) behave as on a real node:
```
<volume>/..2025_01_31_12_00_00.ab12cd/<path>   the files (mode `items[].mode` or `defaultMode`, 0644)
<volume>/..data -> ..2025_01_31_12_00_00.ab12cd   swapped atomically (rename) on every update
<volume>/<top-level path> -> ..data/<top-level path>
```
Keys come from `data` (text) and, for ConfigMaps, `binaryData` (bytes, byte for byte); `items`
selects keys and paths (a missing key is an error unless `optional`); a missing object is an
error unless `optional`, which mounts an empty volume. `refresh` re-projects them: the kubelet
calls it on its periodic pod sync, reading objects through `ObjectCache` (the kubelet's TTL cache),
so an update shows up after the sync period plus the cache TTL, as on a real node.
A `subPath` mount of such a volume is a snapshot taken when the container starts (hard links
under `<pod>/volume-subpaths/`), as a bind mount of the file is on a real node: it never sees
updates; a restarted container gets a new one.

Processes share the host's filesystem, so a container sees its mounts through path mapping:
wherever a volumeMount's mountPath appears as a path prefix in an env value, the command or the
args, it is replaced by the volume's directory (plus subPath), longest mount path first
(`/data/models` wins over `/data`); a prefix only matches at a path boundary (`/shim` does not
match inside `/shimmer` or `/opt/shim`). The working directory is mapped the same way.
It must not start processes or write to the store.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import os
import re
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from runner.errors import ChaosError, ClusterError, NotFound
from runner.sim.resources import CONFIGMAPS, GVR
from runner.sim.store import Obj, Store

SECRETS = GVR("", "v1", "secrets")
DATA_DIR = "..data"
DEFAULT_MODE = 0o644
SUBPATHS = "volume-subpaths"


class VolumeError(ChaosError):
    """A volume cannot be set up yet (a missing ConfigMap); the kubelet retries."""


@dataclass(frozen=True)
class PathMap:
    """Mount path -> local directory, applied to strings."""

    mounts: tuple[tuple[str, str], ...]  # longest mount path first

    @classmethod
    def build(cls, container: Obj, volume_dirs: dict[str, Path],
              overrides: dict[str, Path] | None = None) -> PathMap:
        """`overrides`: mountPath -> local path for mounts resolved elsewhere (subPath snapshots)."""
        pairs: dict[str, str] = {}
        for vm in container.get("volumeMounts") or []:
            mount = str(vm.get("mountPath", "")).rstrip("/")
            base = volume_dirs.get(str(vm.get("name", "")))
            if not mount or base is None:
                continue
            sub = str(vm.get("subPath") or "").strip("/")
            pairs[mount] = str(base / sub) if sub else str(base)
        for mount, local in (overrides or {}).items():
            pairs[mount.rstrip("/")] = str(local)
        return cls(tuple(sorted(pairs.items(), key=lambda kv: -len(kv[0]))))

    def apply(self, text: str) -> str:
        if not self.mounts:
            return text
        table = dict(self.mounts)
        pattern = re.compile(r"(?<![\w.\-/])(" + "|".join(re.escape(m) for m, _ in self.mounts)
                             + r")(?=/|$|[^\w.\-])")
        return pattern.sub(lambda m: table[m.group(1)], text)


# --- reading the objects -------------------------------------------------------------------------


class ObjectCache:
    """The kubelet's TTL cache of ConfigMaps and Secrets (its cache-based object manager): an
    object read less than `ttl_s` ago is served from here, so an update reaches a pod no sooner
    than the entry expires. `invalidate` drops what a pod uses, as registering a pod does
    (a new pod always mounts fresh data). Thread-safe."""

    def __init__(self, store: Store, ttl_s: float = 0.0) -> None:
        self.store = store
        self.ttl_s = ttl_s
        self._lock = threading.Lock()
        self._entries: dict[tuple[GVR, str, str], tuple[float, Obj | None]] = {}

    def get(self, gvr: GVR, namespace: str, name: str) -> Obj:
        key = (gvr, namespace, name)
        now = time.monotonic()
        with self._lock:
            hit = self._entries.get(key)
        if hit is not None and now - hit[0] < self.ttl_s:
            if hit[1] is None:
                raise NotFound(f'{gvr.plural} "{name}" not found')
            return hit[1]
        try:
            obj: Obj | None = self.store.get(gvr, namespace, name)
        except NotFound:
            obj = None
        except ClusterError as exc:  # a kind this cluster does not serve reads as absent
            raise NotFound(f'{gvr.plural} "{name}" not found') from exc
        with self._lock:
            self._entries[key] = (now, obj)
        if obj is None:
            raise NotFound(f'{gvr.plural} "{name}" not found')
        return obj

    def invalidate(self, gvr: GVR, namespace: str, name: str) -> None:
        with self._lock:
            self._entries.pop((gvr, namespace, name), None)


# --- the payload of a configMap/secret volume --------------------------------------------------


@dataclass(frozen=True)
class FileProjection:
    data: bytes
    mode: int


def _decode(value: Any, what: str) -> bytes:
    try:
        return base64.b64decode(str(value), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise VolumeError(f"{what}: not valid base64") from exc


def _clean_path(path: str, volume: str) -> str:
    p = PurePosixPath(path)
    if not path or p.is_absolute() or any(part == ".." for part in p.parts) or path.startswith(".."):
        raise VolumeError(f'MountVolume.SetUp failed for volume "{volume}" : invalid path "{path}"')
    return str(p)


def _source(vol: Obj) -> tuple[GVR, Obj, str, str] | None:
    """(kind, source spec, object name, kind word) for a configMap or secret volume."""
    if "configMap" in vol:
        src = vol.get("configMap") or {}
        return CONFIGMAPS, src, str(src.get("name") or ""), "configmap"
    if "secret" in vol:
        src = vol.get("secret") or {}
        return SECRETS, src, str(src.get("secretName") or ""), "secret"
    return None


def projected(vol: Obj) -> bool:
    """Written by the atomic writer (and so updated in place): configMap and secret volumes."""
    return _source(vol) is not None


def payload(cache: ObjectCache, namespace: str, vol: Obj) -> dict[str, FileProjection]:
    """Path -> content and mode for a configMap or secret volume; VolumeError when it cannot be built."""
    found = _source(vol)
    assert found is not None
    gvr, src, obj_name, word = found
    name = str(vol.get("name", ""))
    optional = bool(src.get("optional"))
    try:
        obj = cache.get(gvr, namespace, obj_name)
    except NotFound as exc:
        if optional:
            return {}
        raise VolumeError(f'MountVolume.SetUp failed for volume "{name}" : '
                          f'{word} "{obj_name}" not found') from exc
    data: dict[str, bytes] = {}
    if gvr == CONFIGMAPS:
        data.update({k: str(v).encode() for k, v in (obj.get("data") or {}).items()})
        data.update({k: _decode(v, f"binaryData {k}") for k, v in (obj.get("binaryData") or {}).items()})
    else:
        data.update({k: _decode(v, f"data {k}") for k, v in (obj.get("data") or {}).items()})
        data.update({k: str(v).encode() for k, v in (obj.get("stringData") or {}).items()})
    default_mode = src.get("defaultMode")
    mode = int(default_mode) & 0o777 if isinstance(default_mode, int) else DEFAULT_MODE
    items = src.get("items") or []
    if not items:
        return {_clean_path(k, name): FileProjection(v, mode) for k, v in data.items()}
    out: dict[str, FileProjection] = {}
    for item in items:
        key = str((item or {}).get("key", ""))
        if key not in data:
            if optional:
                continue
            raise VolumeError(f'MountVolume.SetUp failed for volume "{name}" : {word} references '
                              f"non-existent config key: {key}")
        item_mode = item.get("mode")
        out[_clean_path(str(item.get("path") or key), name)] = FileProjection(
            data[key], int(item_mode) & 0o777 if isinstance(item_mode, int) else mode)
    return out


# --- the atomic writer ---------------------------------------------------------------------------


def _current(target: Path) -> dict[str, FileProjection] | None:
    """What `..data` holds now (None when the volume was never written)."""
    data = target / DATA_DIR
    if not data.is_symlink():
        return None
    root = target / os.readlink(data)
    out: dict[str, FileProjection] = {}
    for path in root.rglob("*"):
        if path.is_file():
            out[str(path.relative_to(root))] = FileProjection(path.read_bytes(), path.stat().st_mode & 0o777)
    return out


def write_atomic(target: Path, files: dict[str, FileProjection]) -> bool:
    """Project `files` into `target` as the kubelet's AtomicWriter does; False when nothing changed.
    Readers see the old set or the new one, never a mix: the new files go into a fresh timestamped
    directory, `..data` is switched to it by one rename, then the top-level links are fixed up and
    the old directory removed."""
    target.mkdir(parents=True, exist_ok=True)
    old = _current(target)
    if old == files:
        return False
    stamp = time.strftime("..%Y_%m_%d_%H_%M_%S.", time.gmtime())
    fresh = Path(tempfile.mkdtemp(prefix=stamp, dir=target))
    fresh.chmod(0o755)
    for rel, proj in files.items():
        path = fresh / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(proj.data)
        path.chmod(proj.mode)
    previous = os.readlink(target / DATA_DIR) if (target / DATA_DIR).is_symlink() else None
    tmp_link = target / "..data_tmp"
    with contextlib.suppress(FileNotFoundError):
        tmp_link.unlink()
    tmp_link.symlink_to(fresh.name)
    tmp_link.rename(target / DATA_DIR)  # the atomic switch
    tops = {PurePosixPath(rel).parts[0] for rel in files}
    for top in tops:
        link = target / top
        if not link.is_symlink():
            link.symlink_to(f"{DATA_DIR}/{top}")
    for top in {PurePosixPath(rel).parts[0] for rel in old or {}} - tops:
        with contextlib.suppress(FileNotFoundError):
            (target / top).unlink()
    if previous and previous != fresh.name:
        shutil.rmtree(target / previous, ignore_errors=True)
    return True


# --- setting up and refreshing a pod's volumes --------------------------------------------------


def prepare(store: Store, pod: Obj, pod_dir: Path, node_dir: Path,
            cache: ObjectCache | None = None) -> dict[str, Path]:
    """Create every volume of `pod`; returns name -> directory. VolumeError when one must wait."""
    cache = cache or ObjectCache(store)
    namespace = str(pod["metadata"]["namespace"])
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
        elif projected(vol):
            found = _source(vol)
            assert found is not None
            cache.invalidate(found[0], namespace, found[2])  # a new pod mounts fresh data
            write_atomic(local, payload(cache, namespace, vol))
            out[name] = local
        else:  # emptyDir and kinds we do not model: a fresh directory
            local.mkdir(parents=True, exist_ok=True)
            out[name] = local
    return out


def refresh(cache: ObjectCache, pod: Obj, volume_dirs: dict[str, Path]) -> tuple[list[str], list[str]]:
    """Re-project the pod's configMap and secret volumes (the kubelet's periodic remount).
    Returns (updated volume names, errors); a volume that cannot be built keeps its content."""
    namespace = str(pod["metadata"]["namespace"])
    updated: list[str] = []
    errors: list[str] = []
    for vol in (pod.get("spec") or {}).get("volumes") or []:
        name = str(vol.get("name", ""))
        if not projected(vol) or name not in volume_dirs:
            continue
        try:
            if write_atomic(volume_dirs[name], payload(cache, namespace, vol)):
                updated.append(name)
        except (VolumeError, OSError) as exc:
            errors.append(str(exc))
    return updated, errors


def subpath_snapshots(pod: Obj, container: Obj, volume_dirs: dict[str, Path],
                      pod_dir: Path) -> dict[str, Path]:
    """mountPath -> snapshot for each subPath mount of a configMap/secret volume of `container`,
    at `<pod>/volume-subpaths/<volume>/<container>/<mount index>` as the kubelet names its bind
    mounts. Taken now, as a bind mount is made when a container starts: hard links, so the
    content never changes (the atomic writer replaces files, it never rewrites them)."""
    kinds = {str(v.get("name", "")): projected(v) for v in (pod.get("spec") or {}).get("volumes") or []}
    out: dict[str, Path] = {}
    for i, vm in enumerate(container.get("volumeMounts") or []):
        vol = str(vm.get("name", ""))
        sub = str(vm.get("subPath") or "").strip("/")
        if not sub or not kinds.get(vol) or vol not in volume_dirs:
            continue
        snap = pod_dir / SUBPATHS / vol / str(container.get("name", "")) / str(i)
        if snap.is_dir() and not snap.is_symlink():
            shutil.rmtree(snap)
        elif snap.exists() or snap.is_symlink():
            snap.unlink()
        snap.parent.mkdir(parents=True, exist_ok=True)
        src = (volume_dirs[vol] / sub).resolve()
        if src.is_dir():
            shutil.copytree(src, snap, copy_function=os.link)
        elif src.is_file():
            os.link(src, snap)
        else:
            snap.mkdir()  # as the kubelet does for a subPath that does not exist
        out[str(vm.get("mountPath", ""))] = snap
    return out
