"""Agent account use cases: the profile (language, time zone), API tokens and groups."""

from __future__ import annotations

import zoneinfo
from datetime import datetime
from functools import cache
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from sportello.accounts import token_cache
from sportello.accounts.models import ApiToken, Group, Role, Scope, User
from sportello.core.errors import Conflict, Forbidden, InvalidInput

STAFF_ROLES = (Role.ADMIN, Role.AGENT, Role.LIGHT_AGENT)


@cache
def time_zones() -> tuple[str, ...]:
    """The IANA zones an agent may choose, sorted (UTC first)."""
    zones = zoneinfo.available_timezones()
    return ("UTC", *sorted(zone for zone in zones if "/" in zone and not zone.startswith("Etc/")))


def update_profile(user: User, *, language: str, time_zone: str) -> User:
    """Save an agent's language ("" follows the browser) and time zone for every page they open."""
    if not user.is_staff_member:
        raise Forbidden("The profile is for agents and admins")
    if language and language not in dict(settings.LANGUAGES):
        raise InvalidInput(f"Unknown language {language!r}", field="language")
    if time_zone not in time_zones():
        raise InvalidInput(f"Unknown time zone {time_zone!r}", field="time_zone")
    User.objects.filter(pk=user.pk).update(language=language, time_zone=time_zone)
    user.language, user.time_zone = language, time_zone
    return user


def create_token(
    user: User,
    name: str,
    *,
    scopes: list[str] | None = None,
    expires_at: datetime | None = None,
) -> tuple[ApiToken, str]:
    """A new personal API token; the key is returned once and only its hash is stored.
    Without `scopes`, read and write (and admin for an admin); without `expires_at`, it never expires."""
    if not user.is_staff_member:
        raise Forbidden("API tokens are for agents and admins")
    if scopes is not None:
        unknown = sorted(set(scopes) - set(Scope.values))
        if unknown or not scopes:
            raise InvalidInput(f"Scopes are read, write and admin; not {', '.join(unknown) or 'none'}", field="scopes")
        if Scope.ADMIN in scopes and not user.is_admin:
            raise Forbidden("Only admins may give a token the admin scope")
    if expires_at is not None and expires_at <= timezone.now():
        raise InvalidInput("The expiry must be in the future", field="expires_at")
    return ApiToken.issue(user, (name or "token").strip()[:100], scopes=scopes, expires_at=expires_at)


def revoke_token(token_id: int, *, owner: User | None = None) -> bool:
    """Revoke an active token (of `owner`, when given); False when there was none to revoke."""
    from sportello.audit import services as audit
    from sportello.audit.models import Action

    tokens = ApiToken.objects.filter(pk=token_id, revoked_at__isnull=True)
    if owner is not None:
        tokens = tokens.filter(user=owner)
    with transaction.atomic():
        token = tokens.select_related("user").first()
        revoked = token is not None and tokens.update(revoked_at=timezone.now()) == 1
        if token is not None and revoked:
            audit.record(
                Action.TOKEN_REVOKED,
                target=token,
                after={"name": token.name, "hint": token.hint, "user": token.user.get_username()},
            )
    if revoked:
        token_cache.forget_tokens()  # an UPDATE sends no save signal: the token stops working at once
    return revoked


def save_group(group: Group, fields: dict[str, Any], members: list[int] | None) -> Group:
    """Create or change a group; its name is unique and its members must be agents."""
    agents = list(User.objects.filter(pk__in=members or [], is_active=True, role__in=STAFF_ROLES))
    if members is not None and len(agents) != len(set(members)):
        unknown = sorted(set(members) - {agent.pk for agent in agents})
        raise InvalidInput(f"Not agents: {', '.join(map(str, unknown))}", field="members")
    for name, value in fields.items():
        setattr(group, name, value)
    try:
        with transaction.atomic():
            group.save()
            if members is not None:
                group.members.set(agents)
    except IntegrityError as exc:
        raise Conflict(f"A group named {group.name!r} already exists", field="name") from exc
    return group
