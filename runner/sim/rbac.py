"""RBAC for the embedded API server: bearer tokens bound to PolicyRules the way Kubernetes binds them.

Enough to prove a least-privilege manifest: a restricted token acts as the ServiceAccount its rules
files name and gets exactly what their bindings grant it. A ClusterRoleBinding grants its
ClusterRole everywhere (every namespace and the cluster scope); a RoleBinding grants its Role, or
a ClusterRole it references, only in the RoleBinding's own namespace. Rules match on apiGroups,
resources (with subresources such as `pods/log`, `*` and `*/log`), verbs and resourceNames, with
`*` wildcards. A denied request gets the real server's 403 message. Files of bare roles (no
binding at all) bind the token to every rule in them directly: a ClusterRole cluster-wide, a Role
in its namespace. Any other kind in a file (ServiceAccount, Namespace, ...) is not a rule.

`load_policy` refuses a malformed file with a ValueError naming it. This module must not know about
HTTP; the API server asks `Authorizer.authorize` and `Authorizer.review` (SelfSubjectAccessReview).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from runner.errors import Forbidden

SA_USER = "system:serviceaccount:"
RULE_KINDS = ("ClusterRole", "Role", "ClusterRoleBinding", "RoleBinding")


@dataclass(frozen=True)
class PolicyRule:
    api_groups: frozenset[str]
    resources: frozenset[str]
    verbs: frozenset[str]
    resource_names: frozenset[str] = frozenset()

    @classmethod
    def from_dict(cls, rule: Mapping[str, Any], where: str = "rule") -> PolicyRule:
        if not isinstance(rule, Mapping):
            raise ValueError(f"{where} is not a mapping (apiGroups, resources, verbs)")
        return cls(_strings(rule, "apiGroups", where), _strings(rule, "resources", where),
                   _strings(rule, "verbs", where), _strings(rule, "resourceNames", where))

    def allows(self, verb: str, group: str, resource: str, name: str) -> bool:
        if "*" not in self.verbs and verb not in self.verbs:
            return False
        if "*" not in self.api_groups and group not in self.api_groups:
            return False
        sub = resource.partition("/")[2]
        ok = "*" in self.resources or resource in self.resources or (sub and f"*/{sub}" in self.resources)
        if not ok:
            return False
        return not self.resource_names or name in self.resource_names


def _strings(data: Mapping[str, Any], key: str, where: str) -> frozenset[str]:
    value = data.get(key)
    if value is None:
        return frozenset()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"{where}: {key} must be a list of strings, not {_shown(value)}")
    return frozenset(value)


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


@dataclass(frozen=True)
class Grant:
    """One rule, where it applies (None: cluster-wide) and the binding that grants it."""

    rule: PolicyRule
    namespace: str | None
    source: str  # 'ClusterRoleBinding "x" of ClusterRole "y"', as a SelfSubjectAccessReview says

    def allows(self, verb: str, group: str, resource: str, namespace: str | None, name: str) -> bool:
        if self.namespace is not None and namespace != self.namespace:
            return False
        return self.rule.allows(verb, group, resource, name)


@dataclass(frozen=True)
class Policy:
    """What a restricted token may do: its user name ('' lets the authorizer name it) and grants."""

    user: str = ""
    grants: tuple[Grant, ...] = ()
    subject: str = ""  # 'ServiceAccount "name/namespace"' for review reasons

    @classmethod
    def cluster_wide(cls, rules: Iterable[PolicyRule], user: str = "") -> Policy:
        return cls(user, tuple(Grant(r, None, "direct rules") for r in rules))

    def grant_for(self, verb: str, group: str, resource: str, namespace: str | None,
                  name: str = "") -> Grant | None:
        return next((g for g in self.grants if g.allows(verb, group, resource, namespace, name)), None)


def load_rules(path: Path) -> list[PolicyRule]:
    """Every rule of every ClusterRole/Role document in one YAML file, whatever binds it (the
    flat view; ValueError naming the file if malformed). `load_policy` is what binds them."""
    return [r for _kind, _key, rules in _roles(Path(path), _documents(Path(path))) for r in rules]


@dataclass
class _Files:
    cluster_roles: dict[str, tuple[PolicyRule, ...]] = field(default_factory=dict)
    roles: dict[tuple[str, str], tuple[PolicyRule, ...]] = field(default_factory=dict)
    bindings: list[tuple[str, str | None, str, Mapping[str, Any], list[Mapping[str, Any]]]] = \
        field(default_factory=list)  # (kind, namespace, name, roleRef, subjects)
    service_accounts: list[tuple[str, str]] = field(default_factory=list)  # (namespace, name)


def load_policy(paths: Sequence[Path]) -> Policy:
    """The grants of the ServiceAccount the files name (its ServiceAccount document if there is
    exactly one, else the one ServiceAccount their bindings name). ValueError names the file and
    the document when something is malformed."""
    if not paths:
        raise ValueError("no rules file given")
    files = _Files()
    for path in paths:
        docs = _documents(Path(path))
        for kind, key, rules in _roles(Path(path), docs):
            table: dict[Any, tuple[PolicyRule, ...]] = (files.cluster_roles if kind == "ClusterRole"
                                                         else files.roles)
            if key in table:
                raise ValueError(f"{path}: {kind} {_key_text(key)} is defined twice")
            table[key] = rules
        for index, doc in docs:
            what = doc.get("kind")
            where = f"{path}: document {index} ({what})"
            if what == "ServiceAccount":
                files.service_accounts.append((_namespace(doc, where), _name(doc, where)))
            elif what in ("ClusterRoleBinding", "RoleBinding"):
                files.bindings.append(_binding(doc, str(what), where))
    if not files.bindings:
        grants = [Grant(r, None, f'ClusterRole "{name}"') for name, rules in files.cluster_roles.items()
                  for r in rules]
        grants += [Grant(r, ns, f'Role "{name}/{ns}"') for (ns, name), rules in files.roles.items()
                   for r in rules]
        return Policy("", tuple(grants))
    namespace, name = _subject(files, paths)
    user = f"{SA_USER}{namespace}:{name}"
    grants = []
    for kind, where_ns, bname, role_ref, subjects in files.bindings:
        if not any(_matches(s, where_ns, namespace, name) for s in subjects):
            continue
        ref_kind, ref_name = str(role_ref["kind"]), str(role_ref["name"])
        if ref_kind == "ClusterRole":
            rules = files.cluster_roles.get(ref_name, ())
        else:
            rules = files.roles.get((str(where_ns), ref_name), ())
        label = f'{kind} "{bname}/{where_ns}"' if where_ns else f'{kind} "{bname}"'
        source = f'{label} of {ref_kind} "{ref_name}"'
        # a binding to a role the files do not hold grants nothing, as on a real server
        grants += [Grant(r, where_ns, source) for r in rules]
    return Policy(user, tuple(grants), f'ServiceAccount "{name}/{namespace}"')


def _key_text(key: str | tuple[str, str]) -> str:
    return f"{key[0]}/{key[1]}" if isinstance(key, tuple) else key


def _documents(path: Path) -> list[tuple[int, dict[str, Any]]]:
    """The mappings of a YAML file (numbered from 1), or ValueError naming the file."""
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path}: not text (byte {exc.start}): not an RBAC manifest") from None
    except OSError as exc:
        raise ValueError(f"{path}: cannot read it: {exc.strerror or exc}") from None
    try:
        docs = list(yaml.safe_load_all(text))
    except yaml.YAMLError as exc:
        raise ValueError(f"{path}: not valid YAML: {exc}") from None
    out = []
    for index, doc in enumerate(docs, 1):
        if doc is None:
            continue
        if not isinstance(doc, dict):
            raise ValueError(f"{path}: document {index} is not a mapping (a Kubernetes object)")
        if doc.get("kind") == "List" and isinstance(doc.get("items"), list):
            raise ValueError(f"{path}: document {index} is a List; give the objects as documents "
                             "separated by ---")
        out.append((index, doc))
    return out


def _roles(path: Path, docs: list[tuple[int, dict[str, Any]]]
           ) -> list[tuple[str, Any, tuple[PolicyRule, ...]]]:
    """(kind, name or (namespace, name), rules) of each Role/ClusterRole document."""
    out: list[tuple[str, Any, tuple[PolicyRule, ...]]] = []
    for index, doc in docs:
        kind = doc.get("kind")
        if kind not in ("ClusterRole", "Role"):
            continue
        where = f"{path}: document {index} ({kind})"
        name = _name(doc, where)
        key: Any = name if kind == "ClusterRole" else (_namespace(doc, where), name)
        rules = doc.get("rules")
        if rules is None:
            rules = []
        if not isinstance(rules, list):
            raise ValueError(f"{where} {name}: rules must be a list, not {_shown(rules)}")
        out.append((str(kind), key, tuple(PolicyRule.from_dict(r, f"{where} {name}: rule {i}")
                                          for i, r in enumerate(rules, 1))))
    return out


def _name(doc: Mapping[str, Any], where: str) -> str:
    meta = doc.get("metadata")
    name = meta.get("name") if isinstance(meta, Mapping) else None
    if not isinstance(name, str) or not name:
        raise ValueError(f"{where} has no metadata.name")
    return name


def _namespace(doc: Mapping[str, Any], where: str) -> str:
    meta = doc.get("metadata")
    namespace = meta.get("namespace") if isinstance(meta, Mapping) else None
    if not isinstance(namespace, str) or not namespace:
        raise ValueError(f"{where} {_name(doc, where)} has no metadata.namespace (kubectl would put "
                         "it in the current context's namespace; name it)")
    return namespace


def _binding(doc: Mapping[str, Any], kind: str, where: str
             ) -> tuple[str, str | None, str, Mapping[str, Any], list[Mapping[str, Any]]]:
    name = _name(doc, where)
    namespace = _namespace(doc, where) if kind == "RoleBinding" else None
    ref = doc.get("roleRef")
    if not isinstance(ref, Mapping) or not isinstance(ref.get("name"), str) or not ref.get("name"):
        raise ValueError(f"{where} {name}: roleRef must name a role (roleRef: {{kind, name}})")
    allowed = ("Role", "ClusterRole") if kind == "RoleBinding" else ("ClusterRole",)
    if ref.get("kind") not in allowed:
        raise ValueError(f"{where} {name}: roleRef.kind must be {' or '.join(allowed)}, not "
                         f"{_shown(ref.get('kind'))}")
    subjects = doc.get("subjects") or []
    if not isinstance(subjects, list) or not all(
            isinstance(s, Mapping) and isinstance(s.get("kind"), str) and isinstance(s.get("name"), str)
            for s in subjects):
        raise ValueError(f"{where} {name}: subjects must be a list of {{kind, name}} mappings")
    for s in subjects:
        if s.get("namespace") is not None and not isinstance(s.get("namespace"), str):
            raise ValueError(f"{where} {name}: a subject's namespace must be a string")
    return kind, namespace, name, ref, subjects


def _subject(files: _Files, paths: Sequence[Path]) -> tuple[str, str]:
    """(namespace, name) of the one ServiceAccount the restricted token acts as."""
    named = ", ".join(str(p) for p in paths)
    accounts = sorted(set(files.service_accounts))
    if not accounts:
        accounts = sorted({(str(s.get("namespace") or ns or ""), str(s["name"]))
                           for _kind, ns, _n, _ref, subjects in files.bindings for s in subjects
                           if s.get("kind") == "ServiceAccount"})
    if len(accounts) != 1:
        found = ", ".join(f"{ns}/{n}" for ns, n in accounts) or "none"
        raise ValueError(f"{named}: the restricted token acts as one ServiceAccount; the rules files "
                         f"name {found} (give exactly one ServiceAccount document)")
    return accounts[0]


def _matches(subject: Mapping[str, Any], binding_ns: str | None, namespace: str, name: str) -> bool:
    kind = subject.get("kind")
    if kind == "ServiceAccount":
        # in a RoleBinding a ServiceAccount subject without a namespace is in the binding's
        return subject.get("name") == name and (subject.get("namespace") or binding_ns) == namespace
    if kind == "User":
        return subject.get("name") == f"{SA_USER}{namespace}:{name}"
    if kind == "Group":
        return subject.get("name") in ("system:serviceaccounts", f"system:serviceaccounts:{namespace}",
                                       "system:authenticated")
    return False


@dataclass(frozen=True)
class Identity:
    user: str
    policy: Policy | None  # None: unrestricted

    @property
    def unrestricted(self) -> bool:
        return self.policy is None


@dataclass(frozen=True)
class Review:
    """The answer to a SelfSubjectAccessReview."""

    allowed: bool
    reason: str = ""


@dataclass
class Authorizer:
    """token -> identity. With no tokens at all, every request is anonymous and unrestricted."""

    tokens: dict[str, Identity] = field(default_factory=dict)
    on_denied: Callable[[str], None] | None = None  # told each 403's message (`chaos sim up` prints it)

    def add_token(self, token: str, rules: Sequence[PolicyRule] | Policy | None = None,
                  user: str = "") -> None:
        """An unrestricted token (rules None), one bound to bare rules cluster-wide, or one bound
        to a Policy (whose user names it, when it has one)."""
        if rules is None:
            policy = None
        elif isinstance(rules, Policy):
            policy = rules
        else:
            policy = Policy.cluster_wide(rules)
        name = user or (policy.user if policy is not None else "") or f"token-{len(self.tokens) + 1}"
        self.tokens[token] = Identity(name, policy)

    @property
    def required(self) -> bool:
        return bool(self.tokens)

    def identify(self, authorization: str | None) -> Identity | None:
        """The identity for an Authorization header; None means 401."""
        if not self.tokens:
            return Identity("system:anonymous", None)
        if not authorization or not authorization.startswith("Bearer "):
            return None
        return self.tokens.get(authorization[len("Bearer "):].strip())

    def authorize(self, identity: Identity, verb: str, group: str, resource: str, namespace: str | None,
                  name: str = "") -> None:
        """Raise Forbidden (403) unless the identity may do `verb` on `resource` in `namespace`
        (None: a cluster-scoped request, or one across every namespace)."""
        if identity.policy is None or identity.policy.grant_for(verb, group, resource, namespace, name):
            return
        base, _, sub = resource.partition("/")
        qualified = f"{base}.{group}" if group else base  # as the real message names it
        what = f'{qualified} "{name}"' if name else qualified
        scope = f'in the namespace "{namespace}"' if namespace else "at the cluster scope"
        noun = f'{base}/{sub}' if sub else base
        message = (f'{what} is forbidden: User "{identity.user}" cannot {verb} resource "{noun}" '
                   f'in API group "{group}" {scope}')
        if self.on_denied is not None:
            self.on_denied(message)
        raise Forbidden(message, status=403, reason="Forbidden")

    @staticmethod
    def review(identity: Identity, verb: str, group: str, resource: str, namespace: str | None,
               name: str = "") -> Review:
        """What a SelfSubjectAccessReview answers (RBAC's reason when allowed; none when not:
        RBAC has no opinion on what it does not grant)."""
        if identity.policy is None:
            return Review(True, "unrestricted token")
        grant = identity.policy.grant_for(verb, group, resource, namespace, name)
        if grant is None:
            return Review(False)
        to = f" to {identity.policy.subject}" if identity.policy.subject else ""
        return Review(True, f"RBAC: allowed by {grant.source}{to}")
