"""The embedded cluster's RBAC, as Kubernetes binds rules: a RoleBinding (to a Role, or to a
ClusterRole) grants only in its own namespace, a ClusterRoleBinding everywhere; rules match on
verbs, API groups, resources with subresources, resourceNames and `*`; the token acts as the one
ServiceAccount the files name; a malformed file is a ValueError naming it; the shipped
deploy/*.yaml grant exactly what the README says."""

from __future__ import annotations

from pathlib import Path

import pytest

from runner.errors import Forbidden
from runner.sim.rbac import Authorizer, Identity, Policy, PolicyRule, load_policy, load_rules
from tests.conftest import REPO

SA = "system:serviceaccount:chaos-system:runner"
HEAD = """\
apiVersion: v1
kind: ServiceAccount
metadata: {name: runner, namespace: chaos-system}
---
"""


def identity(tmp_path: Path, text: str, *more: str) -> Identity:
    paths = []
    for i, body in enumerate((text, *more)):
        path = tmp_path / f"rules-{i}.yaml"
        path.write_text(body)
        paths.append(path)
    auth = Authorizer()
    auth.add_token("t", load_policy(paths))
    found = auth.identify("Bearer t")
    assert found is not None
    return found


def allowed(who: Identity, verb: str, resource: str, namespace: str | None = None, *, group: str = "",
            name: str = "") -> bool:
    try:
        Authorizer().authorize(who, verb, group, resource, namespace, name)
    except Forbidden:
        return False
    return True


def binding(kind: str, role_kind: str, role: str, namespace: str = "", subject_ns: str = "chaos-system",
            name: str = "b") -> str:
    meta = f"{{name: {name}, namespace: {namespace}}}" if namespace else f"{{name: {name}}}"
    ns = f", namespace: {subject_ns}" if subject_ns else ""
    return (f"apiVersion: rbac.authorization.k8s.io/v1\nkind: {kind}\nmetadata: {meta}\n"
            f"roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: {role_kind}, name: {role}}}\n"
            f"subjects: [{{kind: ServiceAccount, name: runner{ns}}}]\n")


def cluster_role(name: str, rules: str) -> str:
    return (f"apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {{name: {name}}}\n"
            f"rules:\n{rules}")


PODS = cluster_role("pods", "- {apiGroups: [''], resources: [pods], verbs: [get, create]}\n")
IN_INFERENCE = HEAD + PODS + "---\n" + binding("RoleBinding", "ClusterRole", "pods", "inference")


def test_a_role_binding_to_a_cluster_role_grants_only_in_its_namespace(tmp_path: Path) -> None:
    who = identity(tmp_path, IN_INFERENCE)
    assert who.user == SA
    assert allowed(who, "create", "pods", "inference")
    assert not allowed(who, "create", "pods", "kube-system")
    assert not allowed(who, "list", "pods")  # every namespace at once is the cluster scope
    assert not allowed(who, "delete", "pods", "inference")


def test_the_403_names_the_service_account_and_the_namespace(tmp_path: Path) -> None:
    who = identity(tmp_path, IN_INFERENCE)
    with pytest.raises(Forbidden) as denied:
        Authorizer().authorize(who, "create", "", "pods", "kube-system", "")
    assert str(denied.value) == (f'pods is forbidden: User "{SA}" cannot create resource "pods" in API '
                                 'group "" in the namespace "kube-system"')
    assert denied.value.status == 403
    with pytest.raises(Forbidden) as nodes:
        Authorizer().authorize(who, "patch", "", "nodes", None, "gpu-1")
    assert str(nodes.value) == (f'nodes "gpu-1" is forbidden: User "{SA}" cannot patch resource "nodes" '
                                'in API group "" at the cluster scope')


def test_a_cluster_role_binding_grants_everywhere(tmp_path: Path) -> None:
    who = identity(tmp_path, HEAD + PODS + "---\n" + binding("ClusterRoleBinding", "ClusterRole", "pods"))
    assert allowed(who, "create", "pods", "kube-system")
    assert allowed(who, "get", "pods", "anything")
    assert allowed(who, "get", "pods")


def test_a_role_is_bound_in_its_own_namespace(tmp_path: Path) -> None:
    role = ("apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata: {name: cm, namespace: state}\n"
            "rules:\n- {apiGroups: [''], resources: [configmaps], verbs: ['*']}\n")
    who = identity(tmp_path, HEAD + role + "---\n" + binding("RoleBinding", "Role", "cm", "state"))
    assert allowed(who, "delete", "configmaps", "state")
    assert not allowed(who, "get", "configmaps", "other")
    # a RoleBinding elsewhere naming the Role finds no Role of that name there: nothing granted
    other = identity(tmp_path, HEAD + role + "---\n" + binding("RoleBinding", "Role", "cm", "other"))
    assert not allowed(other, "get", "configmaps", "other")
    assert not allowed(other, "get", "configmaps", "state")


