"""A small stand-in for NVIDIA Dynamo's operator: DynamoGraphDeployment -> Deployments.

The CRD (`dynamographdeployments.nvidia.com`, `nvidia.com/v1alpha1`, namespaced, status
subresource, schema open) is installed when the controller starts. Our documented simplification
of the real operator's shape (kept exactly so the steps can patch it):

    spec:
      services:
        <ServiceName>:
          componentType: frontend | worker | planner
          replicas: 2
          resources: {limits: {gpu: "1"}}
          extraPodSpec:            # any PodSpec fields
            mainContainer: {image, command, args, env, ports, readinessProbe, ...}

Each service becomes Deployment `<dgd>-<service lowercased>` in the DGD's namespace, owned by the
DGD, labelled and selected by `nvidia.com/dynamo-graph-deployment-name: <dgd>` and
`nvidia.com/dynamo-component: <service>`; its pod spec is extraPodSpec without mainContainer plus
`containers: [mainContainer named "main", ...extraPodSpec.containers]`, with `nvidia.com/gpu`
limits from resources.limits.gpu. A changed DGD updates the Deployments (so patching the DGD rolls
the workers); a removed service's Deployment is deleted. Status: `state: successful` once every
Deployment is available with its current spec, else `pending`, plus a Ready condition.
It must not manage pods directly.
"""

from __future__ import annotations

import contextlib
import logging
from typing import Any

from runner.errors import ClusterError, Conflict, NotFound
from runner.sim.controllers import owned_by, owner_ref
from runner.sim.loop import Loop
from runner.sim.podstatus import set_condition
from runner.sim.resources import CRDS, DEPLOYMENTS, GVR
from runner.sim.store import Obj, clone

log = logging.getLogger(__name__)

DGDS = GVR("nvidia.com", "v1alpha1", "dynamographdeployments")
DGD_LABEL = "nvidia.com/dynamo-graph-deployment-name"
COMPONENT_LABEL = "nvidia.com/dynamo-component"
COMPONENT_TYPE_LABEL = "nvidia.com/dynamo-component-type"

CRD: Obj = {
    "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
    "metadata": {"name": "dynamographdeployments.nvidia.com"},
    "spec": {
        "group": "nvidia.com", "scope": "Namespaced",
        "names": {"plural": "dynamographdeployments", "singular": "dynamographdeployment",
                  "kind": "DynamoGraphDeployment", "listKind": "DynamoGraphDeploymentList",
                  "shortNames": ["dgd"]},
        "versions": [{"name": "v1alpha1", "served": True, "storage": True,
                      "subresources": {"status": {}},
                      "schema": {"openAPIV3Schema": {"type": "object",
                                                     "x-kubernetes-preserve-unknown-fields": True}}}],
    },
}


def deployment_name(dgd: str, service: str) -> str:
    return f"{dgd}-{service.lower()}"


def desired_deployment(dgd: Obj, service: str, svc: dict[str, Any]) -> Obj:
    meta = dgd["metadata"]
    selector = {DGD_LABEL: meta["name"], COMPONENT_LABEL: service}
    labels = dict(selector)
    if svc.get("componentType"):  # an extra label only: the selector stays the documented two
        labels[COMPONENT_TYPE_LABEL] = str(svc["componentType"])
    extra = clone(svc.get("extraPodSpec") or {})
    main = dict(extra.pop("mainContainer", None) or {})
    main["name"] = "main"
    gpu = ((svc.get("resources") or {}).get("limits") or {}).get("gpu")
    if gpu is not None:
        res = dict(main.get("resources") or {})
        res["limits"] = {**(res.get("limits") or {}), "nvidia.com/gpu": str(gpu)}
        main["resources"] = res
    extra["containers"] = [main, *(extra.get("containers") or [])]
    return {
        "metadata": {"name": deployment_name(meta["name"], service), "namespace": meta["namespace"],
                     "labels": dict(labels), "ownerReferences": [owner_ref(dgd)]},
        "spec": {"replicas": int(svc.get("replicas", 1)), "selector": {"matchLabels": selector},
                 "template": {"metadata": {"labels": dict(labels)}, "spec": extra}},
    }


class DynamoController(Loop):
    name = "dynamo-controller"
    watches = (DGDS, DEPLOYMENTS)

    def start(self) -> None:
        with contextlib.suppress(Conflict):
            self.store.create(CRDS, CRD)
        super().start()

    def reconcile(self) -> None:
        try:
            dgds, _ = self.store.list(DGDS)
        except NotFound:
            return  # the CRD was removed
        deployments, _ = self.store.list(DEPLOYMENTS)
        for dgd in dgds:
            try:
                self._sync(dgd, [d for d in deployments if owned_by(d, dgd)])
            except ClusterError:
                log.debug("dgd %s deferred", dgd["metadata"]["name"], exc_info=True)
                self.kick()

    def _sync(self, dgd: Obj, owned: list[Obj]) -> None:
        services = (dgd.get("spec") or {}).get("services") or {}
        by_name = {d["metadata"]["name"]: d for d in owned}
        ready = True
        for service, svc in services.items():
            want = desired_deployment(dgd, str(service), svc or {})
            name = want["metadata"]["name"]
            have = by_name.pop(name, None)
            if have is None:
                self.store.create(DEPLOYMENTS, want)
                ready = False
                continue
            if have.get("spec", {}).get("replicas") != want["spec"]["replicas"] or \
                    have["spec"].get("template") != want["spec"]["template"] or \
                    have["metadata"].get("labels") != want["metadata"]["labels"]:
                updated = clone(have)
                updated["metadata"]["labels"] = want["metadata"]["labels"]
                updated["spec"]["replicas"] = want["spec"]["replicas"]
                updated["spec"]["template"] = want["spec"]["template"]
                self.store.update(DEPLOYMENTS, updated)
                ready = False
                continue
            st = have.get("status") or {}
            replicas = int(want["spec"]["replicas"])
            if int(st.get("observedGeneration", 0)) < int(have["metadata"].get("generation", 1)) or \
                    int(st.get("updatedReplicas", 0)) < replicas or \
                    int(st.get("availableReplicas", 0)) < replicas or int(st.get("replicas", 0)) > replicas:
                ready = False
        for stale in by_name.values():
            with contextlib.suppress(NotFound):
                self.store.delete(DEPLOYMENTS, stale["metadata"]["namespace"], stale["metadata"]["name"])
        status = clone(dgd.get("status") or {})
        status["state"] = "successful" if ready else "pending"
        set_condition(status, "Ready", "True" if ready else "False",
                      "AllDeploymentsAvailable" if ready else "DeploymentsNotAvailable",
                      "all services are available" if ready else "some services are not available yet")
        status.pop("observedGeneration", None)
        status["observedGeneration"] = dgd["metadata"].get("generation", 1)
        if status != dgd.get("status"):
            body = clone(dgd)
            body["status"] = status
            try:
                self.store.update(DGDS, body, subresource="status")
            except (Conflict, NotFound):
                self.kick()
