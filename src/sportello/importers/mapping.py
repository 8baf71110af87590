"""How a source's statuses, priorities and channels become Sportello's.

Every source's status names map to one of Sportello's categories (tickets.models.StatusCategory).
The defaults below cover Zendesk, Freshdesk, Zammad, Help Scout and osTicket; a mapping file
(`--mapping FILE`, JSON: {"statuses": {"Waiting on vendor": "on_hold"}, "priorities": {...}})
adds or overrides names. A status that maps to nothing is reported and the ticket filed as open.

Custom fields: a ticket field of the source is stored in the Sportello ticket field whose key its
name gives ("Order number" -> order_number), defined on first sight with a type guessed from its
values; `"fields": {"Order number": "order_ref", "Internal score": null}` sends it to another key
(an existing field of any type, or a new one) or leaves it out.
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from sportello.fields.models import KEY_PATTERN
from sportello.tickets.models import Channel, Priority, StatusCategory

DEFAULT_STATUSES: dict[str, str] = {
    # Zendesk
    "new": "new",
    "open": "open",
    "pending": "pending",
    "hold": "on_hold",
    "on-hold": "on_hold",
    "on hold": "on_hold",
    "solved": "solved",
    "closed": "closed",
    # Freshdesk (2 open, 3 pending, 4 resolved, 5 closed), Zammad, Help Scout, osTicket
    "2": "open",
    "3": "pending",
    "4": "solved",
    "5": "closed",
    "resolved": "solved",
    "pending reminder": "pending",
    "pending close": "pending",
    "merged": "closed",
    "active": "open",
    "spam": "spam",
    "archived": "closed",
    "waiting on customer": "pending",
    "waiting on third party": "on_hold",
}

DEFAULT_PRIORITIES: dict[str, int] = {
    "low": Priority.LOW,
    "normal": Priority.NORMAL,
    "medium": Priority.NORMAL,
    "high": Priority.HIGH,
    "urgent": Priority.URGENT,
    "emergency": Priority.URGENT,
    "1": Priority.LOW,
    "2": Priority.NORMAL,
    "3": Priority.HIGH,
    "4": Priority.URGENT,
    "1 low": Priority.LOW,
    "2 normal": Priority.NORMAL,
    "3 high": Priority.HIGH,
}

# A source's channel words (Zendesk's via.channel, …) to Sportello's channels.
DEFAULT_CHANNELS: dict[str, str] = {
    "email": Channel.EMAIL,
    "mail": Channel.EMAIL,
    "web": Channel.WEB,
    "web_form": Channel.WEB,
    "web_widget": Channel.WEB,
    "portal": Channel.PORTAL,
    "chat": Channel.CHAT,
    "chat_transcript": Channel.CHAT,
    "native_messaging": Channel.CHAT,
    "voice": Channel.PHONE,
    "phone": Channel.PHONE,
    "sms": Channel.SOCIAL,
    "twitter": Channel.SOCIAL,
    "facebook": Channel.SOCIAL,
    "whatsapp": Channel.SOCIAL,
    "telegram": Channel.SOCIAL,
    "api": Channel.API,
    "rule": Channel.AGENT,
    "sample_ticket": Channel.AGENT,
}


class MappingError(ValueError):
    pass


@dataclass
class Mapping:
    statuses: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_STATUSES))
    priorities: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_PRIORITIES))
    channels: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_CHANNELS))
    # A source's custom field name -> the Sportello field key, or "" to leave the field out.
    fields: dict[str, str] = field(default_factory=dict)

    @classmethod
    def load(cls, path: str | Path | None) -> Mapping:
        mapping = cls()
        if path is None:
            return mapping
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise MappingError(f"Cannot read the mapping file {path}: {exc}") from exc
        if not isinstance(data, dict):
            raise MappingError(f"{path}: expected an object with 'statuses', 'priorities' or 'channels'")
        categories = {str(c) for c in StatusCategory}
        for name, category in (data.get("statuses") or {}).items():
            if category not in categories:
                raise MappingError(f"{path}: status {name!r} maps to {category!r}, not one of {sorted(categories)}")
            mapping.statuses[str(name).strip().lower()] = category
        priorities = {p.label.lower(): int(p) for p in Priority}
        for name, priority in (data.get("priorities") or {}).items():
            value = priorities.get(str(priority).lower()) if not isinstance(priority, int) else priority
            if value not in {int(p) for p in Priority}:
                raise MappingError(f"{path}: priority {name!r} maps to {priority!r}, not low/normal/high/urgent")
            mapping.priorities[str(name).strip().lower()] = int(value)  # type: ignore[arg-type]
        channels = {str(c) for c in Channel}
        for name, channel in (data.get("channels") or {}).items():
            if channel not in channels:
                raise MappingError(f"{path}: channel {name!r} maps to {channel!r}, not one of {sorted(channels)}")
            mapping.channels[str(name).strip().lower()] = channel
        fields = data.get("fields") or {}
        if not isinstance(fields, dict):
            raise MappingError(f"{path}: 'fields' must be an object of source field names and field keys")
        for name, key in fields.items():
            if key is not None and (not isinstance(key, str) or (key and not re.match(KEY_PATTERN, key))):
                raise MappingError(f"{path}: field {name!r} maps to {key!r}, not a field key like order_number")
            if key is not None and len(key) > 40:
                raise MappingError(f"{path}: field {name!r} maps to {key!r}, longer than 40 characters")
            mapping.fields[str(name).strip().lower()] = key or ""
        return mapping

    def status(self, name: str) -> str | None:
        return self.statuses.get((name or "").strip().lower())

    def priority(self, name: str) -> int | None:
        if not name:
            return int(Priority.NORMAL)
        return self.priorities.get(str(name).strip().lower())

    def field_key(self, name: str) -> str | None:
        """The Sportello key of a source's custom field: the mapping file's ("" leaves it out), else
        one made of its name (None when the name has no letters or digits to make one of)."""
        named = str(name).strip().lower()
        if named in self.fields:
            return self.fields[named]
        key = re.sub(r"[^a-z0-9]+", "_", unicodedata.normalize("NFKD", named).encode("ascii", "ignore").decode())
        key = key.strip("_")[:40].strip("_")
        if not key:
            return None
        if not key[0].isalpha():
            key = f"field_{key}"[:40].strip("_")
        return key

    def channel(self, name: str) -> str | None:
        if not name:
            return None
        return self.channels.get(str(name).strip().lower())
