from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    ADMIN = "admin", _("Admin")
    AGENT = "agent", _("Agent")
    LIGHT_AGENT = "light_agent", _("Light agent (notes only)")
    CUSTOMER = "customer", _("Customer")
    # The actor of automation (triggers, time rules): never signs in, never in agent lists.
    SYSTEM = "system", _("System")


class Availability(models.TextChoices):
    # Shown to agents ("Marco (Offline)" in the console's transfer list): in their language.
    ONLINE = "online", _("Online")
    AWAY = "away", _("Away")
    OFFLINE = "offline", _("Offline")


class User(AbstractUser):
    """Everyone who signs in: agents, light agents, admins, and customers using the portal."""

    role = models.CharField(max_length=20, choices=Role.choices, default=Role.AGENT)
    # The agent UI's language (settings.LANGUAGES), chosen on the profile page; "" follows the browser.
    language = models.CharField(max_length=10, default="", blank=True)
    # An IANA zone name ("Europe/Rome") every date on the agent's pages is shown in.
    time_zone = models.CharField(max_length=64, default="UTC")
    availability = models.CharField(max_length=10, choices=Availability.choices, default=Availability.OFFLINE)
    # An agent restricted to groups sees only the tickets of the groups they belong to.
    restricted_to_groups = models.BooleanField(default=False)

    @property
    def is_staff_member(self) -> bool:
        """Agents, light agents and admins work tickets; customers never do."""
        return self.is_active and self.role in {Role.ADMIN, Role.AGENT, Role.LIGHT_AGENT, Role.SYSTEM}

    @property
    def can_reply(self) -> bool:
        return self.is_active and self.role in {Role.ADMIN, Role.AGENT, Role.SYSTEM}

    # Set by the API's token authentication for one request: the token's scopes (None otherwise).
    token_scopes: frozenset[str] | None = None

    @property
    def is_admin(self) -> bool:
        """An active admin; through an API token, only when the token has the `admin` scope."""
        return self._admin_role and (self.token_scopes is None or "admin" in self.token_scopes)

    @property
    def lacks_admin_scope(self) -> bool:
        """An admin calling through a token without the `admin` scope."""
        return self._admin_role and self.token_scopes is not None and "admin" not in self.token_scopes

    @property
    def _admin_role(self) -> bool:
        return self.is_active and (self.role == Role.ADMIN or self.is_superuser)

    @property
    def display_name(self) -> str:
        return self.get_full_name() or self.username


class Group(models.Model):
    """A team of agents: a department, or a support level (tier 1, 2, 3)."""

    name = models.CharField(max_length=100, unique=True)
    description = models.TextField(blank=True)
    tier = models.PositiveSmallIntegerField(default=1)
    members = models.ManyToManyField(User, related_name="support_groups", blank=True)

    class Meta:
        ordering = ["tier", "name"]

    def __str__(self) -> str:
        return self.name


def _hash_token(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class Scope(models.TextChoices):
    """What a token may do; the agent's own permissions still apply on top."""

    READ = "read", _("Read (GET)")
    WRITE = "write", _("Write (create, change, delete)")
    ADMIN = "admin", _("Admin (admin-only operations, for admins)")


SCOPE_ORDER = (Scope.READ, Scope.WRITE, Scope.ADMIN)


def default_scopes(user: User) -> list[str]:
    """All a user's tokens could hold: read and write, and admin for an admin."""
    return [Scope.READ, Scope.WRITE, *([Scope.ADMIN] if user.is_admin else [])]


class ApiTokenQuerySet(models.QuerySet["ApiToken"]):
    def active(self) -> ApiTokenQuerySet:
        return self.filter(revoked_at__isnull=True, user__is_active=True)


class ApiToken(models.Model):
    """A personal API token. Only its SHA-256 is stored; the key is shown once, on creation."""

    PREFIX = "spt_"

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100)
    key_hash = models.CharField(max_length=64, unique=True)
    hint = models.CharField(max_length=12)
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    # Space-separated, in SCOPE_ORDER: "read write", "read", "read write admin".
    scopes = models.CharField(max_length=32, default="read write")
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = ApiTokenQuerySet.as_manager()

    def __str__(self) -> str:
        return f"{self.name} ({self.hint}…)"

    @classmethod
    def issue(
        cls,
        user: User,
        name: str,
        *,
        scopes: list[str] | None = None,
        expires_at: datetime | None = None,
    ) -> tuple[ApiToken, str]:
        """A new token; without `scopes`, all the user could hold (default_scopes)."""
        chosen = set(default_scopes(user) if scopes is None else scopes)
        key = cls.PREFIX + secrets.token_urlsafe(32)
        token = cls.objects.create(
            user=user,
            name=name,
            key_hash=_hash_token(key),
            hint=key[:10],
            scopes=" ".join(scope for scope in SCOPE_ORDER if scope in chosen),
            expires_at=expires_at,
        )
        return token, key

    @property
    def scope_list(self) -> list[str]:
        return self.scopes.split()

    def is_expired(self, now: datetime | None = None) -> bool:
        return self.expires_at is not None and self.expires_at <= (now or timezone.now())

    @classmethod
    def find(cls, key: str) -> ApiToken | None:
        if not key.startswith(cls.PREFIX) or len(key) > 200:
            return None
        return cls.objects.active().select_related("user").filter(key_hash=_hash_token(key)).first()
