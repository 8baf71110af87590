"""The source-agnostic writer: records (records.py) in, Sportello rows out, quietly and in batches.

Every row written is recorded in ImportedRecord (source, kind, source id -> local id, checksum)
in the same transaction, so:
- a row seen again with the same checksum is left alone (unchanged), a changed one is updated;
- a ticket and its whole thread are one batch's transaction: an import killed at any point leaves
  each ticket whole or absent, and the next run writes the absent ones;
- a ticket already imported whose source `updated_at` has not moved is skipped before its thread
  is even read (the comments are one request per ticket in most APIs).

History is written as rows (bulk inserts), not through the services: no event is published, so
no trigger fires, nobody is mailed, no SLA clock starts and no survey is offered. Open tickets get
their SLA clock on their next change. Each batch indexes its tickets for search; report facts are
rebuilt once at the end (`finish`).

On a dry run everything is mapped and written inside one transaction that is rolled back at the
end: what would be created is counted exactly, and nothing stays (no files are downloaded, no
ticket numbers taken).
"""

from __future__ import annotations

import dataclasses
import json
import mimetypes
import re
from collections.abc import Callable
from datetime import datetime
from typing import Any

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from sportello.accounts.models import Group, Role, User
from sportello.core.errors import InvalidInput
from sportello.core.models import Counter
from sportello.core.numbers import next_number, sequence_name
from sportello.customers.identity import normalize
from sportello.customers.models import Customer, Identity, Organization
from sportello.fields.models import CustomField, FieldType
from sportello.fields.services import MAX_CHOICE_LENGTH, MAX_CHOICES, MAX_TEXT, FieldDef, clean_value
from sportello.importers.mapping import Mapping
from sportello.importers.models import ImportedRecord
from sportello.importers.records import (
    CommentIn,
    GroupIn,
    OrganizationIn,
    PersonIn,
    TicketIn,
    checksum,
)
from sportello.importers.report import Report
from sportello.tickets import statuses
from sportello.tickets.attachments import safe_filename, storage_name
from sportello.tickets.models import (
    Attachment,
    Channel,
    Direction,
    Entry,
    EntryKind,
    StatusCategory,
    Tag,
    Ticket,
)

BATCH = 100  # tickets (or people) per transaction


class DryRunDone(Exception):
    """Raised to roll the dry run's transaction back."""


