"""Sign-in policy: the switches an admin turns, and the rules that map an identity provider's claims
to a role and groups. The providers themselves are allauth's SocialApp rows (openid_connect, saml)."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from sportello.accounts.models import Group, Role


class SignInPolicy(models.Model):
    """One row (pk=1): read through `SignInPolicy.current()`."""

    agents_sso_only = models.BooleanField(
        _("Agents must use single sign-on"),
        default=False,
        help_text=_("Agents' local passwords are refused; superusers keep theirs (break-glass)."),
    )
    require_two_factor = models.BooleanField(
        _("Require two-factor for agents"),
        default=False,
        help_text=_("An agent without an authenticator app or a passkey is sent to set one up."),
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("sign-in policy")

    def __str__(self) -> str:
        return "sign-in policy"

    @classmethod
    def current(cls) -> SignInPolicy:
        return cls.objects.filter(pk=1).first() or cls(pk=1)


class ClaimRule(models.Model):
    """When a claim of a single sign-on holds a value, the user gets this role and group.

    The first matching rule (lowest position) gives the role; every matching rule adds its group.
    A sign-in that matches no rule is refused. `claim` names an OIDC claim or a SAML attribute;
    `email_domain` is the domain of the email the provider sends."""

    provider = models.CharField(
        _("Provider"), max_length=100, blank=True, help_text=_("The provider's id; empty: any provider.")
    )
    claim = models.CharField(_("Claim or attribute"), max_length=200)
    value = models.CharField(_("Value"), max_length=200)
    role = models.CharField(
        _("Role"),
        max_length=20,
        choices=[(r.value, r.label) for r in (Role.ADMIN, Role.AGENT, Role.LIGHT_AGENT)],
        default=Role.AGENT,
    )
    group = models.ForeignKey(Group, verbose_name=_("Group"), null=True, blank=True, on_delete=models.CASCADE)
    position = models.PositiveIntegerField(_("Order"), default=10)

    class Meta:
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return f"{self.claim} = {self.value} → {self.role}"
