"""The step table: YAML step kind -> implementation, and the undo kinds their journals hold.

The entry points (CLI, Python API, pytest plugin) hand `REGISTRY` to the engine; the engine never
imports a step kind. Adding a step kind is one module in runner/steps/ and one entry below.
"""

from __future__ import annotations

from runner.kernel.step import StepTable
from runner.kernel.undo import CORE_UNDO_KINDS, UndoKinds
from runner.steps.assert_reschedule import AssertRescheduleImpl
from runner.steps.assertion import AssertImpl
from runner.steps.cleanup import CleanupImpl
from runner.steps.cordon import CordonImpl, UncordonImpl
from runner.steps.delete_pods import DeletePodsImpl
from runner.steps.faultmap import DisarmNodeKey
from runner.steps.node_xid import NodeXidImpl
from runner.steps.patch import PatchImpl
from runner.steps.pause import PauseImpl
from runner.steps.probe import ProbeImpl
from runner.steps.toggle import DisarmNode, ToggleImpl
from runner.steps.wait import WaitImpl

UNDO_KINDS = UndoKinds((*CORE_UNDO_KINDS, DisarmNode, DisarmNodeKey))

REGISTRY = StepTable(
    (PatchImpl(), WaitImpl(), ToggleImpl(), AssertRescheduleImpl(), CleanupImpl(), CordonImpl(),
     UncordonImpl(), DeletePodsImpl(), ProbeImpl(), AssertImpl(), PauseImpl(), NodeXidImpl()),
    UNDO_KINDS)