class Writer:
    def __init__(
        self,
        source: str,
        *,
        report: Report,
        mapping: Mapping | None = None,
        dry_run: bool = False,
        batch: int = BATCH,
        before_commit: Callable[[int], None] | None = None,
        on_written: Callable[[str, int], None] | None = None,
    ) -> None:
        self.source = source
        self.report = report
        self.mapping = mapping or Mapping()
        self.dry_run = dry_run
        self.batch = batch
        # Called inside each ticket batch's transaction with the tickets written so far (tests
        # interrupt an import there: the batch is rolled back, as if the process had been killed).
        self.before_commit = before_commit
        self.on_written = on_written or (lambda kind, n: None)
        self.known: dict[str, dict[str, tuple[int, str, datetime | None]]] = {}
        self.pending_people: list[PersonIn] = []
        self.pending_organizations: list[OrganizationIn] = []
        self.pending_tickets: list[TicketIn] = []
        self.tickets_written = 0
        self.first_ticket_id: int | None = None
        self._status_ids: dict[str, int] = {}
        self._field_defs: dict[str, dict[str, FieldDef]] = {}  # custom fields by target, by key
        self._fields_made: set[tuple[str, str]] = set()  # the (target, key) of the fields this import defined

    # --- Records ------------------------------------------------------------------------------------

    def _records(self, kind: str) -> dict[str, tuple[int, str, datetime | None]]:
        if kind not in self.known:
            rows = ImportedRecord.objects.filter(source=self.source, kind=kind).values_list(
                "source_id", "local_id", "checksum", "source_updated_at"
            )
            self.known[kind] = {source_id: (local, digest, at) for source_id, local, digest, at in rows}
        return self.known[kind]

    def local_id(self, kind: str, source_id: str) -> int | None:
        if not source_id:
            return None
        found = self._records(kind).get(str(source_id))
        return found[0] if found else None

    def _record(
        self,
        kind: str,
        source_id: str,
        local_id: int,
        digest: str,
        updated_at: datetime | None = None,
        number: str = "",
        managed: dict[str, list[str]] | None = None,
    ) -> ImportedRecord:
        self._records(kind)[source_id] = (local_id, digest, updated_at)
        return ImportedRecord(
            source=self.source,
            kind=kind,
            source_id=source_id,
            local_id=local_id,
            checksum=digest,
            source_updated_at=updated_at,
            source_number=number,
            managed=managed or {},
        )

    def _rerecord(
        self,
        kind: str,
        source_id: str,
        local_id: int,
        digest: str,
        updated_at: datetime | None,
        managed: dict[str, list[str]] | None = None,
    ) -> None:
        self._records(kind)[source_id] = (local_id, digest, updated_at)
        values: dict[str, Any] = {"checksum": digest, "source_updated_at": updated_at, "imported_at": timezone.now()}
        if managed is not None:
            values["managed"] = managed
        ImportedRecord.objects.filter(source=self.source, kind=kind, source_id=source_id).update(**values)

    def _managed(self, kind: str, source_id: str) -> dict[str, list[str]]:
        """What the source gave the row last time (ImportedRecord.managed): a delta import takes
        away what it no longer gives."""
        found = (
            ImportedRecord.objects.filter(source=self.source, kind=kind, source_id=source_id)
            .values_list("managed", flat=True)
            .first()
        )
        return found if isinstance(found, dict) else {}

    def _with_custom(self, current: Any, custom: dict[str, Any], before: dict[str, list[str]]) -> dict[str, Any]:
        """A row's custom field values with the source's `custom` over them, less the keys the source
        gave before (`before`) and gives no more: a field cleared there is cleared here."""
        values = dict(current) if isinstance(current, dict) else {}
        for key in before.get("fields") or []:
            if key not in custom:
                values.pop(key, None)
        return {**values, **custom}

    # --- Groups and organizations --------------------------------------------------------------------

    def group(self, item: GroupIn) -> None:
        digest = checksum(item)
        known = self._records("group").get(item.source_id)
        if known and known[1] == digest:
            self.report.unchanged["group"] += 1
            return
        with transaction.atomic():
            name = item.name.strip()[:100]
            if not name:
                self.report.skip("group", item.source_id, "no name")
                return
            group, _created = Group.objects.get_or_create(name=name, defaults={"description": item.description})
            if known:
                self._rerecord("group", item.source_id, group.pk, digest, None)
                self.report.updated["group"] += 1
            else:
                self._record("group", item.source_id, group.pk, digest).save()
                self.report.created["group"] += 1
        self.on_written("group", 1)

    def organization(self, item: OrganizationIn) -> None:
        self.pending_organizations.append(item)
        if len(self.pending_organizations) >= self.batch:
            self.flush()

    def _write_organizations(self, items: list[OrganizationIn]) -> None:
        known = self._records("organization")
        records = []
        for item in items:
            digest = checksum(item)
            seen = known.get(item.source_id)
            if seen and seen[1] == digest:
                self.report.unchanged["organization"] += 1
                continue
            name = item.name.strip()[:200]
            if not name:
                self.report.skip("organization", item.source_id, "no name")
                continue
            values: dict[str, Any] = {"domain": item.domain[:200], "notes": item.notes}
            custom = self._custom_values("organization", item.custom_fields)
            managed = {"fields": sorted(custom)}
            if seen:
                current = Organization.objects.filter(pk=seen[0]).values_list("custom_fields", flat=True).first()
                before = self._managed("organization", item.source_id)
                values["custom_fields"] = self._with_custom(current, custom, before)
                Organization.objects.filter(pk=seen[0]).update(name=name, **values)
                self._rerecord("organization", item.source_id, seen[0], digest, item.updated_at, managed)
                self.report.updated["organization"] += 1
                continue
            # An organization of the same name here already is the same organization.
            organization, created = Organization.objects.get_or_create(
                name=name, defaults={**values, "custom_fields": custom}
            )
            if not created and custom:
                organization.custom_fields = self._with_custom(organization.custom_fields, custom, {})
                organization.save(update_fields=["custom_fields"])
            records.append(
                self._record("organization", item.source_id, organization.pk, digest, item.updated_at, managed=managed)
            )
            self.report.created["organization"] += 1
        ImportedRecord.objects.bulk_create(records)
        self.on_written("organization", len(items))

    # --- People --------------------------------------------------------------------------------------

    def person(self, item: PersonIn) -> None:
        self.pending_people.append(item)
        if len(self.pending_people) >= self.batch:
            self.flush()

    def _identities(self, item: PersonIn) -> list[tuple[str, str, bool]]:
        found: list[tuple[str, str, bool]] = []
        for identity in item.identities:
            try:
                value = normalize(identity.kind, identity.value)
            except ValidationError:
                self.report.unmapped[(f"{identity.kind} address", identity.value)] += 1
                continue
            if (identity.kind, value) not in [(k, v) for k, v, _ in found]:
                found.append((identity.kind, value, identity.verified))
        return found

    def _write_people(self, items: list[PersonIn]) -> None:
        agents = [i for i in items if i.agent]
        customers = [i for i in items if not i.agent]
        for item in agents:
            self._write_agent(item)
        self._write_customers(customers)
        self.on_written("person", len(items))

    def _write_agent(self, item: PersonIn) -> None:
        digest = checksum(item)
        seen = self._records("agent").get(item.source_id)
        if seen and seen[1] == digest:
            self.report.unchanged["agent"] += 1
            return
        first, _space, last = item.name.strip().partition(" ")
        email = item.email
        if seen:
            user = User.objects.filter(pk=seen[0]).first()
        else:
            user = User.objects.filter(email__iexact=email).first() if email else None
        if user is None:
            username = (email or f"{self.source.split(':')[0]}-{item.source_id}")[:150]
            if User.objects.filter(username=username).exists():
                username = f"{username[:130]}-{item.source_id}"[:150]
            # Inactive until an admin invites them (Settings → Agents): an imported agent cannot sign in.
            user = User.objects.create(
                username=username,
                email=email,
                first_name=first[:150],
                last_name=last[:150],
                role=Role.AGENT,
                is_active=False,
                password=make_password(None),
                language=item.language[:10],
            )
            self.report.created["agent"] += 1
        elif seen:
            User.objects.filter(pk=user.pk).update(first_name=first[:150], last_name=last[:150])
            self.report.updated["agent"] += 1
        else:
            self.report.created["agent"] += 1  # mapped onto the user who has the address here
        groups = [g for g in (self.local_id("group", s) for s in item.groups) if g]
        if groups:
            user.support_groups.add(*groups)
        if seen:
            self._rerecord("agent", item.source_id, user.pk, digest, item.updated_at)
        else:
            self._record("agent", item.source_id, user.pk, digest, item.updated_at).save()

    def _write_customers(self, items: list[PersonIn]) -> None:
        if not items:
            return
        known = self._records("customer")
        items = _last_of_each(items)
        wanted = {item.source_id: self._identities(item) for item in items}
        values = [v for rows in wanted.values() for _k, v, _ in rows]
        owners: dict[tuple[str, str], int | Customer] = {
            (kind, value): customer_id
            for kind, value, customer_id in Identity.objects.filter(value__in=values).values_list(
                "kind", "value", "customer_id"
            )
        }
        records: list[ImportedRecord] = []
        made: list[tuple[PersonIn, str, Customer, dict[str, list[str]]]] = []
        new_identities: list[tuple[int | Customer, str, str, bool]] = []
        for item in items:
            digest = checksum(item)
            seen = known.get(item.source_id)
            if seen and seen[1] == digest:
                self.report.unchanged["customer"] += 1
                continue
            organization_id = self.local_id("organization", item.organization)
            if item.organization and organization_id is None:
                self.report.unmapped[("organization", item.organization)] += 1
            identities = wanted[item.source_id]
            fields: dict[str, Any] = {"name": item.name.strip()[:200], "organization_id": organization_id}
            if item.language:
                fields["language"] = item.language[:10]
            if item.notes or seen:
                fields["notes"] = item.notes  # cleared there, cleared here (a file made by an import)
            custom = self._custom_values("customer", item.custom_fields)
            managed = {"fields": sorted(custom)}
            # Known, someone who wrote here before with one of these addresses, or one made earlier in
            # this batch (a Customer not saved yet): one file.
            customer_id: int | Customer | None = (
                seen[0] if seen else next((owners[(k, v)] for k, v, _ in identities if (k, v) in owners), None)
            )
            if isinstance(customer_id, Customer):
                for name, value in fields.items():
                    setattr(customer_id, name, value)
                customer_id.custom_fields = self._with_custom(customer_id.custom_fields, custom, {})
                made.append((item, digest, customer_id, managed))
                self.report.created["customer"] += 1
            elif customer_id is not None:
                before = self._managed("customer", item.source_id) if seen else {}
                if custom or before.get("fields"):
                    current = Customer.objects.filter(pk=customer_id).values_list("custom_fields", flat=True).first()
                    fields["custom_fields"] = self._with_custom(current, custom, before)
                Customer.objects.filter(pk=customer_id).update(**fields)
                if seen:
                    self._rerecord("customer", item.source_id, customer_id, digest, item.updated_at, managed)
                    self.report.updated["customer"] += 1
                else:
                    records.append(
                        self._record("customer", item.source_id, customer_id, digest, item.updated_at, managed=managed)
                    )
                    self.report.created["customer"] += 1
            else:
                customer_id = Customer(**fields, custom_fields=custom)
                made.append((item, digest, customer_id, managed))
                self.report.created["customer"] += 1
            for kind, value, verified in identities:
                if (kind, value) not in owners:
                    owners[(kind, value)] = customer_id
                    new_identities.append((customer_id, kind, value, verified))
        # The new customers in one statement, then their addresses and records with their ids.
        Customer.objects.bulk_create(list({id(c): c for _item, _digest, c, _managed in made}.values()))
        records += [
            self._record("customer", item.source_id, customer.pk, digest, item.updated_at, managed=managed)
            for item, digest, customer, managed in made
        ]
        Identity.objects.bulk_create(
            [
                Identity(
                    customer_id=owner.pk if isinstance(owner, Customer) else owner,
                    kind=kind,
                    value=value,
                    verified=verified,
                )
                for owner, kind, value, verified in new_identities
            ]
        )
        ImportedRecord.objects.bulk_create(records)

    # --- Tickets -------------------------------------------------------------------------------------

    def ticket(self, item: TicketIn) -> None:
        self.pending_tickets.append(item)
        if len(self.pending_tickets) >= self.batch:
            self.flush()

    def flush(self) -> None:
        """Write what is pending, each kind in its own transaction (a dry run's is the outer one)."""
        if self.pending_organizations:
            items, self.pending_organizations = self.pending_organizations, []
            with transaction.atomic():
                self._write_organizations(items)
        if self.pending_people:
            items_p, self.pending_people = self.pending_people, []
            with transaction.atomic():
                self._write_people(items_p)
        if self.pending_tickets:
            items_t, self.pending_tickets = self.pending_tickets, []
            with transaction.atomic():
                self._write_tickets(items_t)
                if self.before_commit is not None:
                    self.before_commit(self.tickets_written)

    def _status_id(self, category: str) -> int:
        if category not in self._status_ids:
            self._status_ids[category] = statuses.builtin(category).pk
        return self._status_ids[category]

    def _person(self, source_id: str) -> tuple[int | None, int | None]:
        """(user id, customer id) of a person of the source."""
        if not source_id:
            return None, None
        return self.local_id("agent", source_id), self.local_id("customer", source_id)

    def _write_tickets(self, items: list[TicketIn]) -> None:
        known = self._records("ticket")
        items = _last_of_each(items)
        new: list[tuple[TicketIn, str]] = []
        changed: list[tuple[TicketIn, str, int]] = []
        for item in items:
            seen = known.get(item.source_id)
            if seen and seen[2] is not None and item.updated_at is not None and seen[2] >= item.updated_at:
                self.report.unchanged["ticket"] += 1  # the thread is not even read
                continue
            digest = checksum(item)
            if seen and seen[1] == digest:
                self.report.unchanged["ticket"] += 1
                continue
            user, customer = self._person(item.requester)
            if customer is None and user is not None:
                customer = self._customer_for_agent(item.requester, user)
            if customer is None:
                self.report.skip("ticket", item.source_id, f"unknown requester {item.requester!r}")
                continue
            if seen:
                changed.append((item, digest, seen[0]))
            else:
                new.append((item, digest))
        if new:
            self._create_tickets(new)
        for item, digest, ticket_id in changed:
            self._update_ticket(item, digest, ticket_id)
        self.on_written("ticket", len(items))

    def _customer_for_agent(self, source_id: str, user_id: int) -> int:
        """An agent who asked for something (a ticket opened for themselves): a customer file with
        the agent's address, as intake would make for a mail from them."""
        user = User.objects.get(pk=user_id)
        identity = Identity.objects.filter(kind="email", value=user.email.lower()).first() if user.email else None
        if identity is not None:
            customer_id = identity.customer_id
        else:
            customer_id = Customer.objects.create(name=user.get_full_name() or user.username).pk
            if user.email:
                Identity.objects.create(customer_id=customer_id, kind="email", value=user.email.lower(), verified=True)
        self._record("customer", source_id, customer_id, "").save()
        return customer_id

    def _fields(self, item: TicketIn) -> dict[str, Any]:
        category = self.mapping.status(item.status)
        if category is None:
            self.report.unmapped[("status", item.status)] += 1
            category = StatusCategory.OPEN
        priority = self.mapping.priority(item.priority)
        if priority is None:
            self.report.unmapped[("priority", item.priority)] += 1
            priority = 2
        channel = self.mapping.channel(item.channel) or (item.channel if item.channel in Channel.values else None)
        if channel is None:
            self.report.unmapped[("channel", item.channel)] += 1
            channel = Channel.EMAIL
        group_id = self.local_id("group", item.group)
        if item.group and group_id is None:
            self.report.unmapped[("group", item.group)] += 1
        assignee_id = self.local_id("agent", item.assignee)
        if item.assignee and assignee_id is None:
            self.report.unmapped[("assignee", item.assignee)] += 1
        solved = category in (StatusCategory.SOLVED, StatusCategory.CLOSED)
        return {
            "subject": (item.subject or "").strip()[:255] or "(no subject)",
            "customer_id": self.local_id("customer", item.requester),
            "channel": channel,
            "status_id": self._status_id(category),
            "state": category,
            "priority": priority,
            "group_id": group_id,
            "assignee_id": assignee_id,
            "language": (item.language or "en")[:10],
            "created_at": item.created_at,
            "updated_at": item.updated_at or item.created_at,
            "solved_at": (item.solved_at or item.updated_at) if solved else None,
        }

    # --- Custom fields -------------------------------------------------------------------------------

    def _field(self, key: str, label: str, sample: Any, target: str = "ticket") -> FieldDef:
        """The `target`'s field `key` (a ticket's, customer's or organization's): the one defined
        here (active or not), else one made now with a type that fits `sample`, the first value seen."""
        if target not in self._field_defs:
            self._field_defs[target] = {row.key: _field_def(row) for row in CustomField.objects.filter(target=target)}
        defs = self._field_defs[target]
        if key not in defs:
            kind, choices = _field_type(sample)
            label = (label.strip() or key)[:100]
            row = CustomField.objects.create(target=target, key=key, label=label, type=kind, choices=choices)
            defs[key] = _field_def(row)
            self._fields_made.add((target, key))
            self.report.created["custom field"] += 1
        return defs[key]

    def _widen(self, defn: FieldDef, raw: Any) -> FieldDef | None:
        """A choice field this import made, given the new choices in `raw`; None for other fields."""
        if (defn.target, defn.key) not in self._fields_made or defn.type not in (
            FieldType.CHOICE,
            FieldType.MULTICHOICE,
        ):
            return None
        given = [raw] if isinstance(raw, str) else raw
        if not isinstance(given, list) or not all(isinstance(v, str) for v in given):
            return None
        fresh = [v.strip() for v in given if v.strip() and v.strip() not in defn.choices]
        choices = [*defn.choices, *dict.fromkeys(v[:MAX_CHOICE_LENGTH] for v in fresh)]
        if len(choices) > MAX_CHOICES:
            return None
        CustomField.objects.filter(pk=defn.id).update(choices=choices)
        wider = dataclasses.replace(defn, choices=tuple(choices))
        self._field_defs[defn.target][defn.key] = wider
        return wider

    def _custom_fields(self, item: TicketIn) -> dict[str, Any]:
        """The ticket's custom field values by Sportello key (and its original number)."""
        values: dict[str, Any] = {}
        if item.reference:
            values["imported_number"] = item.reference
            self._field("imported_number", _("Original number"), item.reference)
        return {**values, **self._custom_values("ticket", item.custom_fields)}

    def _custom_values(self, target: str, given: dict[str, Any] | None) -> dict[str, Any]:
        """A ticket's, customer's or organization's custom field values by Sportello key, each in
        its field's shape; a value its field cannot hold is reported (unmapped), not stored."""
        values: dict[str, Any] = {}
        for name, raw in (given or {}).items():
            if raw is None or raw == "" or raw == []:
                continue
            if isinstance(raw, dict):  # no field here holds an object
                self.report.unmapped[("custom field value", f"{name}: {json.dumps(raw)[:60]}")] += 1
                continue
            key = self.mapping.field_key(str(name))
            if key == "":
                continue  # the mapping file leaves it out
            if key is None:
                self.report.unmapped[("custom field", str(name))] += 1
                continue
            defn = self._field(key, str(name), raw, target)
            if defn.type == FieldType.TEXT and isinstance(raw, str | int | float) and not isinstance(raw, bool):
                raw = str(raw)[:MAX_TEXT]
            elif defn.type == FieldType.DATE and isinstance(raw, str) and _DAY.match(raw):
                raw = raw[:10]  # a time stamp's day
            try:
                value = clean_value(defn, raw)
            except InvalidInput:
                wider = self._widen(defn, raw)
                try:
                    value = clean_value(wider, raw) if wider else None
                except InvalidInput:
                    value = None
                if value is None:
                    self.report.unmapped[("custom field value", f"{defn.label}: {str(raw)[:60]}")] += 1
                    continue
            if value is not None:
                values[defn.key] = value
        return values

    def _numbers(self, items: list[TicketIn]) -> list[tuple[int, bool]]:
        """Each ticket's number here, and whether it is the source's: kept when free, else the next one."""
        wanted = [i.number for i in items if i.number and 0 < i.number < 2**62]
        taken = set(Ticket.objects.filter(number__in=wanted).values_list("number", flat=True))
        if wanted and not self.dry_run:
            raise_counter_to(max(wanted))
        numbers: list[tuple[int, bool]] = []
        fake = -1
        valid = set(wanted)
        for item in items:
            if item.number and item.number in valid and item.number not in taken:
                taken.add(item.number)
                numbers.append((item.number, True))
            elif self.dry_run:  # no number is taken from the sequence on a dry run
                numbers.append((fake, False))
                fake -= 1
            else:
                numbers.append((next_number(), False))
        return numbers

    def _create_tickets(self, new: list[tuple[TicketIn, str]]) -> None:
        """A batch of new tickets with their threads, in a few statements whatever its size: the
        tickets, then every entry of the batch, every attachment, rating, tag and record at once,
        and the batch's search documents in one statement."""
        items = [item for item, _digest in new]
        threads = [sorted(item.thread(), key=lambda c: c.created_at) for item in items]
        numbers = self._numbers(items)
        tickets = []
        managed: list[dict[str, list[str]]] = []
        for item, thread, (number, kept) in zip(items, threads, numbers, strict=True):
            fields = self._fields(item)
            custom = self._custom_fields(item)
            managed.append(_managed_of(custom, item.tags))
            if not kept:
                self.report.renumbered += 1
                if item.number:
                    custom["imported_number"] = str(item.number)  # the old number finds the ticket
                    self._field("imported_number", _("Original number"), custom["imported_number"])
            ticket = Ticket(number=number, version=len(thread) + 1, custom_fields=custom, **fields)
            ticket.first_response_at = self._first_response(item, thread, None)
            tickets.append(ticket)
        Ticket.objects.bulk_create(tickets)
        self._tag(items, tickets)
        records = [
            self._record(
                "ticket",
                item.source_id,
                ticket.pk,
                digest,
                item.updated_at,
                number=item.reference or str(item.number or ""),
                managed=owned,
            )
            for (item, digest), ticket, owned in zip(new, tickets, managed, strict=True)
        ]
        records += self._threads(
            [(item, ticket, thread, 0) for item, ticket, thread in zip(items, tickets, threads, strict=True)]
        )
        self._ratings(items, tickets)
        ImportedRecord.objects.bulk_create(records)
        self.report.created["ticket"] += len(tickets)
        if self.first_ticket_id is None and tickets:
            self.first_ticket_id = min(t.pk for t in tickets)
        self.tickets_written += len(tickets)
        self._index(tickets, threads)

    def _update_ticket(self, item: TicketIn, digest: str, ticket_id: int) -> None:
        ticket = Ticket.objects.get(pk=ticket_id)
        fields = self._fields(item)
        fields.pop("created_at")
        comment_records = self._records("comment")
        fresh = sorted((c for c in item.thread() if c.source_id not in comment_records), key=lambda c: c.created_at)
        for name, value in fields.items():
            setattr(ticket, name, value)
        custom = self._custom_fields(item)
        before = self._managed("ticket", item.source_id)
        ticket.custom_fields = self._with_custom(ticket.custom_fields, custom, before)
        ticket.version += len(fresh) + 1
        ticket.first_response_at = self._first_response(item, fresh, ticket.first_response_at)
        ticket.save()
        self._tag([item], [ticket])
        managed = _managed_of(custom, item.tags)
        gone = set(before.get("tags") or []) - set(managed["tags"])
        if gone:  # removed there: removed here (a tag people added here stays)
            Ticket.tags.through.objects.filter(ticket_id=ticket.pk, tag__name__in=gone).delete()
        records = self._threads([(item, ticket, fresh, ticket.version - len(fresh) - 1)])
        self._rating(item, ticket)
        ImportedRecord.objects.bulk_create(records)
        self._rerecord("ticket", item.source_id, ticket.pk, digest, item.updated_at, managed)
        self.report.updated["ticket"] += 1
        self.tickets_written += 1
        if not self.dry_run:
            from sportello.search import backend as search

            search.index_ticket(ticket.pk)

    def _tag(self, items: list[TicketIn], tickets: list[Ticket]) -> None:
        names = {n.strip()[:50] for item in items for n in item.tags if n.strip()}
        if not names:
            return
        Tag.objects.bulk_create([Tag(name=n) for n in names], ignore_conflicts=True)
        ids = dict(Tag.objects.filter(name__in=names).values_list("name", "pk"))
        through = Ticket.tags.through
        links = [
            through(ticket_id=ticket.pk, tag_id=ids[n.strip()[:50]])
            for item, ticket in zip(items, tickets, strict=True)
            for n in dict.fromkeys(item.tags)
            if n.strip()
        ]
        through.objects.bulk_create(links, ignore_conflicts=True)

    def _author(self, item: TicketIn, comment: CommentIn) -> tuple[int | None, int | None]:
        """(user id, customer id) who wrote `comment` here."""
        user_id, customer_id = self._person(comment.author)
        if comment.author == item.requester and customer_id is not None:
            user_id = None  # an agent who asked writes as the customer they are on this ticket
        return user_id, customer_id

    def _first_response(self, item: TicketIn, thread: list[CommentIn], current: datetime | None) -> datetime | None:
        """The first public answer by an agent, among `thread` and what the ticket had."""
        first = current
        for comment in thread:
            if comment.public and self._author(item, comment)[0] is not None:
                first = min(first, comment.created_at) if first else comment.created_at
        return first

    def _threads(self, work: list[tuple[TicketIn, Ticket, list[CommentIn], int]]) -> list[ImportedRecord]:
        """The entries of each (ticket in, ticket, its comments in time order, version before them),
        written in one statement; their attachments in another."""
        entries: list[Entry] = []
        comments: list[CommentIn] = []
        for item, ticket, thread, version in work:
            for index, comment in enumerate(thread):
                user_id, customer_id = self._author(item, comment)
                if comment.author and user_id is None and customer_id is None:
                    self.report.unmapped[("comment author", comment.author)] += 1
                if not comment.public:
                    direction, kind = Direction.INTERNAL, EntryKind.NOTE
                elif user_id is not None:
                    direction, kind = Direction.OUTBOUND, EntryKind.MESSAGE
                else:
                    direction, kind = Direction.INBOUND, EntryKind.MESSAGE
                channel = self.mapping.channel(comment.channel) or ticket.channel
                entries.append(
                    Entry(
                        ticket=ticket,
                        kind=kind,
                        channel=channel,
                        direction=direction,
                        internal=not comment.public,
                        author_user_id=user_id,
                        author_customer_id=customer_id if user_id is None else None,
                        body_text=comment.body_text,
                        body_html=_sanitized(comment.body_html),
                        metadata={"imported": {"source": self.source, "id": comment.source_id}},
                        ticket_version=version + index + 1,
                        created_at=comment.created_at,
                    )
                )
                comments.append(comment)
        if not entries:
            return []
        Entry.objects.bulk_create(entries)
        self._attachments(comments, entries)
        self.report.created["comment"] += len(entries)
        return [
            self._record("comment", comment.source_id, entry.pk, "")
            for comment, entry in zip(comments, entries, strict=True)
        ]

    def _attachments(self, comments: list[CommentIn], entries: list[Entry]) -> None:
        rows: list[Attachment] = []
        for comment, entry in zip(comments, entries, strict=True):
            for item in comment.attachments:
                filename = safe_filename(item.filename)
                content_type = item.content_type or mimetypes.guess_type(filename)[0] or "application/octet-stream"
                if self.dry_run:
                    self.report.created["attachment"] += 1
                    continue
                if item.size > settings.MAX_ATTACHMENT_BYTES:
                    self.report.skip("attachment", item.source_id, f"{filename}: larger than the limit")
                    continue
                try:
                    data = item.read()
                except Exception as exc:  # a download that failed: the rest of the ticket still comes
                    self.report.skip("attachment", item.source_id, f"{filename}: {exc}")
                    continue
                attachment = Attachment(
                    entry=entry,
                    filename=filename,
                    content_type=content_type[:150],
                    size=len(data),
                    inline=item.inline,
                    created_at=entry.created_at,
                )
                attachment.file.save(storage_name(filename), ContentFile(data, name=filename), save=False)
                rows.append(attachment)
        if rows:
            Attachment.objects.bulk_create(rows)
        self.report.created["attachment"] += len(rows)

    def _survey_values(self, item: TicketIn, ticket: Ticket) -> dict[str, Any] | None:
        if item.rating is None or item.rating.rating not in ("good", "bad"):
            return None
        from sportello.csat.models import Source

        at = item.rating.at or ticket.solved_at or ticket.updated_at
        return {
            "customer_id": ticket.customer_id,
            "agent_id": ticket.assignee_id,
            "group_id": ticket.group_id,
            "offered_at": ticket.solved_at or at,
            "rating": item.rating.rating,
            "comment": item.rating.comment,
            "source": Source.EMAIL,
            "answered_at": at,
            "updated_at": at,
        }

    def _ratings(self, items: list[TicketIn], tickets: list[Ticket]) -> None:
        """The CSAT ratings of new tickets (which have no survey yet), in one statement."""
        from sportello.csat.models import Survey

        surveys = []
        for item, ticket in zip(items, tickets, strict=True):
            values = self._survey_values(item, ticket)
            if values is not None:
                surveys.append(Survey(ticket=ticket, **values))
        if surveys:
            Survey.objects.bulk_create(surveys)
        self.report.created["rating"] += len(surveys)

    def _rating(self, item: TicketIn, ticket: Ticket) -> None:
        values = self._survey_values(item, ticket)
        if values is None:
            return
        from sportello.csat.models import Survey

        Survey.objects.update_or_create(ticket=ticket, defaults=values)
        self.report.created["rating"] += 1

    def _index(self, tickets: list[Ticket], threads: list[list[CommentIn]]) -> None:
        """The search documents of a batch of new tickets, built from what was just written (the
        customers and their addresses read in two queries) and written in one statement."""
        from sportello.search import backend as search

        if self.dry_run or not tickets:
            return
        customers = Customer.objects.prefetch_related("identities").in_bulk({t.customer_id for t in tickets})
        documents: dict[int, str] = {}
        for ticket, thread in zip(tickets, threads, strict=True):
            ticket.customer = customers[ticket.customer_id]
            bodies = [c.body_text for c in thread]
            documents[ticket.pk] = search.build_document(ticket.pk, ticket=ticket, bodies=bodies)
        search.write_documents(documents, new=True)

    # --- The end -------------------------------------------------------------------------------------

    def finish(self) -> None:
        """Report facts for the tickets written, once, in bulk."""
        self.flush()
        if self.dry_run or not self.tickets_written:
            return
        from sportello.reports import facts, rollup_sql

        for _progress in facts.rebuild(after=(self.first_ticket_id or 1) - 1):
            pass
        facts.rebuild_backlog()
        rollup_sql.rebuild_here()


