"""Forms of the customer and organization pages: they parse what an agent posts."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from sportello.customers.models import Customer, IdentityKind, Organization
from sportello.fields import forms as custom_field_forms


class CustomerForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=200, required=False)
    organization = forms.ModelChoiceField(
        label=_("Organization"), queryset=Organization.objects.order_by("name"), required=False,
        empty_label=_("(none)"),
    )  # fmt: skip
    language = forms.ChoiceField(label=_("Language"), choices=settings.LANGUAGES)
    notes = forms.CharField(label=_("Notes"), widget=forms.Textarea(attrs={"rows": 3}), required=False)

    @classmethod
    def for_customer(cls, customer: Customer) -> CustomerForm:
        return cls(
            initial={
                "name": customer.name,
                "organization": customer.organization_id,
                "language": customer.language,
                "notes": customer.notes,
            }
        )

    def changes(self, customer: Customer) -> dict[str, Any]:
        """The fields whose value differs from the file's."""
        data = self.cleaned_data
        found: dict[str, Any] = {}
        for name in ("name", "language", "notes"):
            if data[name] != getattr(customer, name):
                found[name] = data[name]
        organization = data["organization"]
        if (organization.pk if organization else None) != customer.organization_id:
            found["organization"] = organization
        custom = custom_field_forms.posted_values("customer", self.data)
        if custom:  # checked and compared with the stored values by update_customer
            found["custom_fields"] = custom
        return found


class IdentityForm(forms.Form):
    kind = forms.ChoiceField(label=_("Kind"), choices=IdentityKind.choices)
    value = forms.CharField(label=_("Address, number or handle"), max_length=254)


class NoteForm(forms.Form):
    body = forms.CharField(label=_("Note"), widget=forms.Textarea(attrs={"rows": 3}), max_length=20_000)


class MergeForm(forms.Form):
    duplicate = forms.IntegerField(min_value=1, max_value=2**63 - 1)


class OrganizationForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=200)
    domain = forms.CharField(label=_("Mail domain"), max_length=200, required=False)
    shared_tickets = forms.BooleanField(label=_("Members see each other's tickets in the portal"), required=False)
    notes = forms.CharField(label=_("Notes"), widget=forms.Textarea(attrs={"rows": 3}), required=False)

    @classmethod
    def for_organization(cls, organization: Organization) -> OrganizationForm:
        return cls(
            initial={
                "name": organization.name,
                "domain": organization.domain,
                "shared_tickets": organization.shared_tickets,
                "notes": organization.notes,
            }
        )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        # The custom fields' inputs (fields/_inputs.html), checked by the organization services.
        data["custom_fields"] = custom_field_forms.posted_values("organization", self.data)
        return data
