"""Writes of the sign-in settings: identity providers (allauth's SocialApp rows) and claim rules."""

from __future__ import annotations

from typing import Any

from allauth.socialaccount.models import SocialApp
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _
from onelogin.saml2.idp_metadata_parser import OneLogin_Saml2_IdPMetadataParser

from sportello.core.errors import InvalidInput, NotFound
from sportello.sso.models import ClaimRule, SignInPolicy

OIDC = "openid_connect"
SAML = "saml"

# Where the usual SAML identity providers put who signs in (allauth's defaults plus the short LDAP
# names that Keycloak, Shibboleth and pysaml2 send).
SAML_ATTRIBUTES: dict[str, list[str]] = {
    "uid": ["urn:oasis:names:tc:SAML:attribute:subject-id", "uid", "urn:oid:0.9.2342.19200300.100.1.1"],
    "email": [
        "urn:oid:0.9.2342.19200300.100.1.3",
        "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress",
        "urn:oid:1.2.840.113549.1.9.1.1",  # PKCS #9 emailAddress
        "email",
        "mail",
    ],
    "email_verified": ["http://schemas.auth0.com/email_verified", "email_verified"],
    "first_name": ["http://schemas.xmlsoap.org/ws/2005/05/identity/claims/givenname", "urn:oid:2.5.4.42", "givenName"],
    "last_name": ["urn:oid:2.5.4.4", "sn", "surname"],
    "username": ["uid"],
}


def save_policy(*, agents_sso_only: bool, require_two_factor: bool) -> SignInPolicy:
    if agents_sso_only and not SocialApp.objects.exists():
        raise InvalidInput(
            _("Add an identity provider first: with no single sign-on, agents could not sign in."),
            field="agents_sso_only",
        )
    policy = SignInPolicy.current()
    policy.agents_sso_only = agents_sso_only
    policy.require_two_factor = require_two_factor
    policy.save()
    return policy


def save_oidc_provider(
    app: SocialApp | None, *, name: str, provider_id: str, server_url: str, client_id: str, secret: str
) -> SocialApp:
    """A new OpenID Connect provider, or changes to one; an empty secret keeps the saved one."""
    if app is None:
        app = SocialApp(provider=OIDC, provider_id=provider_id)
    app.name = name
    app.client_id = client_id
    if secret:
        app.secret = secret
    app.settings = {**(app.settings or {}), "server_url": server_url.rstrip("/")}
    return _save(app, "provider_id")


def saml_idp_settings(*, entity_id: str, metadata_url: str, metadata_xml: str) -> dict[str, Any]:
    """What allauth's SAML provider reads: the metadata URL (fetched and cached at sign-in), or the
    single sign-on URL and certificate read now from pasted metadata."""
    if metadata_url:
        return {"entity_id": entity_id, "metadata_url": metadata_url}
    try:
        parsed = OneLogin_Saml2_IdPMetadataParser.parse(metadata_xml, entity_id=entity_id)
    except Exception as err:  # lxml's and the parser's many errors: all mean "not metadata"
        message = _("This is not SAML metadata: %(error)s") % {"error": str(err)[:200]}
        raise InvalidInput(message, field="metadata_xml") from err
    idp = parsed.get("idp") or {}
    sso_url = (idp.get("singleSignOnService") or {}).get("url")
    cert = idp.get("x509cert") or next(iter((idp.get("x509certMulti") or {}).get("signing", [])), None)
    if not sso_url or not cert:
        raise InvalidInput(
            _(
                "The metadata has no identity provider with entity ID %(entity)s, "
                "a sign-on URL and a signing certificate."
            )
            % {"entity": entity_id},
            field="metadata_xml",
        )
    return {"entity_id": entity_id, "sso_url": sso_url, "x509cert": cert}


def save_saml_provider(
    app: SocialApp | None, *, name: str, slug: str, entity_id: str, metadata_url: str, metadata_xml: str
) -> SocialApp:
    if app is None:
        app = SocialApp(provider=SAML, client_id=slug)
    idp = (app.settings or {}).get("idp", {})
    if metadata_url or metadata_xml.strip():
        idp = saml_idp_settings(entity_id=entity_id, metadata_url=metadata_url, metadata_xml=metadata_xml)
    idp["entity_id"] = entity_id
    app.name = name
    app.settings = {**(app.settings or {}), "idp": idp, "attribute_mapping": SAML_ATTRIBUTES}
    return _save(app, "slug")


def _save(app: SocialApp, field: str) -> SocialApp:
    taken = SocialApp.objects.exclude(pk=app.pk).filter(provider=app.provider)
    key = {"provider_id": app.provider_id} if app.provider == OIDC else {"client_id": app.client_id}
    if taken.filter(**key).exists():
        raise InvalidInput(_("Another provider already has this identifier."), field=field)
    try:
        with transaction.atomic():
            app.save()
    except IntegrityError as err:
        raise InvalidInput(_("Another provider already has this identifier."), field=field) from err
    return app


def provider(app_id: int) -> SocialApp:
    app = SocialApp.objects.filter(pk=app_id, provider__in=[OIDC, SAML]).first()
    if app is None:
        raise NotFound("No such identity provider")
    return app


def delete_provider(app_id: int) -> None:
    app = provider(app_id)
    if SignInPolicy.current().agents_sso_only and SocialApp.objects.count() == 1:
        raise InvalidInput(_("Turn off “Agents must use single sign-on” before removing the last provider."))
    app.delete()


def add_claim_rule(**fields: Any) -> ClaimRule:
    return ClaimRule.objects.create(**fields)


def delete_claim_rule(rule_id: int) -> None:
    if not ClaimRule.objects.filter(pk=rule_id).delete()[0]:
        raise NotFound("No such rule")
