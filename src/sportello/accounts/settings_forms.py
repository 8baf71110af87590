"""Forms of the admins' settings pages for users and groups, and of the invitation page."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from sportello.accounts.models import Group, Role, User
from sportello.accounts.team import STAFF_ROLES
from sportello.automation.models import AssignmentMethod

STAFF_ROLE_CHOICES = [(role.value, role.label) for role in STAFF_ROLES]
LEVEL_CHOICES = [("", _("—")), *((str(n), str(n)) for n in range(1, 6))]


def _language_choices() -> list[tuple[str, Any]]:
    return [("", _("Same as the browser")), *settings.LANGUAGES]


def staff() -> QuerySet[User]:
    return User.objects.filter(is_active=True, role__in=STAFF_ROLES).order_by("first_name", "last_name", "username")


class PeopleFilterForm(forms.Form):
    role = forms.ChoiceField(
        label=_("Role"),
        required=False,
        choices=[("", _("Admins and agents")), *STAFF_ROLE_CHOICES, (Role.CUSTOMER.value, _("Customers (portal)"))],
    )
    active = forms.ChoiceField(
        label=_("Status"), required=False, choices=[("", _("Any")), ("yes", _("Active")), ("no", _("Deactivated"))]
    )
    q = forms.CharField(label=_("Name, username or email"), required=False, max_length=100)

    def filters(self) -> dict[str, str]:
        data = self.cleaned_data if self.is_bound and self.is_valid() else {}
        return {"role": data.get("role") or "", "active": data.get("active") or "", "text": data.get("q") or ""}


class InviteForm(forms.Form):
    email = forms.EmailField(label=_("Email"), max_length=150, help_text=_("The invitation goes here."))
    first_name = forms.CharField(label=_("First name"), max_length=150)
    last_name = forms.CharField(label=_("Last name"), max_length=150, required=False)
    role = forms.ChoiceField(label=_("Role"), choices=STAFF_ROLE_CHOICES, initial=Role.AGENT)
    groups = forms.ModelMultipleChoiceField(
        label=_("Groups"), queryset=Group.objects.all(), required=False, widget=forms.CheckboxSelectMultiple
    )
    language = forms.ChoiceField(
        label=_("Language"), required=False, help_text=_("Of the invitation and of their pages.")
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["language"].choices = _language_choices()  # type: ignore[attr-defined]


class PersonForm(forms.Form):
    """A staff user's account, groups, and what assignment knows of them (skills, capacity)."""

    first_name = forms.CharField(label=_("First name"), max_length=150, required=False)
    last_name = forms.CharField(label=_("Last name"), max_length=150, required=False)
    email = forms.EmailField(label=_("Email"), max_length=254)
    role = forms.ChoiceField(
        label=_("Role"),
        choices=STAFF_ROLE_CHOICES,
        help_text=_("Admins manage settings; agents work tickets; light agents read and add internal notes only."),
    )
    language = forms.ChoiceField(label=_("Language"), required=False)
    is_active = forms.BooleanField(
        label=_("Active"), required=False, help_text=_("A deactivated user cannot sign in; their API tokens stop.")
    )
    groups = forms.ModelMultipleChoiceField(
        label=_("Groups"), queryset=Group.objects.all(), required=False, widget=forms.CheckboxSelectMultiple
    )
    spoken_languages = forms.CharField(
        label=_("Languages spoken"),
        required=False,
        max_length=200,
        help_text=_("Codes separated by commas (it, de, en); assignment by skills prefers them."),
    )
    capacity = forms.IntegerField(
        label=_("Capacity (open tickets)"),
        required=False,
        min_value=0,
        max_value=10_000,
        help_text=_("Most new and open tickets assigned to them automatically; empty: their group's default."),
    )

    def __init__(self, *args: Any, skills: list[Any], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["language"].choices = _language_choices()  # type: ignore[attr-defined]
        self.skills = skills
        for skill in skills:
            self.fields[f"skill_{skill.pk}"] = forms.ChoiceField(
                label=skill.name, required=False, choices=LEVEL_CHOICES
            )

    def skill_fields(self) -> list[forms.BoundField]:
        return [self[f"skill_{skill.pk}"] for skill in self.skills]

    def account_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in ("first_name", "last_name", "email", "role", "language")]

    def clean_spoken_languages(self) -> list[str]:
        codes = [code.strip() for code in self.cleaned_data.get("spoken_languages", "").split(",") if code.strip()]
        for code in codes:
            if len(code) > 10 or not all(c.isalnum() or c in "-_" for c in code):
                raise forms.ValidationError(
                    _("“%(code)s” is not a language code such as it or pt-br.") % {"code": code}
                )
        return codes

    def chosen_skills(self) -> dict[Any, int | None]:
        """Skill → level for the skills given a level (1 basic … 5 expert)."""
        chosen: dict[Any, int | None] = {}
        for skill in self.skills:
            level = self.cleaned_data.get(f"skill_{skill.pk}")
            if level:
                chosen[skill] = int(level)
        return chosen