def test_bindings_of_someone_else_grant_nothing(tmp_path: Path) -> None:
    stranger = binding("ClusterRoleBinding", "ClusterRole", "pods", subject_ns="elsewhere")
    who = identity(tmp_path, HEAD + PODS + "---\n" + stranger)
    assert not allowed(who, "get", "pods", "inference")


def test_groups_and_a_subject_namespace_defaulted_by_the_role_binding(tmp_path: Path) -> None:
    same_ns = binding("RoleBinding", "ClusterRole", "pods", "chaos-system", subject_ns="")
    assert allowed(identity(tmp_path, HEAD + PODS + "---\n" + same_ns), "get", "pods", "chaos-system")
    group = ("apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata: {name: g}\n"
             "roleRef: {kind: ClusterRole, name: pods}\n"
             "subjects: [{kind: Group, name: 'system:serviceaccounts:chaos-system'}]\n")
    assert allowed(identity(tmp_path, HEAD + PODS + "---\n" + group), "get", "pods", "x")


def test_resource_names_subresources_and_wildcards() -> None:
    auth = Authorizer()
    auth.add_token("t", Policy.cluster_wide([
        PolicyRule(frozenset({""}), frozenset({"configmaps"}), frozenset({"get"}), frozenset({"mine"})),
        PolicyRule(frozenset({""}), frozenset({"pods/log"}), frozenset({"get"})),
        PolicyRule(frozenset({"apps"}), frozenset({"*/scale"}), frozenset({"patch"})),
        PolicyRule(frozenset({"*"}), frozenset({"leases"}), frozenset({"*"})),
    ]))
    who = auth.identify("Bearer t")
    assert who is not None
    assert allowed(who, "get", "configmaps", "ns", name="mine")
    assert not allowed(who, "get", "configmaps", "ns", name="theirs")
    assert not allowed(who, "list", "configmaps", "ns")  # a list names no object
    assert allowed(who, "get", "pods/log", "ns", name="p")
    assert not allowed(who, "get", "pods", "ns", name="p")  # the subresource is not the resource
    assert not allowed(who, "create", "pods/exec", "ns", name="p")
    assert allowed(who, "patch", "deployments/scale", "ns", group="apps", name="d")
    assert not allowed(who, "patch", "deployments", "ns", group="apps", name="d")
    assert allowed(who, "delete", "leases", "ns", group="coordination.k8s.io", name="l")
    assert not allowed(who, "delete", "leases/status", "ns", group="coordination.k8s.io", name="l")


def test_an_unrestricted_token_and_a_bare_rule_list() -> None:
    auth = Authorizer()
    auth.add_token("admin")
    auth.add_token("viewer", [PolicyRule(frozenset({""}), frozenset({"nodes"}), frozenset({"list"}))])
    admin, viewer = auth.identify("Bearer admin"), auth.identify("Bearer viewer")
    assert admin is not None
    assert viewer is not None
    assert admin.unrestricted
    assert allowed(admin, "delete", "nodes")
    assert viewer.user == "token-2"
    assert allowed(viewer, "list", "nodes")
    assert not allowed(viewer, "get", "nodes")
    assert auth.identify("Bearer nope") is None
    assert auth.identify(None) is None


def test_files_of_bare_roles_bind_the_token_to_them_directly(tmp_path: Path) -> None:
    role = ("apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata: {name: cm, namespace: state}\n"
            "rules:\n- {apiGroups: [''], resources: [configmaps], verbs: [get]}\n")
    auth = Authorizer()
    (tmp_path / "r.yaml").write_text(PODS + "---\n" + role)
    auth.add_token("t", load_policy([tmp_path / "r.yaml"]))
    who = auth.identify("Bearer t")
    assert who is not None
    assert who.user == "token-1"
    assert allowed(who, "create", "pods", "anywhere")
    assert allowed(who, "get", "configmaps", "state")
    assert not allowed(who, "get", "configmaps", "other")
    assert len(load_rules(tmp_path / "r.yaml")) == 2


def test_a_review_answers_from_the_rules_and_says_which_binding(tmp_path: Path) -> None:
    who = identity(tmp_path, IN_INFERENCE)
    yes = Authorizer.review(who, "create", "", "pods", "inference")
    assert yes.allowed
    assert yes.reason == ('RBAC: allowed by RoleBinding "b/inference" of ClusterRole "pods" to '
                          'ServiceAccount "runner/chaos-system"')
    assert not Authorizer.review(who, "create", "", "pods", "kube-system").allowed
    assert Authorizer.review(Identity("admin", None), "patch", "", "nodes", None).allowed


