"""`sportello demo` — load demo data: two groups, four agents, an admin, 30 customers, ~200 tickets.

Run again, it only prints the logins (the demo admin's existence says the data is there). The
data goes through the same services as real traffic — intake for customer messages, the ticket
services for replies, notes and field changes — so it looks and behaves like the real thing.

Outgoing mail: demo replies are recorded with `reply_to_ticket(..., deliver=False)`, as history
answered elsewhere: no delivery task is scheduled and no mail goes out. Customer addresses are all
under the reserved `.example` domain besides.
Acknowledgements are never scheduled (`acknowledge=False`).
"""

from __future__ import annotations

import random
import time
from argparse import ArgumentParser
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from datetime import time as time_of_day
from typing import Any

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.core.management.base import BaseCommand
from django.db import connection, transaction
from django.utils import timezone

from sportello.accounts.models import Availability, Group, Role, User
from sportello.core import events
from sportello.core.management import demo_data as data
from sportello.customers.models import Customer, Organization
from sportello.customers.services import Sender, find_or_create_customer
from sportello.reports import facts as report_facts
from sportello.search import backend as search
from sportello.tickets import statuses
from sportello.tickets.intake import Inbound, IntakeResult, ingest
from sportello.tickets.models import (
    Category,
    Change,
    Channel,
    Direction,
    Entry,
    EntryKind,
    Priority,
    Status,
    StatusCategory,
    Ticket,
)
from sportello.tickets.services import TicketChanges, add_note, reply_to_ticket, update_ticket

SEED = 20250301
TICKETS = 200
DAYS = 60
ADMIN = ("admin", "admin")
AGENT_PASSWORD = "demo"
CHANNELS = [Channel.EMAIL, Channel.WEB, Channel.CHAT, Channel.PHONE]
CHANNEL_WEIGHTS = [45, 25, 15, 15]
CHAT_KEY = "website"  # the demo's chat channel, as a website's widget tag names it


class Command(BaseCommand):
    help = "Load demo data (agents, customers, about 200 tickets); does nothing when it is loaded already."
    # The system checks import every URL and API module (~1 s of CPU) that loading data never uses;
    # `sportello run` and `migrate` run them.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--seed", type=int, default=SEED, help="random seed (the default gives the usual data)")

    def handle(self, *args: Any, **options: Any) -> None:
        if User.objects.filter(username=ADMIN[0]).exists():
            self.stdout.write("Demo data is loaded already (the user 'admin' exists); nothing to do.")
            self._print_logins()
            return
        started = time.monotonic()
        # A password hash is a deliberately slow 0.4 s of CPU; the hashing releases the GIL, so the
        # two demo passwords are hashed on another core while the data is written.
        with ThreadPoolExecutor(max_workers=2, thread_name_prefix="demo-password") as pool:
            hashes = {password: pool.submit(make_password, password) for password in (ADMIN[1], AGENT_PASSWORD)}
            # History, not news: no surveys or automatic mail go to the demo's customers. Search
            # indexes each ticket once, whole, at the end of the load (in its transaction), not
            # on each of its ~5 writes.
            with events.quietly(), transaction.atomic(), search.deferred():
                loader = DemoLoader(random.Random(options["seed"]), now=timezone.now(), hashes=hashes)
                loader.load()
            # Reports read facts, not tickets: filled now, so they show the demo at once (the
            # events' delivery refreshes them again, to the same values).
            report_facts.rebuild_all()
        seconds = time.monotonic() - started
        entries = Entry.objects.filter(ticket__in=loader.ticket_ids)
        self.stdout.write(
            f"Demo data loaded in {seconds:.1f} s: {len(loader.groups)} groups, {1 + len(loader.agents)} staff users, "
            f"{len(loader.customers)} customers, {Organization.objects.count()} organizations, "
            f"{len(loader.ticket_ids)} tickets, {entries.count()} entries "
            f"({entries.filter(direction=Direction.OUTBOUND).count()} replies, "
            f"{entries.filter(internal=True).count()} notes), {loader.articles} help-centre articles, "
            f"{loader.answers} satisfaction answers."
        )
        self._print_logins()

    def _print_logins(self) -> None:
        site = settings.SITE_URL
        self.stdout.write("Demo logins (demo data only: change these passwords before real use):")
        self.stdout.write(f"  {ADMIN[0]} / {ADMIN[1]}  administrator  {site}/admin/")
        for username, first, last, group, _language, online in data.AGENTS:
            state = ", online" if online else ""
            self.stdout.write(f"  {username} / {AGENT_PASSWORD}  {first} {last} ({group}{state})")
        self.stdout.write(f"Agents sign in at {site}/accounts/login/ ; customers write at {site}/support/new")
        self.stdout.write(
            f"Live chat: signed in as an agent, try the widget at {site}/chat/try and answer it at {site}/chat/console"
        )


