"""The forms of the sign-in settings page."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.validators import RegexValidator
from django.utils.translation import gettext_lazy as _

from sportello.accounts.models import Group
from sportello.sso.models import ClaimRule, SignInPolicy

slug = RegexValidator(r"^[a-z0-9][a-z0-9-]{0,49}$", _("Lowercase letters, digits and hyphens, up to 50."))


class PolicyForm(forms.ModelForm):
    class Meta:
        model = SignInPolicy
        fields = ["agents_sso_only", "require_two_factor"]


class OidcProviderForm(forms.Form):
    name = forms.CharField(label=_("Name on the sign-in button"), max_length=40)
    provider_id = forms.CharField(
        label=_("Identifier"), max_length=50, validators=[slug], help_text=_("Part of the callback address.")
    )
    server_url = forms.URLField(
        label=_("Issuer or discovery URL"),
        max_length=500,
        assume_scheme="https",
        help_text=_(
            "Such as https://login.example.com/realms/staff; /.well-known/openid-configuration is read from it."
        ),
    )
    client_id = forms.CharField(label=_("Client ID"), max_length=191)
    secret = forms.CharField(
        label=_("Client secret"),
        max_length=191,
        required=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text=_("Never shown again; leave empty to keep the saved one."),
    )

    def __init__(self, *args: Any, editing: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.editing = editing
        if editing:
            self.fields["provider_id"].disabled = True

    def clean_secret(self) -> str:
        secret: str = self.cleaned_data["secret"]
        if not secret and not self.editing:
            raise forms.ValidationError(_("Enter the client secret the identity provider gave you."))
        return secret


class SamlProviderForm(forms.Form):
    name = forms.CharField(label=_("Name on the sign-in button"), max_length=40)
    slug = forms.CharField(
        label=_("Identifier"),
        max_length=50,
        validators=[slug],
        help_text=_("Part of the SAML addresses (ACS, metadata)."),
    )
    entity_id = forms.CharField(label=_("Identity provider's entity ID"), max_length=500)
    metadata_url = forms.URLField(label=_("Metadata URL"), max_length=500, required=False, assume_scheme="https")
    metadata_xml = forms.CharField(
        label=_("or metadata XML"),
        required=False,
        max_length=200_000,
        widget=forms.Textarea(attrs={"rows": 6}),
        help_text=_("Paste the identity provider's metadata when it has no URL."),
    )

    def __init__(self, *args: Any, editing: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if editing:
            self.fields["slug"].disabled = True

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not data.get("metadata_url") and not data.get("metadata_xml", "").strip() and not self.initial.get("slug"):
            raise forms.ValidationError(_("Give the metadata URL or paste the metadata XML."))
        return data


class ClaimRuleForm(forms.ModelForm):
    class Meta:
        model = ClaimRule
        fields = ["provider", "claim", "value", "role", "group", "position"]
        help_texts = {
            "claim": _("An OIDC claim (groups, email, hd…), a SAML attribute name, or email_domain."),
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        group = self.fields["group"]
        if isinstance(group, forms.ModelChoiceField):  # what a ModelForm makes of the foreign key
            group.queryset = Group.objects.order_by("tier", "name")
