"""The `probe` step: does the service keep answering? HTTP requests over `duration` at `interval`.

It passes when the share of answers with `expect_status` is at least `min_success_rate` and (when
set) the 95th-percentile latency is at most `max_p95_latency`. The request goes the way a scenario's
background probes go (runner/kernel/probing.py, one grammar for both): `service` through the API
server's service proxy with the run's credentials, or `url` directly. A `{pod}` in the URL means
"each Ready target pod in turn": its podIP, or, in the embedded cluster (pods listen on 127.0.0.1
at the host port in their `chaos.dev/sim-ports` annotation), 127.0.0.1 and the mapped port.
Latency is measured on a real monotonic timer, pacing uses the injected clock. It changes nothing.
"""

from __future__ import annotations

import json
import urllib.parse
from typing import ClassVar

from runner.errors import StepError
from runner.kernel.probing import Sample, percentile, send, target_text
from runner.kernel.step import (
    Evidence,
    PlannedChange,
    RunState,
    StepContext,
    StepOutcome,
    StepStatus,
    remaining,
)
from runner.scenario.model import ProbeStep, Scenario, StepKind
from runner.steps.common import live_target_pods
from runner.workload.views import PodView, pod_view

POD = "{pod}"
SIM_PORTS = "chaos.dev/sim-ports"
_HOST_MARK = "chaos-pod-placeholder"


def pod_url(url: str, pod: PodView) -> str:
    """`url` with `{pod}` resolved for one pod (sim port map first, then podIP)."""
    parsed = urllib.parse.urlsplit(url.replace(POD, _HOST_MARK))
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    mapping = pod.annotations.get(SIM_PORTS)
    host = pod.ip
    if mapping:
        try:
            ports = {str(k): int(v) for k, v in json.loads(mapping).items()}
        except (ValueError, AttributeError):
            ports = {}
        if str(port) in ports:
            host, port = "127.0.0.1", ports[str(port)]
    if not host:
        raise StepError(f"pod {pod.name} has no IP yet")
    netloc = parsed.netloc.replace(_HOST_MARK, host)
    if parsed.port is not None:
        netloc = netloc.rsplit(":", 1)[0] + f":{port}"
    elif port not in (80, 443) or host == "127.0.0.1":
        netloc = f"{netloc}:{port}"
    return urllib.parse.urlunsplit(parsed._replace(netloc=netloc))


def p95(values: list[float]) -> float:
    return percentile(values, 95) or 0.0


class ProbeImpl:
    kind: ClassVar[StepKind] = StepKind.PROBE

    def plan(self, step: ProbeStep, scenario: Scenario, state: RunState) -> list[PlannedChange]:
        return []

    def run(self, step: ProbeStep, ctx: StepContext) -> StepOutcome:
        if not step.url and step.service is None:
            raise StepError("probe: no url or service")
        namespace = ctx.scenario.target.namespace
        samples: list[tuple[Sample, str]] = []
        end = ctx.clock.monotonic() + min(step.duration.seconds, remaining(ctx))
        turn = 0
        while ctx.clock.monotonic() < end:
            started = ctx.clock.monotonic()
            url = step.url
            if step.service is None and POD in url:
                ready = [pod_view(p) for p in live_target_pods(ctx)]
                ready = [v for v in ready if v.ready]
                if not ready:
                    samples.append((Sample(ctx.clock.time(), False, 0, 0.0, "no Ready target pod"), url))
                    ctx.clock.sleep(max(0.0, min(step.interval.seconds, end - ctx.clock.monotonic())))
                    continue
                url = pod_url(url, ready[turn % len(ready)])
                turn += 1
            sample = send(ctx.cluster, namespace, step, ctx.clock, url)
            samples.append((sample, target_text(step, namespace, url)))
            good = sum(1 for s, _ in samples if s.ok)
            ctx.progress(f"probe {good}/{len(samples)} ok", ok=good, total=len(samples))
            wait = step.interval.seconds - (ctx.clock.monotonic() - started)
            ctx.clock.sleep(max(0.0, min(wait, end - ctx.clock.monotonic())))
        return self._verdict(step, samples)

    @staticmethod
    def _verdict(step: ProbeStep, answered: list[tuple[Sample, str]]) -> StepOutcome:
        samples = [s for s, _ in answered]
        total = len(samples)
        good = sum(1 for s in samples if s.ok)
        rate = good / total if total else 0.0
        latency = p95([s.latency_s for s in samples if s.status])
        errors = sorted({(f"HTTP {s.status}" if s.status and s.status != step.expect_status else s.error)
                         for s in samples if not s.ok})[:5]
        data = {"requests": total, "ok": good, "success_rate": round(rate, 4),
                "p95_latency_s": round(latency, 4), "errors": errors,
                "urls": sorted({url for _, url in answered})[:10]}
        gaps = [g for s in samples if s.ok for g in s.chunk_gaps_s]
        if step.stream:
            ttfb = [s.ttfb_s for s in samples if s.ok and s.ttfb_s is not None]
            data["ttfb_p95_s"] = round(p95(ttfb), 4)
            data["chunk_gap_p95_s"] = round(p95(gaps), 4)
        evidence = (Evidence("probe", f"{good}/{total} ok ({rate:.1%}), p95 {latency * 1000:.0f} ms", data),)
        failed = []
        if total == 0:
            failed.append("no request was made")
        elif rate < step.min_success_rate:
            failed.append(f"success rate {rate:.1%} < {step.min_success_rate:.1%}"
                          + (f" ({'; '.join(errors)})" if errors else ""))
        if step.max_p95_latency is not None and latency > step.max_p95_latency.seconds:
            failed.append(f"p95 latency {latency * 1000:.0f} ms > {step.max_p95_latency}")
        if failed:
            return StepOutcome(StepStatus.FAILED, "; ".join(failed), evidence)
        return StepOutcome(StepStatus.PASSED, evidence[0].summary, evidence)