@dataclass
class Step:
    """One item of a demo thread, in order: who writes, and when."""

    kind: str  # "customer", "reply" or "note"
    at: datetime


class DemoLoader:
    """Builds the demo data with one random generator, so one seed always gives the same data."""

    def __init__(self, rng: random.Random, *, now: datetime, hashes: dict[str, Future[str]] | None = None) -> None:
        self.rng = rng
        # Password -> its hash (being computed); the logins get them at the end of the load.
        self.hashes = hashes or {}
        self.passwords: dict[int, str] = {}  # user id -> the demo password of a login made here
        # Every demo time lies before `now`; rows the services stamp with the real clock are found
        # by `created_at >= now` and moved back to the time the demo thread says.
        self.now = now
        self.groups: dict[str, Group] = {}
        self.agents: dict[str, User] = {}
        self.members: dict[str, list[User]] = {name: [] for name, _tier, _description in data.GROUPS}
        self.admin: User | None = None
        self.customers: list[tuple[Customer, tuple[str, str, str, str]]] = []
        self.categories: dict[str, Category] = {}
        self.ticket_ids: list[int] = []
        # (ticket id, version before a step, version after it, the step's time), for _backdate.
        self.stamps: list[tuple[int, int, int, datetime]] = []
        # (ticket id, updated, first response, solved): each ticket's own times, for _backdate.
        self.times: list[tuple[int, datetime, datetime | None, datetime | None]] = []
        self.statuses: dict[str, Status] = {}
        # The extras (time logged, survey answers) draw from their own generator, so adding them
        # left the tickets of a seed as they were.
        self.extra = random.Random(repr(rng.getstate()))
        self.articles = 0
        self.answers = 0

    def load(self) -> None:
        self._people()
        self._sla()
        self.categories = {name: Category.objects.get_or_create(name=name)[0] for name in data.CATEGORIES}
        # Read once: the services read a built-in status on every call that is given no version.
        self.statuses = {category: statuses.builtin(category) for category in StatusCategory}
        for index in range(TICKETS):
            self.ticket_ids.append(self._ticket(index))
        self._backdate()
        self._assignment()
        self._chat()
        self._help_centre()
        self._automation()
        self._views()
        self._custom_fields()
        self._satisfaction()
        self._customer_notes()
        self._set_passwords()

    # --- People -----------------------------------------------------------------------------

    def _people(self) -> None:
        for name, tier, description in data.GROUPS:
            self.groups[name], _ = Group.objects.get_or_create(
                name=name, defaults={"tier": tier, "description": description}
            )
        self.admin = self._staff_user(
            ADMIN[0], ADMIN[1], first="Ada", last="Admin", role=Role.ADMIN, is_staff=True, is_superuser=True
        )
        for username, first, last, group, language, online in data.AGENTS:
            agent = self._staff_user(
                username,
                AGENT_PASSWORD,
                first=first,
                last=last,
                role=Role.AGENT,
                language=language,
                availability=Availability.ONLINE if online else Availability.OFFLINE,
            )
            self.groups[group].members.add(agent)
            self.agents[username] = agent
            self.members[group].append(agent)
        for name, domain, shared in data.ORGANIZATIONS:
            Organization.objects.get_or_create(name=name, defaults={"domain": domain, "shared_tickets": shared})
        for row in data.CUSTOMERS:
            name, email, language, phone = row
            # The intake's own lookup: it also joins the organization of the address's domain.
            customer = find_or_create_customer(Sender(name=name, email=email, phone=phone), language=language)
            self.customers.append((customer, row))

    def _staff_user(self, username: str, password: str, *, first: str, last: str, role: str, **extra: Any) -> User:
        """A demo login; an existing account of that name is left exactly as it is."""
        user, created = User.objects.get_or_create(
            username=username,
            defaults={
                "first_name": first,
                "last_name": last,
                "email": f"{username}@sportello.example",
                "role": role,
                **extra,
            },
        )
        if created:
            self.passwords[user.pk] = password
        return user

    def _set_passwords(self) -> None:
        """Deliberately weak demo passwords: set directly, past the password validators. The logins
        of one password share its hash: the banner prints these passwords anyway."""
        for password in set(self.passwords.values()):
            encoded = self.hashes[password].result() if password in self.hashes else make_password(password)
            users = [pk for pk, its in self.passwords.items() if its == password]
            User.objects.filter(pk__in=users).update(password=encoded)

    def _sla(self) -> None:
        """The office calendar and a default policy, so the tickets show SLA clocks."""
        from sportello.sla.models import Calendar, Policy
        from sportello.sla.services import IntervalIn, TargetIn, save_calendar, save_policy

        name, zone, countries, hours = data.CALENDAR
        calendar = Calendar.objects.filter(name=name).first() or save_calendar(
            Calendar(),
            {"name": name, "time_zone": zone, "holiday_countries": countries},
            intervals=[IntervalIn(day, time_of_day(start), time_of_day(end)) for day, start, end in hours],
        )
        if not Policy.objects.exists():
            save_policy(
                Policy(),
                {"name": "Default", "calendar": calendar, "warning_minutes": 60},
                targets=[
                    TargetIn(p, first, following, resolution) for p, first, following, resolution in data.SLA_TARGETS
                ],
            )

    def _assignment(self) -> None:
        """Automatic assignment for the first level, switched on after the demo tickets are in, so
        they keep the agents the demo gave them; new tickets (and waiting ones, within a minute) get
        the least loaded online agent. Every agent speaks their language and English."""
        from sportello.automation.assignment import configure_group_assignment, save_skill, set_agent_profile
        from sportello.automation.models import Skill

        skills = {}
        for name, categories, tags in data.SKILLS:
            skills[name] = Skill.objects.filter(name=name).first() or save_skill(
                Skill(), name=name, categories=[self.categories[c].pk for c in categories], tags=tags
            )
        for username, _first, _last, _group, language, _online in data.AGENTS:
            owned = [(skills[name], level) for name, level in data.AGENT_SKILLS.get(username, [])]
            set_agent_profile(self.agents[username], languages=list(dict.fromkeys([language, "en"])), skills=owned)
        for group, method, capacity in data.ASSIGNMENT:
            configure_group_assignment(self.groups[group], method=method, default_capacity=capacity)

    def _chat(self) -> None:
        """The website's live chat, answered by the first level; `/chat/try` shows its widget."""
        from sportello.chat.models import AskIdentity, ChatChannel

        ChatChannel.objects.get_or_create(
            key=CHAT_KEY,
            defaults={
                "name": "Website",
                "group": self.groups["First level"],
                "ask_identity": AskIdentity.OPTIONAL,
                "greeting": "Hello! How can we help?",
            },
        )

    # --- Help centre, automation, views -------------------------------------------------------

    def _help_centre(self) -> None:
        """Public articles in every language, published, in three categories; an existing help
        centre is left as it is."""
        from sportello.kb import services as kb
        from sportello.kb.models import Category as KbCategory

        if KbCategory.objects.exists():
            return
        assert self.admin is not None
        sections = {}
        for position, (slug, names) in enumerate(data.KB_CATEGORIES):
            section = kb.create_category(name=names["en"], slug=slug, position=10 * (position + 1))
            sections[slug] = kb.update_category(section, names=names)
        for article in data.KB_ARTICLES:
            languages = list(article.texts)
            title, body = article.texts[languages[0]]
            first = kb.create_article(
                self.admin,
                category=sections[article.category],
                text=kb.ArticleText(languages[0], title, body),
                tags=article.tags,
                publish=True,
            )
            for language in languages[1:]:
                title, body = article.texts[language]
                kb.publish_translation(
                    self.admin, kb.save_translation(self.admin, first.article, kb.ArticleText(language, title, body))
                )
            self.articles += 1

    def _automation(self) -> None:
        """Shared macros and two triggers, made after the demo tickets (which they leave alone)."""
        from sportello.automation.models import Macro, Match, Trigger, TriggerEvent
        from sportello.automation.services import save_macro, save_trigger

        assert self.admin is not None
        for name, body, actions in data.MACROS:
            if not Macro.objects.filter(name=name, owner=None).exists():
                save_macro(self.admin, {"name": name, "body": body, "actions": actions, "shared": True})
        billing_words = ["invoice", "refund", "fattura", "rimborso", "rechnung", "erstattung", "фактура"]
        triggers = [
            {
                "name": "Tagged urgent: high priority",
                "event": TriggerEvent.TICKET_CREATED,
                "conditions": [
                    {"field": "tags", "op": "contains", "value": "urgent"},
                    {"field": "priority", "op": "lte", "value": 2},
                ],
                "actions": [{"type": "set_priority", "priority": 3}],
            },
            {
                "name": "Billing requests to the first level",
                "event": TriggerEvent.TICKET_CREATED,
                "match": Match.ANY,
                "conditions": [{"field": "text", "op": "contains", "value": word} for word in billing_words],
                "actions": [
                    {"type": "set_group", "group": self.groups["First level"].pk},
                    {"type": "add_tags", "tags": ["billing"]},
                ],
            },
        ]
        for position, trigger in enumerate(triggers, start=1):
            if not Trigger.objects.filter(name=trigger["name"]).exists():
                save_trigger(self.admin, {**trigger, "position": position})

    def _views(self) -> None:
        """A view every agent sees and a personal one: the inbox's sidebar shows both with counts."""
        from sportello.inbox.models import SavedView, Sharing
        from sportello.inbox.services import save_view
        from sportello.tickets.queries import TicketFilter

        assert self.admin is not None
        views = [
            (
                self.admin,
                "Urgent and open",
                TicketFilter(priority=[Priority.URGENT], state=[StatusCategory.NEW, StatusCategory.OPEN]),
                Sharing.EVERYONE,
            ),
            (
                self.agents["anna"],
                "My waiting on customer",
                TicketFilter(view="mine", state=[StatusCategory.PENDING]),
                Sharing.PERSONAL,
            ),
        ]
        for owner, name, flt, sharing in views:
            if not SavedView.objects.filter(owner=owner, name=name).exists():
                save_view(owner, name=name, flt=flt, sharing=sharing)

    def _custom_fields(self) -> None:
        """Custom fields (fields/), with values where they fit: an order number on delivery
        tickets, the product on technical ones, a contract on each organization. A generator of
        their own, so that the rest of the demo stays as it was."""
        from sportello.fields.models import CustomField

        rng = random.Random("custom fields")
        products = ["Web app", "Mobile app", "API", "Online shop"]
        definitions = [
            ("ticket", "order_number", "Order number", "text", [], "The shop's order number, e.g. ORD-10452"),
            ("ticket", "product", "Product", "choice", products, ""),
            ("organization", "contract", "Contract", "choice", ["Basic", "Business", "Enterprise"], ""),
        ]
        for position, (target, key, label, kind, choices, help_text) in enumerate(definitions, start=1):
            CustomField.objects.get_or_create(
                target=target,
                key=key,
                defaults={
                    "label": label,
                    "type": kind,
                    "choices": choices,
                    "help_text": help_text,
                    "position": position,
                },
            )
        by_category = {category.pk: name for name, category in self.categories.items()}
        rows = Ticket.objects.filter(pk__in=self.ticket_ids, custom_fields={}).values_list("pk", "category_id")
        for pk, category_id in rows.order_by("pk"):
            category = by_category.get(category_id)
            if category == "Orders and delivery":
                values = {"order_number": f"ORD-{rng.randint(10000, 19999)}"}
            elif category == "Technical problem":
                values = {"product": rng.choice(products)}
            else:
                continue
            Ticket.objects.filter(pk=pk).update(custom_fields=values)  # indexed for search when the load ends
        for index, organization in enumerate(Organization.objects.filter(custom_fields={}).order_by("name")):
            organization.custom_fields = {"contract": ["Basic", "Business", "Enterprise"][index % 3]}
            organization.save(update_fields=["custom_fields"])

    def _satisfaction(self) -> None:
        """Survey answers on about half of the solved tickets, mostly good, a few bad with a comment.

        Written as the answers' rows directly: offering a survey through the csat service puts its
        mail in the outbox, and the demo's customers get no mail.
        """
        from sportello.csat.models import Rating, Source, Survey

        rng = self.extra
        solved = {ticket_id: at for ticket_id, _updated, _first, at in self.times if at is not None}
        tickets = Ticket.objects.filter(pk__in=solved).exclude(survey__isnull=False).order_by("pk")
        surveys, changes = [], []
        for ticket_id, customer_id, agent_id, group_id, version in tickets.values_list(
            "pk", "customer_id", "assignee_id", "group_id", "version"
        ):
            if rng.random() >= 0.55:
                continue
            offered = solved[ticket_id]
            answered = min(offered + timedelta(hours=rng.uniform(0.5, 48)), self.now - timedelta(minutes=1))
            rating = Rating.GOOD if rng.random() < 0.82 else Rating.BAD
            comment = rng.choice(data.CSAT_BAD_COMMENTS if rating == Rating.BAD else data.CSAT_GOOD_COMMENTS)
            surveys.append(
                Survey(
                    ticket_id=ticket_id,
                    customer_id=customer_id,
                    agent_id=agent_id,
                    group_id=group_id,
                    offered_at=offered,
                    rating=rating,
                    comment=comment,
                    source=Source.EMAIL,
                    answered_at=answered,
                    updated_at=answered,
                )
            )
            for at, old, new, note in (
                (offered, "", "offered", "Satisfaction survey offered"),
                (answered, "", rating, "Satisfaction survey answered"),
            ):
                changes.append(
                    Change(
                        ticket_id=ticket_id,
                        field="csat",
                        old_value=old,
                        new_value=new,
                        note=note,
                        ticket_version=version,
                        created_at=at,
                    )
                )
        Survey.objects.bulk_create(surveys)
        Change.objects.bulk_create(changes)
        self.answers = len(surveys)

    def _customer_notes(self) -> None:
        from sportello.customers.models import CustomerNote
        from sportello.customers.services import add_customer_note

        by_email = {row[1]: customer for customer, row in self.customers}
        for email, username, body in data.CUSTOMER_NOTES:
            customer = by_email.get(email)
            if customer is not None and not CustomerNote.objects.filter(customer=customer, body=body).exists():
                add_customer_note(customer, self.agents[username], body)

    # --- Tickets ----------------------------------------------------------------------------

    def _ticket(self, index: int) -> int:
        rng = self.rng
        _customer, (name, email, language, phone) = rng.choice(self.customers)
        native = [s for s in data.SCENARIOS if s.language == language != "en"]
        pool = native if native and rng.random() < 0.4 else [s for s in data.SCENARIOS if s.language == "en"]
        scenario = rng.choice(pool)
        # The first four tickets take one channel each, so every channel is always there.
        channel = CHANNELS[index] if index < len(CHANNELS) else rng.choices(CHANNELS, CHANNEL_WEIGHTS)[0]
        age = rng.uniform(0.02, DAYS)
        state = _final_state(rng, age)
        group = self.groups["Second level" if scenario.second_level else "First level"]
        members = self.members[group.name]
        assigned = rng.random() < (0.2 if state == StatusCategory.NEW else 0.85)
        assignee = rng.choice(members) if assigned else None
        steps = self._thread(state, age)
        priority = rng.choices(list(Priority), [15, 55, 22, 8])[0]
        tags = list(scenario.tags) + (["urgent"] if priority == Priority.URGENT else [])

        sender = Sender(name=name, email=email, phone=phone)
        first = self._opening(scenario, channel, sender, language, priority, group, tags, steps[0].at)
        ticket = first.ticket
        # (the ticket's version after a step, the step's time): what the services wrote with the
        # real clock is moved to the thread's times at the end of the load (_backdate).
        stamps: list[tuple[int, datetime]] = []
        first_reply: datetime | None = None
        for step in steps[1:]:
            agent = assignee or rng.choice(members)
            if step.kind == "customer":
                entry = ingest(
                    Inbound(
                        channel=Channel.EMAIL if channel == Channel.PHONE else channel,
                        sender=sender,
                        body_text=_pick(rng, scenario.follow_ups, data.FOLLOW_UPS),
                        ticket=ticket,
                        received_at=step.at,
                        language=language,
                        acknowledge=False,
                    )
                ).entry
            elif step.kind == "reply":
                waiting = rng.random() < 0.3 and step is not steps[-1]
                body = f"{_pick(rng, scenario.replies, data.ACK_REPLIES)}\n\n{agent.first_name}"
                entry = reply_to_ticket(
                    ticket,
                    agent,
                    body_text=body,
                    status=self.statuses[StatusCategory.PENDING] if waiting else None,
                    deliver=False,
                    # Minutes logged on the reply (time tracking), on about half of them.
                    time_spent=self.extra.choice([5, 10, 15, 20, 30]) if self.extra.random() < 0.5 else None,
                )
                first_reply = first_reply or step.at
            else:
                entry = add_note(ticket, agent, body_text=_pick(rng, scenario.notes, data.NOTES))
            stamps.append((entry.ticket_version, step.at))

        finish = min(steps[-1].at + timedelta(minutes=rng.uniform(2, 240)), self.now - timedelta(minutes=1))
        actor = assignee or self.agents["anna"]
        changes = TicketChanges(
            status=self.statuses[state],
            assignee=assignee,
            category=self.categories[scenario.category] if rng.random() < 0.9 else None,
        )
        stamps.append((update_ticket(ticket, actor, changes).version, finish))
        previous = 0
        for version, at in stamps:
            self.stamps.append((ticket.pk, previous, version, at))
            previous = version
        solved = finish if state in (StatusCategory.SOLVED, StatusCategory.CLOSED) else None
        self.times.append((ticket.pk, finish, first_reply, solved))
        return ticket.pk

    def _opening(
        self,
        scenario: data.Scenario,
        channel: str,
        sender: Sender,
        language: str,
        priority: int,
        group: Group,
        tags: list[str],
        at: datetime,
    ) -> IntakeResult:
        rng = self.rng
        body, kind, recorded_by = scenario.body, EntryKind.MESSAGE, None
        metadata: dict[str, Any] = {}
        if channel == Channel.PHONE:
            body = rng.choice(data.PHONE_SUMMARIES).format(subject=scenario.subject)
            kind = EntryKind.CALL
            metadata = {"duration_seconds": rng.randint(45, 900), "from": sender.phone or sender.email}
            recorded_by = rng.choice(self.members["First level"])  # the first level takes the calls
        elif channel == Channel.CHAT:
            body = rng.choice(data.CHAT_OPENERS) + scenario.body
            metadata = {"session": f"demo-{rng.randrange(10**8):08d}"}
        elif channel == Channel.EMAIL and sender.email:
            # As mail intake records it: a mail from the address a file starts with verifies it.
            metadata = {"from": {"address": sender.email, "name": sender.name}}
        return ingest(
            Inbound(
                channel=channel,
                sender=sender,
                subject=scenario.subject,
                body_text=body,
                kind=kind,
                metadata=metadata,
                received_at=at,
                language=language,
                recorded_by=recorded_by,
                priority=priority,
                group=group,
                tags=tags,
                acknowledge=False,
            )
        )

    def _thread(self, state: str, age_days: float) -> list[Step]:
        """The thread's steps (1 to 6) and their times, all between the ticket's start and now.

        A new ticket has had no public reply yet (a reply would open it); every other one has at
        least one. Customers and agents take turns, with a note now and then.
        """
        rng = self.rng
        if state == StatusCategory.NEW:
            kinds = ["customer"] + [rng.choice(["customer", "note"]) for _ in range(rng.choice([0, 0, 0, 1, 2]))]
        else:
            kinds = ["customer"]
            for _ in range(rng.randint(1, 5)):
                previous = kinds[-1]
                if previous == "customer":
                    kinds.append("reply" if rng.random() < 0.8 else "note")
                elif previous == "note":
                    kinds.append("reply")
                else:
                    kinds.append("customer" if rng.random() < 0.7 else "note")
            if "reply" not in kinds:
                kinds[1] = "reply"
        start = self.now - timedelta(days=age_days)
        end = self.now - timedelta(minutes=2)
        offsets = [0.0]
        for _ in kinds[1:]:
            offsets.append(offsets[-1] + rng.uniform(5, 24 * 60))  # minutes
        room = (end - start).total_seconds() / 60
        scale = min(1.0, room / offsets[-1]) if offsets[-1] else 1.0
        return [Step(kind, start + timedelta(minutes=o * scale)) for kind, o in zip(kinds, offsets, strict=True)]

    def _backdate(self) -> None:
        """Move what the services wrote with the real clock to the demo threads' times.

        Every step bumps its ticket's version, and entries and history rows carry the version they
        made: the rows of a version after the previous step's and up to this step's were written
        by this step. Each ticket then gets the thread's times (last update, first response,
        solved). One statement per table for the whole load (plain SQL: the ORM would spend more
        time compiling ~1,000 statements, or one CASE of ~1,000 branches, than SQLite takes to run
        them).
        """
        adapt = connection.ops.adapt_datetimefield_value
        since = adapt(self.now)
        rows = [(adapt(at), ticket_id, after, upto, since) for ticket_id, after, upto, at in self.stamps]
        with connection.cursor() as cursor:
            for model in (Entry, Change):
                table = connection.ops.quote_name(model._meta.db_table)
                cursor.executemany(
                    f"UPDATE {table} SET created_at = %s WHERE ticket_id = %s"
                    " AND ticket_version > %s AND ticket_version <= %s AND created_at >= %s",
                    rows,
                )
            table = connection.ops.quote_name(Ticket._meta.db_table)
            cursor.executemany(
                f"UPDATE {table} SET updated_at = %s, first_response_at = %s, solved_at = %s WHERE id = %s",
                [
                    (adapt(updated), adapt(first), adapt(solved), ticket_id)
                    for ticket_id, updated, first, solved in self.times
                ],
            )


def _final_state(rng: random.Random, age_days: float) -> str:
    """Recent tickets are mostly new or open; old ones mostly solved or closed."""
    categories = [c for c in StatusCategory if c != StatusCategory.SPAM]  # no demo ticket is spam
    if age_days < 1:
        weights = [35, 35, 15, 5, 10, 0]
    elif age_days < 7:
        weights = [10, 30, 20, 10, 25, 5]
    else:
        weights = [3, 12, 10, 8, 30, 37]
    return rng.choices(categories, weights)[0]


def _pick(rng: random.Random, own: list[str], fallback: list[str]) -> str:
    return rng.choice(own or fallback)
