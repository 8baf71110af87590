"""The forms of the SLA settings pages: a policy (conditions and targets) and a calendar (opening
hours and holidays), as inputs an admin fills in, never JSON.

Durations are typed as hours: "4", "1:30", "90m", "1h 30m" or "1.5"; the model keeps minutes.
A calendar's week is seven rows of opening intervals (a few per day, one more than stored), and
its holidays are rows to fill in, tick "remove" on, or leave empty.
"""

from __future__ import annotations

import re
from datetime import time
from decimal import Decimal, InvalidOperation
from itertools import pairwise
from typing import Any
from zoneinfo import available_timezones

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from sportello.accounts.models import Group
from sportello.customers.models import Organization
from sportello.sla.models import Calendar, Policy, parse_countries
from sportello.sla.services import TARGETS, HolidayIn, IntervalIn, TargetIn
from sportello.tickets.models import Channel, Priority, Tag

MAX_MINUTES = 10 * 365 * 24 * 60
TARGET_LABELS = {
    "first_response": _("First response"),
    "next_response": _("Next response"),
    "resolution": _("Resolution"),
}
WEEKDAY_LABELS = [
    _("Monday"),
    _("Tuesday"),
    _("Wednesday"),
    _("Thursday"),
    _("Friday"),
    _("Saturday"),
    _("Sunday"),
]
INTERVAL_SLOTS = 3  # opening intervals shown per day (one more than stored when a day has more)
HOLIDAY_SLOTS = 3  # empty holiday rows shown for adding


# --- Durations ----------------------------------------------------------------------------------------

_HOURS_MINUTES = re.compile(r"^(?:(?P<h>\d+)\s*h)?\s*(?:(?P<m>\d+)\s*m(?:in)?)?$")


def parse_duration(text: str) -> int:
    """ "4" / "1.5" (hours), "1:30", "90m", "2h", "1h 30m" → minutes; ValueError otherwise."""
    text = text.strip().lower().replace(",", ".")
    if ":" in text:
        hours, _sep, minutes = text.partition(":")
        if hours.isdigit() and minutes.isdigit() and len(minutes) == 2 and int(minutes) < 60:
            return int(hours) * 60 + int(minutes)
        raise ValueError(text)
    found = _HOURS_MINUTES.match(text)
    if found and (found["h"] or found["m"]):
        return int(found["h"] or 0) * 60 + int(found["m"] or 0)
    try:
        hours_value = Decimal(text)
    except InvalidOperation as exc:
        raise ValueError(text) from exc
    if not hours_value.is_finite() or hours_value < 0:
        raise ValueError(text)
    minutes_value = hours_value * 60
    if minutes_value != minutes_value.to_integral_value():
        raise ValueError(text)
    return int(minutes_value)


def format_duration(minutes: int | None) -> str:
    """Minutes as the form shows them: "4" for whole hours, "1:30" otherwise, "" for none."""
    if minutes is None:
        return ""
    hours, rest = divmod(minutes, 60)
    return str(hours) if rest == 0 else f"{hours}:{rest:02d}"