class AcceptInvitationForm(forms.Form):
    password1 = forms.CharField(
        label=_("Password"),
        strip=False,
        max_length=200,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=_("At least 8 characters, not a common password."),
    )
    password2 = forms.CharField(
        label=_("Password again"),
        strip=False,
        max_length=200,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("password1") and data.get("password2") and data["password1"] != data["password2"]:
            self.add_error("password2", _("The two passwords differ."))
        return data


# How a group hands out its tickets (automation.assignment), in the words admins choose by.
ASSIGNMENT_CHOICES = [
    (AssignmentMethod.NONE.value, _("Manual: agents take tickets or assign them")),
    (AssignmentMethod.ROUND_ROBIN.value, _("Round-robin: each online agent in turn")),
    (AssignmentMethod.LEAST_LOAD.value, _("Load balanced: the online agent with the fewest open tickets")),
    (AssignmentMethod.SKILLS.value, _("By skills: best skill and language match, then the fewest open tickets")),
]
assert {value for value, _label in ASSIGNMENT_CHOICES} == set(AssignmentMethod.values)
# The same, short, for the list of groups.
ASSIGNMENT_NAMES = {
    AssignmentMethod.NONE.value: _("Manual"),
    AssignmentMethod.ROUND_ROBIN.value: _("Round-robin"),
    AssignmentMethod.LEAST_LOAD.value: _("Load balanced"),
    AssignmentMethod.SKILLS.value: _("By skills"),
}


class GroupForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=100)
    description = forms.CharField(
        label=_("Description"), required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 3})
    )
    tier = forms.IntegerField(
        label=_("Tier (support level)"),
        min_value=1,
        max_value=9,
        initial=1,
        help_text=_("1 for first level; escalation goes to higher tiers. SLA policies and rules can match it."),
    )
    members = forms.ModelMultipleChoiceField(
        label=_("Members"), queryset=User.objects.none(), required=False, widget=forms.CheckboxSelectMultiple
    )
    assignment_method = forms.ChoiceField(
        label=_("Assignment of new tickets"),
        choices=ASSIGNMENT_CHOICES,
        initial=AssignmentMethod.NONE.value,
        required=False,  # not posted: left as it is
        help_text=_(
            "Automatic assignment gives a ticket that enters the group without an agent to one of its members "
            "who is active, online and below capacity."
        ),
    )
    default_capacity = forms.IntegerField(
        label=_("Default capacity (open tickets per agent)"),
        required=False,
        min_value=0,
        max_value=100_000,
        help_text=_(
            "Most new and open tickets automatic assignment gives each agent. An agent's own capacity, set on "
            "their page, comes first. Empty: no limit."
        ),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["members"].queryset = staff()  # type: ignore[attr-defined]


class DeleteGroupForm(forms.Form):
    move_to = forms.ModelChoiceField(
        label=_("Move its tickets to"), queryset=Group.objects.none(), required=False, empty_label=_("—")
    )

    def __init__(self, *args: Any, group: Group, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["move_to"].queryset = Group.objects.exclude(pk=group.pk)  # type: ignore[attr-defined]