@pytest.mark.parametrize(("text", "says"), [
    ("kind: Role\nmetadata: {name: r}\nrules: []\n", "has no metadata.namespace"),
    ("kind: ClusterRole\nmetadata: {}\nrules: []\n", "has no metadata.name"),
    ("kind: ClusterRole\nmetadata: {name: r}\nrules: {verbs: [get]}\n", "rules must be a list"),
    ("kind: ClusterRole\nmetadata: {name: r}\nrules: [{verbs: get}]\n", "verbs must be a list of strings"),
    ("kind: ClusterRole\nmetadata: {name: r}\nrules: [[get]]\n", "is not a mapping"),
    ("kind: ClusterRoleBinding\nmetadata: {name: b}\nroleRef: {kind: Role, name: r}\n",
     "roleRef.kind must be ClusterRole"),
    ("kind: RoleBinding\nmetadata: {name: b, namespace: n}\n", "roleRef must name a role"),
    ("kind: ClusterRoleBinding\nmetadata: {name: b}\nroleRef: {kind: ClusterRole, name: r}\nsubjects: [x]\n",
     "subjects must be a list"),
    ("- just\n- a list\n", "is not a mapping"),
    ("kind: ClusterRole\nmetadata: {name: r}\n---\nkind: ClusterRole\nmetadata: {name: r}\n",
     "defined twice"),
    ("key: [unclosed\n", "not valid YAML"),
    (HEAD + "kind: ServiceAccount\nmetadata: {name: other, namespace: x}\n---\n"
     + binding("ClusterRoleBinding", "ClusterRole", "r"), "one ServiceAccount"),
])
def test_a_malformed_file_is_a_value_error_naming_it(tmp_path: Path, text: str, says: str) -> None:
    path = tmp_path / "bad-rules.yaml"
    path.write_text(text)
    with pytest.raises(ValueError, match=says) as err:
        load_policy([path])
    assert str(path) in str(err.value)


def test_a_binary_file_is_a_value_error_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "junk.yaml"
    path.write_bytes(b"\xff\xfe\x00" * 10)
    with pytest.raises(ValueError, match="not text") as err:
        load_policy([path])
    assert str(path) in str(err.value)


# --- the shipped manifests ---------------------------------------------------------------------

RBAC, CORDON = REPO / "deploy" / "rbac.yaml", REPO / "deploy" / "rbac-cordon.yaml"
RUNNER = "system:serviceaccount:chaos-system:chaos-runner"


def shipped(*paths: Path) -> Identity:
    auth = Authorizer()
    auth.add_token("t", load_policy(list(paths)))
    found = auth.identify("Bearer t")
    assert found is not None
    return found


def test_the_shipped_rules_grant_by_namespace() -> None:
    who = shipped(RBAC)
    assert who.user == RUNNER
    leases = "coordination.k8s.io"
    for verb in ("create", "get", "patch", "delete"):
        assert allowed(who, verb, "leases", "chaos-system", group=leases, name="l")
        assert not allowed(who, verb, "leases", "inference", group=leases, name="l")
    assert not allowed(who, "list", "leases", "chaos-system", group=leases)
    for verb in ("create", "get", "list", "patch", "delete"):
        name = "" if verb in ("create", "list") else "c"
        assert allowed(who, verb, "configmaps", "chaos-system", name=name)
        assert allowed(who, verb, "configmaps", "inference", name=name)
    for ns in ("inference", "dynamo"):
        assert allowed(who, "create", "pods", ns)
        assert allowed(who, "delete", "pods", ns, name="p")
        assert allowed(who, "get", "pods/log", ns, name="p")
        assert allowed(who, "patch", "deployments", ns, group="apps", name="d")
        assert allowed(who, "patch", "dynamographdeployments", ns, group="nvidia.com", name="g")
        assert allowed(who, "create", "events", ns, group="events.k8s.io")
        for verb in ("get", "create"):  # the probes: GET and POST through the service proxy
            assert allowed(who, verb, "services/proxy", ns, name="vllm-worker:8000")
        for verb in ("update", "patch", "delete"):
            assert not allowed(who, verb, "services/proxy", ns, name="vllm-worker:8000")
        assert not allowed(who, "get", "services", ns, name="vllm-worker")
        assert not allowed(who, "get", "pods/proxy", ns, name="p")
    for ns in ("kube-system", "default", "chaos-system"):
        assert not allowed(who, "create", "services/proxy", ns, name="x:80")
    assert allowed(who, "create", "events", "default", group="events.k8s.io")  # node events
    for ns in ("kube-system", "default", "chaos-system"):
        assert not allowed(who, "create", "pods", ns)
    assert not allowed(who, "create", "pods/exec", "inference", name="p")
    assert not allowed(who, "get", "secrets", "inference", name="s")
    for verb in ("list", "watch", "get"):
        assert allowed(who, verb, "nodes", name="n" if verb == "get" else "")
    assert not allowed(who, "patch", "nodes", name="n")
    assert allowed(who, "get", "namespaces", "chaos-system", name="chaos-system")
    assert not allowed(who, "create", "namespaces")
    assert not allowed(who, "list", "pods")  # nothing across every namespace but nodes


def test_node_patch_only_with_the_cordon_file() -> None:
    assert not allowed(shipped(RBAC), "patch", "nodes", name="n")
    both = shipped(RBAC, CORDON)
    assert both.user == RUNNER
    assert allowed(both, "patch", "nodes", name="n")
    assert not allowed(both, "delete", "nodes", name="n")
    assert not allowed(both, "patch", "nodes/status", name="n")
    assert not allowed(both, "create", "pods", "kube-system")