class DurationField(forms.CharField):
    """A duration in hours and minutes, cleaned to minutes (None when left empty)."""

    def __init__(self, *, min_minutes: int = 1, **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        kwargs.setdefault("max_length", 20)
        kwargs.setdefault("widget", forms.TextInput(attrs={"inputmode": "decimal", "size": 6}))
        super().__init__(**kwargs)
        self.min_minutes = min_minutes

    def prepare_value(self, value: Any) -> Any:
        return format_duration(value) if isinstance(value, int) else value

    def clean(self, value: Any) -> int | None:
        text = super().clean(value)
        if not text:
            return None
        try:
            minutes = parse_duration(text)
        except ValueError:
            raise ValidationError(
                _("“%(value)s” is not a duration: write hours such as 4, 1:30, 1.5 or 45m."),
                params={"value": text},
            ) from None
        if minutes < self.min_minutes:
            raise ValidationError(_("At least %(minutes)s minute(s)."), params={"minutes": self.min_minutes})
        if minutes > MAX_MINUTES:
            raise ValidationError(_("At most ten years."))
        return minutes


# --- Policies -----------------------------------------------------------------------------------------


class CalendarChoice(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return str(_("Business hours: %(calendar)s (%(zone)s)") % {"calendar": obj.name, "zone": obj.time_zone})


# What a ticked checkbox posts (a browser sends "on"; scripts may send "true", "1" or "yes").
CONFIRMED = frozenset({"on", "true", "1", "yes"})


class PolicyForm(forms.Form):
    """A policy as typed: its name and order, which tickets it takes, and its targets per priority."""

    name = forms.CharField(label=_("Name"), max_length=100)
    active = forms.BooleanField(label=_("Active"), required=False, initial=True)
    position = forms.IntegerField(
        label=_("Position"),
        min_value=0,
        max_value=2_000_000_000,
        help_text=_("Lower comes first: the first active policy whose conditions a ticket meets applies to it."),
    )
    calendar = CalendarChoice(
        label=_("Hours counted"),
        queryset=Calendar.objects.all(),
        required=False,
        empty_label=_("Calendar hours, 24/7"),
        help_text=_("Targets run on this calendar's opening hours, or round the clock."),
    )
    warning_minutes = DurationField(
        label=_("Warn before a breach"),
        min_minutes=0,
        required=True,
        initial=60,
        help_text=_("How long before a target is due agents are warned, in hours (1, 0:30…)."),
    )
    priorities = forms.TypedMultipleChoiceField(
        label=_("Priority"),
        choices=Priority.choices,
        coerce=int,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    channels = forms.MultipleChoiceField(
        label=_("Channel"), choices=Channel.choices, required=False, widget=forms.CheckboxSelectMultiple
    )
    tiers = forms.TypedMultipleChoiceField(
        label=_("Support tier of the ticket's group"),
        coerce=int,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    groups = forms.ModelMultipleChoiceField(
        label=_("Group"), queryset=Group.objects.all(), required=False, widget=forms.CheckboxSelectMultiple
    )
    organizations = forms.ModelMultipleChoiceField(
        label=_("Customer's organization"),
        queryset=Organization.objects.order_by("name"),
        required=False,
        widget=forms.SelectMultiple(attrs={"size": 6}),
        help_text=_("Hold Ctrl (⌘ on a Mac) to pick several."),
    )
    tags = forms.CharField(
        label=_("Tags"),
        required=False,
        max_length=1000,
        help_text=_("The ticket has any of these tags; separate them with commas."),
    )
    confirm_all = forms.BooleanField(label=_("Yes, apply this policy to every ticket"), required=False)

    CONDITIONS = ("priorities", "channels", "tiers", "groups", "organizations", "tags")

    def __init__(self, *args: Any, policy: Policy | None = None, **kwargs: Any) -> None:
        self.policy = policy or Policy()
        if policy is not None and policy.pk and "initial" not in kwargs:
            kwargs["initial"] = self._initial(policy)
        super().__init__(*args, **kwargs)
        tiers = set(Group.objects.values_list("tier", flat=True)) | set(self.policy.tiers or []) | {1, 2, 3}
        tier_field = self.fields["tiers"]
        assert isinstance(tier_field, forms.TypedMultipleChoiceField)
        tier_field.choices = [(tier, _("Tier %(tier)s") % {"tier": tier}) for tier in sorted(tiers)]
        targets = {target.priority: target for target in policy.targets.all()} if policy and policy.pk else {}
        for priority, label in reversed(Priority.choices):
            for name in TARGETS:
                self.fields[self.target_field(priority, name)] = DurationField(
                    label=f"{label}: {TARGET_LABELS[name]}",
                    initial=getattr(targets.get(priority), f"{name}_minutes", None),
                )

    @staticmethod
    def target_field(priority: int, name: str) -> str:
        return f"target_{priority}_{name}"

    @staticmethod
    def _initial(policy: Policy) -> dict[str, Any]:
        return {
            "name": policy.name,
            "active": policy.active,
            "position": policy.position,
            "calendar": policy.calendar_id,
            "warning_minutes": policy.warning_minutes,
            "priorities": list(policy.priorities),
            "channels": list(policy.channels),
            "tiers": list(policy.tiers),
            "groups": [group.pk for group in policy.groups.all()],
            "organizations": [organization.pk for organization in policy.organizations.all()],
            "tags": ", ".join(tag.name for tag in policy.tags.all()),
        }

    def target_rows(self) -> list[tuple[str, list[forms.BoundField]]]:
        """One row per priority, highest first: its label and its three target inputs."""
        return [
            (str(label), [self[self.target_field(priority, name)] for name in TARGETS])
            for priority, label in reversed(Priority.choices)
        ]

    def clean_tags(self) -> list[str]:
        names = [name.strip().lower() for name in self.cleaned_data["tags"].split(",")]
        found = sorted({name for name in names if name})
        too_long = [name for name in found if len(name) > 50]
        if too_long:
            raise ValidationError(_("A tag has at most 50 characters: “%(tag)s”."), params={"tag": too_long[0]})
        return found

    def clean_confirm_all(self) -> bool:
        """Ticked only as a browser ticks it: Django's checkbox would also read "0" or "no" as
        ticked, and taking every ticket needs a confirmation that cannot be a slip."""
        raw = self.data.get(self.add_prefix("confirm_all"), "")
        return isinstance(raw, str) and raw.strip().lower() in CONFIRMED

    def has_conditions(self) -> bool:
        """Whether the policy as typed (cleaned) narrows the tickets it takes at all."""
        return any(self.cleaned_data.get(name) for name in self.CONDITIONS)

    def targets(self) -> list[TargetIn]:
        rows = []
        for priority in Priority.values:
            minutes = {f"{name}_minutes": self.cleaned_data.get(self.target_field(priority, name)) for name in TARGETS}
            if any(value is not None for value in minutes.values()):
                rows.append(TargetIn(priority, **minutes))
        return rows

    def service_arguments(self) -> dict[str, Any]:
        """What `services.save_policy` takes, from the cleaned form."""
        data = self.cleaned_data
        fields = {
            name: data[name]
            for name in ("name", "active", "position", "calendar", "warning_minutes", "priorities", "channels", "tiers")
        }
        return {
            "fields": fields,
            "groups": [group.pk for group in data["groups"]],
            "organizations": [organization.pk for organization in data["organizations"]],
            "tags": data["tags"],
            "targets": self.targets(),
        }

    def tag_ids(self) -> frozenset[int]:
        """The ids of the typed tags that exist (a tag no ticket has yet matches no ticket)."""
        return frozenset(Tag.objects.filter(name__in=self.cleaned_data["tags"]).values_list("pk", flat=True))


# --- Calendars ----------------------------------------------------------------------------------------


def _time_input() -> forms.TimeInput:
    return forms.TimeInput(attrs={"type": "time"}, format="%H:%M")


class CalendarForm(forms.Form):
    """A calendar: name, time zone, public holidays' countries, weekly hours and its own holidays."""

    name = forms.CharField(label=_("Name"), max_length=100)
    time_zone = forms.ChoiceField(
        label=_("Time zone"),
        error_messages={
            "invalid_choice": _("“%(value)s” is not a time zone: pick one from the list, like Europe/Rome.")
        },
        help_text=_("Opening hours and holidays are in this zone's local time."),
    )
    holiday_countries = forms.CharField(
        label=_("Public holidays of"),
        max_length=200,
        required=False,
        help_text=_("Countries whose public holidays are closed, as ISO codes with an optional region: IT, DE-BY."),
    )

    def __init__(self, *args: Any, calendar: Calendar | None = None, **kwargs: Any) -> None:
        self.calendar = calendar or Calendar()
        stored = calendar is not None and calendar.pk is not None
        intervals: list[list[tuple[time, time]]] = [[] for _ in range(7)]
        holidays: list[Any] = []
        if stored:
            for interval in self.calendar.intervals.all():
                intervals[interval.weekday].append((interval.start, interval.end))
            holidays = list(self.calendar.holidays.all())
        if "initial" not in kwargs:
            kwargs["initial"] = (
                {"name": self.calendar.name, "time_zone": self.calendar.time_zone}
                | {"holiday_countries": self.calendar.holiday_countries}
                if stored
                else {"time_zone": "Europe/Rome"}
            )
        super().__init__(*args, **kwargs)
        zones = sorted(available_timezones())
        zone_field = self.fields["time_zone"]
        assert isinstance(zone_field, forms.ChoiceField)
        zone_field.choices = [(zone, zone) for zone in zones]
        self.slots = [max(INTERVAL_SLOTS, len(day) + 1) for day in intervals]
        for day, count in enumerate(self.slots):
            for slot in range(count):
                stored_pair = intervals[day][slot] if slot < len(intervals[day]) else (None, None)
                for end, value in enumerate(stored_pair):
                    key = self.interval_field(day, slot, "end" if end else "start")
                    label = _("%(day)s, opening %(n)s: %(edge)s") % {
                        "day": WEEKDAY_LABELS[day],
                        "n": slot + 1,
                        "edge": _("closes") if end else _("opens"),
                    }
                    self.fields[key] = forms.TimeField(label=label, required=False, widget=_time_input(), initial=value)
        self.holiday_count = len(holidays) + HOLIDAY_SLOTS
        for index in range(self.holiday_count):
            holiday = holidays[index] if index < len(holidays) else None
            n = index + 1
            self.fields[f"holiday_{index}_date"] = forms.DateField(
                label=_("Holiday %(n)s: date") % {"n": n},
                required=False,
                widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
                initial=holiday.date if holiday else None,
            )
            self.fields[f"holiday_{index}_name"] = forms.CharField(
                label=_("Holiday %(n)s: name") % {"n": n},
                max_length=100,
                required=False,
                initial=holiday.name if holiday else "",
            )
            self.fields[f"holiday_{index}_yearly"] = forms.BooleanField(
                label=_("Every year"), required=False, initial=holiday.yearly if holiday else False
            )
            self.fields[f"holiday_{index}_remove"] = forms.BooleanField(label=_("Remove"), required=False)
        self.stored_holidays = len(holidays)

    @staticmethod
    def interval_field(day: int, slot: int, edge: str) -> str:
        return f"day_{day}_{slot}_{edge}"

    def week_rows(self) -> list[dict[str, Any]]:
        """One row per weekday for the template: its name, its intervals' inputs, its errors."""
        rows = []
        for day, count in enumerate(self.slots):
            pairs = [
                (self[self.interval_field(day, slot, "start")], self[self.interval_field(day, slot, "end")])
                for slot in range(count)
            ]
            rows.append({"day": day, "label": WEEKDAY_LABELS[day], "pairs": pairs, "errors": self.day_errors.get(day)})
        return rows

    def holiday_rows(self) -> list[dict[str, Any]]:
        return [
            {
                "date": self[f"holiday_{index}_date"],
                "name": self[f"holiday_{index}_name"],
                "yearly": self[f"holiday_{index}_yearly"],
                "remove": self[f"holiday_{index}_remove"] if index < self.stored_holidays else None,
            }
            for index in range(self.holiday_count)
        ]

    @property
    def day_errors(self) -> dict[int, list[str]]:
        return getattr(self, "_day_errors", {})

    def clean_holiday_countries(self) -> str:
        value = self.cleaned_data["holiday_countries"]
        try:
            parse_countries(value)
        except ValueError as exc:
            raise ValidationError(
                _("%(problem)s: use ISO country codes such as IT or DE-BY, separated by commas."),
                params={"problem": str(exc)},
            ) from exc
        return ", ".join(part.strip().upper() for part in value.split(",") if part.strip())

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        self._day_errors: dict[int, list[str]] = {}
        self.intervals: list[IntervalIn] = []
        for day, count in enumerate(self.slots):
            found: list[tuple[int, int, time, time]] = []
            for slot in range(count):
                start = data.get(self.interval_field(day, slot, "start"))
                end = data.get(self.interval_field(day, slot, "end"))
                if (
                    self.interval_field(day, slot, "start") in self.errors
                    or self.interval_field(day, slot, "end") in self.errors
                ):
                    continue
                if start is None and end is None:
                    continue
                if start is None or end is None:
                    self._day_error(
                        day, _("Opening %(n)s needs both the time it opens and the time it closes.") % {"n": slot + 1}
                    )
                    continue
                start_minutes = start.hour * 60 + start.minute
                end_minutes = (end.hour * 60 + end.minute) or 24 * 60  # 00:00 as the end: midnight
                if end_minutes <= start_minutes:
                    self._day_error(
                        day,
                        _("%(start)s-%(end)s must close after it opens (00:00 as closing time means midnight).")
                        % {"start": f"{start:%H:%M}", "end": f"{end:%H:%M}"},
                    )
                    continue
                found.append((start_minutes, end_minutes, start, end))
            found.sort()
            for before, after in pairwise(found):
                if after[0] < before[1]:
                    self._day_error(
                        day,
                        _("%(first)s overlaps %(second)s.")
                        % {
                            "first": f"{before[2]:%H:%M}-{before[3]:%H:%M}",
                            "second": f"{after[2]:%H:%M}-{after[3]:%H:%M}",
                        },
                    )
            self.intervals += [IntervalIn(day, start, end) for _s, _e, start, end in found]
        if self._day_errors:
            self.add_error(None, _("Some opening hours need fixing; see the days marked below."))
        self.holidays: list[HolidayIn] = []
        seen: dict[Any, int] = {}
        for index in range(self.holiday_count):
            if data.get(f"holiday_{index}_remove"):
                continue
            when = data.get(f"holiday_{index}_date")
            name = data.get(f"holiday_{index}_name") or ""
            if f"holiday_{index}_date" in self.errors:
                continue
            if when is None:
                if name:
                    self.add_error(f"holiday_{index}_date", _("Give the date of “%(name)s”.") % {"name": name})
                continue
            if when in seen:
                self.add_error(f"holiday_{index}_date", _("%(date)s is listed twice.") % {"date": when.isoformat()})
                continue
            seen[when] = index
            self.holidays.append(HolidayIn(when, name, bool(data.get(f"holiday_{index}_yearly"))))
        return data

    def _day_error(self, day: int, message: str) -> None:
        self._day_errors.setdefault(day, []).append(f"{WEEKDAY_LABELS[day]}: {message}")

    def service_arguments(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            "fields": {name: data[name] for name in ("name", "time_zone", "holiday_countries")},
            "intervals": self.intervals,
            "holidays": self.holidays,
        }
