"""What a source reads, in one shape for every help desk: the writer (writer.py) knows only these.

A source (sources/*.py) turns its vendor's rows into these records and yields them in order:
groups, organizations, people (agents and customers), then tickets. Ids are the source's own, as
strings; references between records use them (a ticket's `requester` is a person's `source_id`).
A `Checkpoint` between records says "everything before me is read": once the writer has committed
it, the runner saves its cursor, and a run started again continues from there.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime
from typing import Any


def checksum(record: Any) -> str:
    """A digest of a record's values (not its lazy loaders): unchanged rows are skipped."""
    values = {f.name: getattr(record, f.name) for f in fields(record) if not callable(getattr(record, f.name))}
    values = {k: (asdict(v) if hasattr(v, "__dataclass_fields__") else v) for k, v in values.items()}
    text = json.dumps(values, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass
class GroupIn:
    source_id: str
    name: str
    description: str = ""


@dataclass
class OrganizationIn:
    source_id: str
    name: str
    domain: str = ""
    notes: str = ""
    updated_at: datetime | None = None
    # The source's organization fields by name, as a ticket's (TicketIn.custom_fields).
    custom_fields: dict[str, Any] = field(default_factory=dict)


@dataclass
class IdentityIn:
    kind: str  # "email", "phone", "social" (customers.models.IdentityKind)
    value: str
    verified: bool = True


@dataclass
class PersonIn:
    """A customer, or (`agent`) a member of the source's staff: made an inactive agent here."""

    source_id: str
    name: str
    identities: list[IdentityIn] = field(default_factory=list)
    organization: str = ""  # an OrganizationIn's source_id
    agent: bool = False
    admin: bool = False
    groups: list[str] = field(default_factory=list)  # GroupIn source ids (agents)
    language: str = ""
    notes: str = ""
    updated_at: datetime | None = None
    # The source's user fields by name, stored in Sportello's customer fields (not for agents).
    custom_fields: dict[str, Any] = field(default_factory=dict)

    @property
    def email(self) -> str:
        return next((i.value for i in self.identities if i.kind == "email"), "")


@dataclass
class AttachmentIn:
    source_id: str
    filename: str
    content_type: str = ""
    size: int = 0
    inline: bool = False
    # Reads the bytes (a download); never called on a dry run.
    fetch: Callable[[], bytes] | None = field(default=None, compare=False, repr=False)
    content: bytes | None = field(default=None, repr=False)

    def read(self) -> bytes:
        if self.content is not None:
            return self.content
        if self.fetch is None:
            return b""
        return self.fetch()


@dataclass
class CommentIn:
    source_id: str
    author: str  # a PersonIn's source_id ("" when unknown: the entry shows "System")
    body_text: str
    created_at: datetime
    body_html: str = ""
    public: bool = True
    channel: str = ""  # tickets.models.Channel; "" means the ticket's channel
    attachments: list[AttachmentIn] = field(default_factory=list)


@dataclass
class RatingIn:
    rating: str  # "good" or "bad"
    comment: str = ""
    at: datetime | None = None


@dataclass
class TicketIn:
    source_id: str
    subject: str
    requester: str  # a PersonIn's source_id
    created_at: datetime
    updated_at: datetime
    status: str  # the source's status name, mapped by mapping.StatusMap
    number: int | None = None  # the number people quote; kept when free here
    # The number people quote when it is not a plain number (osTicket's custom formats, "ABC-00123"):
    # kept on the ticket as its original number, which search finds.
    reference: str = ""
    priority: str = ""  # low, normal, high, urgent (or the source's word, mapped)
    channel: str = "email"
    group: str = ""  # a GroupIn's source_id
    assignee: str = ""  # a PersonIn's source_id
    tags: list[str] = field(default_factory=list)
    language: str = ""
    solved_at: datetime | None = None
    rating: RatingIn | None = None
    # The source's custom fields by their name (label) or key: stored in Sportello's custom fields
    # (fields/), each defined on first sight unless the mapping file names the field it goes to.
    custom_fields: dict[str, Any] = field(default_factory=dict)
    comments: list[CommentIn] | None = None
    # Reads the thread (one more request per ticket); called only for new or changed tickets.
    load_comments: Callable[[], list[CommentIn]] | None = field(default=None, compare=False, repr=False)

    def thread(self) -> list[CommentIn]:
        if self.comments is None:
            self.comments = self.load_comments() if self.load_comments else []
        return self.comments


@dataclass
class Checkpoint:
    """Everything yielded before is read: the runner saves `cursor` once it is written."""

    stream: str
    cursor: str


@dataclass
class Skipped:
    """A row the source could not read (a bad CSV line): reported, never a crash."""

    kind: str
    source_id: str
    reason: str


Record = GroupIn | OrganizationIn | PersonIn | TicketIn | Checkpoint | Skipped
