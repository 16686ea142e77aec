"""The step table: YAML step kind -> implementation. The engine looks kinds up here (no if/elif).

Adding a step kind is one module in runner/steps/ and one line below. Nothing else lives here.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from runner.scenario.model import StepKind
from runner.steps.assert_reschedule import AssertRescheduleImpl
from runner.steps.assertion import AssertImpl
from runner.steps.base import StepImpl
from runner.steps.cleanup import CleanupImpl
from runner.steps.cordon import CordonImpl, UncordonImpl
from runner.steps.delete_pods import DeletePodsImpl
from runner.steps.node_xid import NodeXidImpl
from runner.steps.patch import PatchImpl
from runner.steps.pause import PauseImpl
from runner.steps.probe import ProbeImpl
from runner.steps.toggle import ToggleImpl
from runner.steps.wait import WaitImpl

_IMPLS: tuple[StepImpl, ...] = (
    PatchImpl(), WaitImpl(), ToggleImpl(), AssertRescheduleImpl(), CleanupImpl(), CordonImpl(),
    UncordonImpl(), DeletePodsImpl(), ProbeImpl(), AssertImpl(), PauseImpl(), NodeXidImpl(),
)

REGISTRY: Mapping[StepKind, StepImpl] = MappingProxyType({impl.kind: impl for impl in _IMPLS})
