"""workload: the facts about the workloads a scenario targets, each with one answer.

- kinds.py    kinds and apiVersions, where the pod templates are, desired replicas, pod selectors
- views.py    typed views of pods and nodes; what ready means for each
- targets.py  the target workload, its pods and the fault's node on a live cluster

Nothing else in the package answers these questions. Read-only; no renderer, engine or step kind.
"""
