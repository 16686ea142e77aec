"""Call deadlines and the API server's clock, in the adapter, over a stub of the client's ApiClient
(no network): what the requests' timeouts are, when retries stop, what a spent deadline raises,
and what `server_time()` makes of the Date header."""

from __future__ import annotations

import email.utils
import threading
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import pytest

from runner.cluster.deadline import Deadlines, capped, until
from runner.cluster.kube import REQUEST_TIMEOUT, KubeCluster
from runner.cluster.protocol import ObjectRef
from runner.errors import CallTimeout, Unavailable

POD = ObjectRef("v1", "Pod", "ns", "p")


@dataclass
class Answer:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    data: bytes | None = b'{"kind": "Pod"}'

    def read(self) -> bytes | None:
        return self.data


class StubApi:
    """The two ApiClient methods the adapter uses; `answer(timeout)` makes each answer."""

    def __init__(self, answer: Any = None) -> None:
        self.configuration = SimpleNamespace(host="https://stub:6443")
        self.timeouts: list[tuple[float, float]] = []
        self.paths: list[str] = []
        self.answer = answer or (lambda _timeout: Answer())

    def param_serialize(self, method: str, path: str, **kwargs: Any) -> tuple[Any, ...]:
        return method, path, {}, None, None

    def call_api(self, method: str, url: str, *, header_params: Any, body: Any, post_params: Any,
                 _request_timeout: tuple[float, float]) -> Answer:
        self.timeouts.append(_request_timeout)
        self.paths.append(url)
        answer = self.answer(_request_timeout)
        if isinstance(answer, BaseException):
            raise answer
        assert isinstance(answer, Answer)
        return answer

    def close(self) -> None:
        return None


def adapter(api: StubApi) -> tuple[KubeCluster, list[float]]:
    sleeps: list[float] = []
    return KubeCluster(api_client=api, description="stub", sleep=sleeps.append), sleeps


def test_scopes_nest_the_soonest_wins_and_are_per_thread() -> None:
    d = Deadlines()
    assert d.budget() is None
    with d.scope(lambda: 100.0, "step a"):
        with d.scope(lambda: 7.0, "an Event"):
            budget = d.budget()
            assert budget is not None
            assert (budget.left, budget.what) == (7.0, "an Event")
            other: list[object] = []
            t = threading.Thread(target=lambda: other.append(d.budget()))
            t.start()
            t.join()
            assert other == [None]  # a background thread never inherits a step's deadline
        budget = d.budget()
        assert budget is not None
        assert budget.what == "step a"
    assert d.budget() is None
    now = [10.0]
    left = until(15.0, lambda: now[0])
    assert left() == 5.0
    now[0] = 16.0
    with d.scope(left, "step b"), pytest.raises(CallTimeout, match="deadline of step b"):
        d.check("get Pod")


def test_request_timeouts_are_what_is_left_of_the_deadline() -> None:
    assert capped(REQUEST_TIMEOUT, None) == REQUEST_TIMEOUT
    api = StubApi()
    kube, _ = adapter(api)
    kube.get(POD)
    assert api.timeouts[-1] == REQUEST_TIMEOUT  # no deadline: the fixed timeouts (recover, tests)
    with kube.deadline(lambda: 3.0, "step s"):
        kube.get(POD)
    assert api.timeouts[-1] == (3.0, 3.0)
    with kube.deadline(lambda: 100.0, "step s"):
        kube.get(POD)
    assert api.timeouts[-1] == REQUEST_TIMEOUT


def test_a_spent_deadline_sends_nothing() -> None:
    api = StubApi()
    kube, _ = adapter(api)
    with kube.deadline(lambda: 0.0, "the rollback"), pytest.raises(CallTimeout, match="not sent"):
        kube.get(POD)
    assert api.timeouts == []


def test_a_server_that_never_answers_ends_the_call_at_its_deadline() -> None:
    """Without a deadline a read timeout is retried (bounded); with one, the call ends when it is
    spent: one request whose read timeout is exactly what was left, no retry after it."""
    now = [0.0]

    def never(timeout: tuple[float, float]) -> BaseException:
        now[0] += timeout[1]  # the read waited its whole timeout
        return TimeoutError("timed out")

    api = StubApi(never)
    kube, sleeps = adapter(api)
    with kube.deadline(until(12.5, lambda: now[0]), "step fault-seen"), \
            pytest.raises(CallTimeout, match="before the deadline of step fault-seen"):
        kube.get(POD)
    assert api.timeouts == [(10.0, 12.5)]
    assert now[0] == 12.5
    assert all(s == 0.0 for s in sleeps)  # a back-off never sleeps past the deadline

    api2 = StubApi(lambda _t: TimeoutError("timed out"))
    kube2, _ = adapter(api2)
    with pytest.raises(Unavailable) as raised:
        kube2.get(POD)
    assert not isinstance(raised.value, CallTimeout)
    assert len(api2.timeouts) == kube2.max_retries + 1


def test_retries_and_their_back_off_stop_at_the_deadline() -> None:
    now = [0.0]
    api = StubApi(lambda _t: Answer(503, {}, b'{"message": "busy"}'))
    sleeps: list[float] = []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        now[0] += seconds

    kube = KubeCluster(api_client=api, description="stub", sleep=sleep, backoff_s=1.0,
                       max_backoff_s=8.0)
    with kube.deadline(until(2.5, lambda: now[0]), "a Lease renewal"), \
            pytest.raises(CallTimeout, match="a Lease renewal"):
        kube.get(POD)
    assert now[0] == pytest.approx(2.5)
    assert sum(sleeps) == pytest.approx(2.5)
    assert len(api.timeouts) < kube.max_retries + 1


def test_server_time_follows_the_date_header_not_the_local_clock() -> None:
    server = 1_700_000_000  # far from this machine's clock: only the header can say it
    api = StubApi(lambda _t: Answer(headers={"Date": email.utils.formatdate(server, usegmt=True)},
                                    data=b'{"major": "1"}'))
    kube, _ = adapter(api)
    now = kube.server_time()  # no answer yet: one cheap GET /version
    assert api.paths == ["/version"]
    assert now is not None
    assert server <= now < server + 2  # the second the header names, plus the time since
    kube.get(POD)  # every answer refreshes the reading
    assert len(api.paths) == 2
    later = kube.server_time()
    assert later is not None
    assert later >= now
    assert len(api.paths) == 2


def test_no_date_header_means_no_server_time() -> None:
    kube, _ = adapter(StubApi(lambda _t: Answer(headers={})))
    assert kube.server_time() is None
    kube2, _ = adapter(StubApi(lambda _t: Answer(headers={"Date": "not a date"})))
    assert kube2.server_time() is None
