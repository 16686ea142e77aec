"""The embedded cluster: a Kubernetes API server on loopback, so `chaos run` and our tests need no
real cluster. The production adapter (runner/cluster/kube.py, the official client) reaches it over
HTTP like any cluster; nothing outside this package imports it except the CLI and tests.

Part 1 (this layer): `store` (objects, watches, GC), `resources` (the kinds), `validation` (per-kind
rules: Leases, Services, EndpointSlices, Secrets), `podsecurity` (Pod Security admission), `patching`,
`selectors`, `logs` (container log files), `faults`, `rbac`, `discovery`, `tables`, `protowire` and
`protoschema` (protobuf request bodies), `proxy` (services/pods proxy targets), `endpoints` and
`disruption` (the EndpointSlice and PodDisruptionBudget controllers every SimCluster runs),
`apiserver` (HTTP) and `cluster` (`SimCluster`, which part 2 extends with components: node
behaviour, scheduler, controllers, kubelet, using the Store in process).

Decisions part 2 relies on:
- Scheduling: set `spec.nodeName` with an update/patch, or POST `pods/binding` (409 when bound).
- Deletion is immediate: no deletionTimestamp/finalizer wait; `gracePeriodSeconds` is accepted and
  ignored; Foreground deletion removes dependents before the owner within the same call; deleting
  a namespace deletes its objects at once.
- Objects must satisfy the official client's models (it validates required fields), so a writer of
  status (the kubelet) must fill e.g. every required field of containerStatuses.
- Watches with a selector see an object entering the selection as ADDED and leaving it as DELETED.
- Every cluster starts with the namespaces default, kube-system, kube-public, kube-node-lease and
  the state namespace chaos-system.
- Not served: server-side apply (415), protobuf answers (requests may be protobuf for built-in
  kinds; answers are JSON, which client-go reads), protobuf bodies for custom resources (415, as
  upstream), list pagination (`limit` is ignored; everything is returned with no `continue`).
"""
