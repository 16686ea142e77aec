"""The labels on everything a run creates, and the selectors that find them again.

Why it exists: the journal mirror, the shim ConfigMap, helper pods and rollback's leftover check
must agree on one spelling, or a leftover goes unnoticed.
"""

from __future__ import annotations

import hashlib

MANAGED_BY = "app.kubernetes.io/managed-by"
MANAGED_BY_VALUE = "chaos"
RUN_ID_LABEL = "chaos.dev/run-id"
ROLE_LABEL = "chaos.dev/role"  # what a helper pod is for: toggle, renew, disarm, kmsg
FAULT_MAP_ROLE = "fault-map"  # the role of a run's fault map (toggle-via configmap): key = node name
INSTALL_ROLE = "install"  # the role of an install's journal copy (`chaos install`)
INSTALL_PREFIX = "install-"  # an install's id (its "run id" in every name and label it makes)


def install_id(namespace: str, kind: str, name: str) -> str:
    """The one install id of a workload: stable, so a run finds the install from the workload."""
    return INSTALL_PREFIX + hashlib.sha256(f"{namespace}/{kind}/{name}".encode()).hexdigest()[:10]


def is_install(run_id: str) -> bool:
    return run_id.startswith(INSTALL_PREFIX)


def run_labels(run_id: str) -> dict[str, str]:
    """The labels on everything a run creates."""
    return {MANAGED_BY: MANAGED_BY_VALUE, RUN_ID_LABEL: run_id}


def run_selector(run_id: str | None = None) -> str:
    """Everything chaos made (or, with `run_id`, everything one run made)."""
    selector = f"{MANAGED_BY}={MANAGED_BY_VALUE}"
    return f"{selector},{RUN_ID_LABEL}={run_id}" if run_id else selector