def raise_counter_to(number: int) -> None:
    """Make sure the ticket sequence gives numbers above `number` (an imported ticket kept it)."""
    if connection.vendor == "postgresql":
        name = sequence_name("ticket")
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT setval(%s, %s) WHERE %s > (SELECT last_value FROM {connection.ops.quote_name(name)})",
                [name, number, number],
            )
        return
    counter, _ = Counter.objects.get_or_create(name="ticket", defaults={"value": settings.TICKET_NUMBER_START - 1})
    if counter.value < number:
        Counter.objects.filter(name="ticket", value__lt=number).update(value=number)


def _managed_of(custom: dict[str, Any], tags: list[str]) -> dict[str, list[str]]:
    """What a ticket got from the source that a later change there may take away (not its
    original number, which stays)."""
    return {
        "fields": sorted(k for k in custom if k != "imported_number"),
        "tags": sorted({n.strip()[:50] for n in tags if n.strip()}),
    }


def _last_of_each(items: list[Any]) -> list[Any]:
    """A batch's records, a record read twice (a change between two pages of an export) once, as
    last read."""
    last = {item.source_id: item for item in items}
    if len(last) == len(items):
        return items
    return [item for item in items if last[item.source_id] is item]


_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}")


def _field_def(row: CustomField) -> FieldDef:
    return FieldDef(
        id=row.pk,
        target=row.target,
        key=row.key,
        label=row.label,
        type=row.type,
        choices=tuple(str(c) for c in row.choices or []),
        required=False,  # an imported ticket has what it had: a field required now is not checked
        help_text=row.help_text,
        position=row.position,
    )


def _field_type(sample: Any) -> tuple[str, list[str]]:
    """The type (and choices) of a new field whose first value is `sample`."""
    if isinstance(sample, bool):
        return FieldType.CHECKBOX, []
    if isinstance(sample, int | float):
        return FieldType.NUMBER, []
    if isinstance(sample, list) and all(isinstance(v, str) for v in sample):
        return FieldType.MULTICHOICE, list(dict.fromkeys(v.strip()[:MAX_CHOICE_LENGTH] for v in sample if v.strip()))
    if isinstance(sample, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", sample.strip()):
        return FieldType.DATE, []
    return FieldType.TEXT, []


def _sanitized(html: str) -> str:
    if not html:
        return ""
    from sportello.core.html import sanitize_html

    return sanitize_html(html)
