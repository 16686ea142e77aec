"""RBAC-lite for the embedded API server: bearer tokens bound to PolicyRules.

Enough to prove a least-privilege manifest: each token is either unrestricted or bound to the rules
of ClusterRole/Role documents (apiGroups, resources incl. subresources like `pods/log`, verbs,
resourceNames, `*` wildcards). A denied request gets the real server's 403 message. It must not know
about HTTP; the API server asks `Authorizer.authorize`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from runner.errors import Forbidden


@dataclass(frozen=True)
class PolicyRule:
    api_groups: frozenset[str]
    resources: frozenset[str]
    verbs: frozenset[str]
    resource_names: frozenset[str] = frozenset()

    @classmethod
    def from_dict(cls, rule: dict[str, Any]) -> PolicyRule:
        return cls(frozenset(rule.get("apiGroups") or []), frozenset(rule.get("resources") or []),
                   frozenset(rule.get("verbs") or []), frozenset(rule.get("resourceNames") or []))

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


def load_rules(path: Path) -> list[PolicyRule]:
    """Every rule of every ClusterRole/Role document in a YAML file (ValueError if malformed)."""
    rules: list[PolicyRule] = []
    try:
        docs = list(yaml.safe_load_all(Path(path).read_text()))
    except yaml.YAMLError as exc:
        raise ValueError(f"{path}: not valid YAML: {exc}") from exc
    for doc in docs:
        if isinstance(doc, dict) and doc.get("kind") in ("ClusterRole", "Role"):
            rules.extend(PolicyRule.from_dict(r) for r in doc.get("rules") or [])
    return rules


@dataclass(frozen=True)
class Identity:
    user: str
    rules: tuple[PolicyRule, ...] | None  # None: unrestricted


@dataclass
class Authorizer:
    """token -> identity. With no tokens at all, every request is anonymous and unrestricted."""

    tokens: dict[str, Identity] = field(default_factory=dict)

    def add_token(self, token: str, rules: list[PolicyRule] | None = None, user: str = "") -> None:
        self.tokens[token] = Identity(user or f"token-{len(self.tokens) + 1}",
                                      None if rules is None else tuple(rules))

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

    @staticmethod
    def authorize(identity: Identity, verb: str, group: str, resource: str, namespace: str | None,
                  name: str = "") -> None:
        """Raise Forbidden (403) unless the identity may do `verb` on `resource`."""
        if identity.rules is None or any(r.allows(verb, group, resource, name) for r in identity.rules):
            return
        base, _, sub = resource.partition("/")
        qualified = f"{base}.{group}" if group else base  # as the real message names it
        what = f'{qualified} "{name}"' if name else qualified
        scope = f'in the namespace "{namespace}"' if namespace else "at the cluster scope"
        noun = f'{base}/{sub}' if sub else base
        raise Forbidden(f'{what} is forbidden: User "{identity.user}" cannot {verb} resource "{noun}" '
                        f'in API group "{group}" {scope}', status=403, reason="Forbidden")
