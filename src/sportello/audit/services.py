"""Writing the audit trail (`record`), and the retention sweep.

`record` is one INSERT. Who acted and from where comes from the arguments, or else from the request
being served (set by `middleware.CurrentRequestMiddleware`), so hooks deep in a save need not be
handed the request."""

from __future__ import annotations

import getpass
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import date, datetime, time, timedelta
from ipaddress import ip_address
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from django.conf import settings
from django.db import models
from django.http import HttpRequest
from django.utils import timezone

from sportello.audit.models import Action, AuditEvent

log = logging.getLogger("sportello.audit")

current_request: ContextVar[HttpRequest | None] = ContextVar("sportello_audit_request", default=None)
# Who acts when there is no request: a management command run from the server's shell.
current_actor_label: ContextVar[str] = ContextVar("sportello_audit_actor_label", default="")

DEFAULT_RETENTION_DAYS = 730


def retention_days() -> int:
    value: Any = getattr(settings, "SPORTELLO_AUDIT_RETENTION_DAYS", None)
    if value is None:
        value = os.environ.get("SPORTELLO_AUDIT_RETENTION_DAYS", DEFAULT_RETENTION_DAYS)
    try:
        return int(value)
    except (TypeError, ValueError):
        return DEFAULT_RETENTION_DAYS


def request_ip(request: HttpRequest | None) -> str | None:
    """The client's address as the server reports it (see core.ratelimit.client_ip), if valid."""
    if request is None:
        return None
    value = str(request.META.get("REMOTE_ADDR", "") or "")
    try:
        return str(ip_address(value))
    except ValueError:
        return None


def request_user(request: HttpRequest | None) -> Any:
    """The signed-in user of the request (session or API token), or None."""
    if request is None:
        return None
    user = getattr(request, "auth", None)  # Django Ninja: the token's user
    if getattr(user, "is_authenticated", False):
        return user
    user = getattr(request, "user", None)
    if getattr(user, "is_authenticated", False):
        return user
    return None


def record(
    action: str,
    *,
    target: models.Model | None = None,
    target_type: str = "",
    target_id: str | int = "",
    target_label: str = "",
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    actor: Any = None,
    actor_label: str = "",
    request: HttpRequest | None = None,
) -> AuditEvent:
    """Append one event. `actor`/`request` default to the request being served, if any."""
    request = request if request is not None else current_request.get()
    if actor is None:
        actor = request_user(request)
    if target is not None:
        target_type = target_type or target._meta.label_lower
        target_id = target_id or target.pk or ""
        target_label = target_label or str(target)
    if actor is None and not actor_label:
        actor_label = current_actor_label.get()
    return AuditEvent.objects.create(
        actor=actor if getattr(actor, "pk", None) else None,
        actor_label=(actor_label or (actor.get_username() if actor is not None else ""))[:150],
        actor_ip=request_ip(request),
        action=action[:40],
        target_type=target_type[:100],
        target_id=str(target_id)[:64],
        target_label=target_label[:200],
        before=before or {},
        after=after or {},
    )


@contextmanager
def acting_as(label: str) -> Iterator[None]:
    """Name who acts for the events recorded inside, when no signed-in user does: for example
    `with acting_as(command_actor("sso_policy")):` in a management command."""
    token = current_actor_label.set(label[:150])
    try:
        yield
    finally:
        current_actor_label.reset(token)


def command_actor(command: str) -> str:
    """ "shell:<command> (<system user>)": a command run on the server, by whom the system knows."""
    try:
        who = getpass.getuser()
    except (KeyError, OSError):  # no name for this uid (a container)
        who = str(os.getuid()) if hasattr(os, "getuid") else "?"
    return f"shell:{command} ({who})"


def trail_url(url: str) -> str:
    """An address as the trail keeps it: no user or password, no query (either may hold a key)."""
    try:
        parts = urlsplit(str(url))
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "(not a URL)"
    if not parts.scheme or not host:
        return "(not a URL)"
    netloc = f"[{host}]{port}" if ":" in host else f"{host}{port}"
    return urlunsplit((parts.scheme, netloc, parts.path, "…" if parts.query else "", ""))[:500]


def power_used(
    power: str,
    *,
    target: models.Model | None = None,
    target_type: str = "",
    target_label: str = "",
    details: dict[str, Any] | None = None,
    actor: Any = None,
    request: HttpRequest | None = None,
) -> AuditEvent:
    """An admin used a power that changes no setting (a webhook's test call, a retry, resending an
    invitation): which power, on what, with what outcome (`details`, never a secret)."""
    return record(
        Action.ADMIN_POWER,
        target=target,
        target_type=target_type,
        target_label=target_label,
        after={"power": power, **(details or {})},
        actor=actor,
        request=request,
    )


def sweep_old_events(days: int | None = None) -> int:
    """Delete the events older than the retention period; return how many went. The only path
    that removes audit rows: it goes around the append-only queryset on purpose."""
    days = retention_days() if days is None else days
    if days <= 0:
        return 0
    cutoff = timezone.now() - timedelta(days=days)
    old = AuditEvent.objects.filter(at__lt=cutoff)
    deleted, _ = models.QuerySet.delete(old)
    if deleted:
        log.info("audit sweep removed %d events older than %d days", deleted, days)
    return deleted


def filter_events(
    *,
    action: str = "",
    actor: str = "",
    since: date | None = None,
    until: date | None = None,
    text: str = "",
) -> models.QuerySet[AuditEvent]:
    """The events matching the filters of the settings page and the API, newest first.

    `actor` matches the username (also of deleted users, kept in actor_label); the dates are
    days in the current time zone, both included; `text` is found in the target's label."""
    events = AuditEvent.objects.all()
    if action:
        events = events.filter(action=action)
    if actor:
        events = events.filter(actor_label__iexact=actor.strip())
    zone = timezone.get_current_timezone()
    if since:
        events = events.filter(at__gte=datetime.combine(since, time.min, tzinfo=zone))
    if until:
        events = events.filter(at__lt=datetime.combine(until + timedelta(days=1), time.min, tzinfo=zone))
    if text:
        events = events.filter(target_label__icontains=text.strip())
    return events.order_by("-at", "-id")
