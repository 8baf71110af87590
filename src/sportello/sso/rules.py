"""Claims to role and groups: which user a single sign-on makes, or refuses."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.db import transaction

from sportello.accounts.models import Group, User
from sportello.sso.models import ClaimRule


@dataclass(frozen=True)
class Decision:
    role: str
    groups: list[Group] = field(default_factory=list)


def claims_of(extra_data: dict[str, Any], email: str) -> dict[str, Any]:
    """One flat dict of what the provider said: OIDC's ID token and userinfo claims (userinfo wins),
    or SAML's attributes (name → list of values), plus `email_domain`."""
    if "userinfo" in extra_data or "id_token" in extra_data:
        claims = {**(extra_data.get("id_token") or {}), **(extra_data.get("userinfo") or {})}
    else:
        claims = dict(extra_data)
    claims["email_domain"] = email.rpartition("@")[2].lower() if "@" in email else ""
    return claims


def _holds(claims: dict[str, Any], rule: ClaimRule) -> bool:
    found = claims.get(rule.claim)
    if found is None:
        return False
    values = found if isinstance(found, list | tuple) else [found]
    wanted = rule.value.strip()
    if rule.claim == "email_domain":
        return any(str(v).lower() == wanted.lower() for v in values)
    return any(str(v) == wanted for v in values)


def decide(provider: str, claims: dict[str, Any]) -> Decision | None:
    """The role of the first matching rule and the groups of every matching one; None: refused."""
    rules = ClaimRule.objects.filter(provider__in=["", provider]).select_related("group")
    matching = [rule for rule in rules if _holds(claims, rule)]
    if not matching:
        return None
    groups = [rule.group for rule in matching if rule.group is not None]
    return Decision(role=matching[0].role, groups=list(dict.fromkeys(groups)))


def to_state(decision: Decision) -> dict[str, Any]:
    """The decision in the session (a sign-up may finish on a later request)."""
    return {"role": decision.role, "groups": [group.pk for group in decision.groups]}


def from_state(state: dict[str, Any] | None) -> Decision | None:
    if not state:
        return None
    return Decision(role=state["role"], groups=list(Group.objects.filter(pk__in=state["groups"])))


@transaction.atomic
def apply_decision(user: User, decision: Decision) -> None:
    """The identity provider is the source of truth: each sign-in sets the role and adds the groups.
    A superuser's role is left alone, so a provider's mistake cannot lock out the break-glass account."""
    if not user.is_superuser and user.role != decision.role:
        user.role = decision.role
        user.save(update_fields=["role"])
    for group in decision.groups:
        group.members.add(user)
