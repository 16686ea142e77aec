"""Container logs of the embedded cluster, as files the kubelet writes and `pods/log` serves.

Layout: `<root>/logs/<namespace>/<pod>/<container>/<n>.log`, n being the container's restart number
(0, 1, ...); the highest n is the current run and `previous` reads n-1. The kubelet (part 2) and tests
write these files; this module only locates and reads them, and follows a growing file. Errors
carry the messages of the real server (400 BadRequest). It must not know about HTTP or the store.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

from runner.errors import ClusterError

FOLLOW_POLL_S = 0.05
CHUNK = 64 * 1024


def _bad(message: str) -> ClusterError:
    return ClusterError(message, status=400, reason="BadRequest")


def _tail(data: bytes, lines: int) -> bytes:
    if lines <= 0:
        return b""
    parts = data.splitlines(keepends=True)
    return b"".join(parts[-lines:])


class PodLogs:
    """Locate, read and follow container log files under `root`."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def _dir(self, namespace: str, pod: str, container: str) -> Path:
        return self.root / "logs" / namespace / pod / container

    def path(self, namespace: str, pod: str, container: str, restart: int) -> Path:
        """The file for one run of a container (parent directories created)."""
        d = self._dir(namespace, pod, container)
        d.mkdir(parents=True, exist_ok=True)
        return d / f"{restart}.log"

    def restarts(self, namespace: str, pod: str, container: str) -> list[int]:
        d = self._dir(namespace, pod, container)
        if not d.is_dir():
            return []
        return sorted(int(p.stem) for p in d.glob("*.log") if p.stem.isdigit())

    def containers(self, namespace: str, pod: str) -> list[str]:
        d = self.root / "logs" / namespace / pod
        return sorted(p.name for p in d.iterdir() if p.is_dir()) if d.is_dir() else []

    def resolve(self, namespace: str, pod: str, container: str | None = None,
                containers: list[str] | None = None) -> str:
        """The container to read: the named one, or the pod's only one (400 otherwise)."""
        names = containers if containers is not None else self.containers(namespace, pod)
        if container:
            if containers is not None and container not in names:
                raise _bad(f"container {container} is not valid for pod {pod}")
            return container
        if len(names) == 1:
            return names[0]
        if not names:
            raise _bad(f'container "" in pod "{pod}" is waiting to start: ContainerCreating')
        raise _bad(f"a container name must be specified for pod {pod}, choose one of: [{' '.join(names)}]")

    def file(self, namespace: str, pod: str, container: str | None = None, previous: bool = False,
             containers: list[str] | None = None) -> Path:
        name = self.resolve(namespace, pod, container, containers)
        runs = self.restarts(namespace, pod, name)
        if previous:
            if len(runs) < 2:
                raise _bad(f'previous terminated container "{name}" in pod "{pod}" not found')
            return self._dir(namespace, pod, name) / f"{runs[-2]}.log"
        if not runs:
            raise _bad(f'container "{name}" in pod "{pod}" is waiting to start: ContainerCreating')
        return self._dir(namespace, pod, name) / f"{runs[-1]}.log"

    def read(self, namespace: str, pod: str, container: str | None = None, previous: bool = False,
             tail_lines: int | None = None, containers: list[str] | None = None) -> bytes:
        data = self.file(namespace, pod, container, previous, containers).read_bytes()
        return _tail(data, tail_lines) if tail_lines is not None else data

    def follow(self, namespace: str, pod: str, container: str | None = None, previous: bool = False,
               tail_lines: int | None = None, containers: list[str] | None = None,
               stop: Callable[[], bool] = lambda: False,
               poll_s: float = FOLLOW_POLL_S) -> Iterator[bytes]:
        """Yield what is in the file, then what is appended, until `stop()` says so (pod deleted,
        client gone) or the container restarts (a newer run file appears), as `kubectl logs -f`
        ends when the container it follows ends."""
        path = self.file(namespace, pod, container, previous, containers)
        name = path.parent.name
        run = int(path.stem)
        with path.open("rb") as fh:
            data = fh.read()
            first = _tail(data, tail_lines) if tail_lines is not None else data
            if first:
                yield first
            while True:
                chunk = fh.read(CHUNK)
                if chunk:
                    yield chunk
                    continue
                if previous or stop():
                    return
                if any(r > run for r in self.restarts(namespace, pod, name)):
                    rest = fh.read()
                    if rest:
                        yield rest
                    return
                time.sleep(poll_s)  # files give no wake-up; a short poll keeps -f responsive
