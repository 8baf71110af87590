"""The pages of the settings area, in the order admins read them.

Each page belongs to the app that owns its models (accounts, sla, automation…) and is served from
that app's `settings_urls.py`, included under /settings/ by `admin_area/urls.py`. This list only
names them: a page whose URL name does not resolve yet is left out of the menu, so an app can
land its page without touching this file.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.urls import NoReverseMatch, reverse
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _


@dataclass(frozen=True)
class Page:
    url_name: str
    title: str | Promise
    description: str | Promise


@dataclass(frozen=True)
class Section:
    title: str | Promise
    pages: tuple[Page, ...]


SECTIONS: tuple[Section, ...] = (
    Section(
        _("Team"),
        (
            Page("settings-users", _("Users and agents"), _("Invite agents, roles, groups, skills, capacity.")),
            Page("settings-groups", _("Groups and tiers"), _("Who works which tickets, and the support levels.")),
            Page("settings-skills", _("Skills"), _("What tickets need by type or tag, and which agents have it.")),
            Page("settings-tokens", _("API tokens"), _("Tokens with scopes and expiry for scripts and integrations.")),
        ),
    ),
    Section(
        _("Tickets"),
        (
            Page("settings-statuses", _("Statuses"), _("The steps a ticket goes through, with presets.")),
            Page("settings-categories", _("Ticket types"), _("Categories agents and forms file tickets under.")),
            Page("fields:settings", _("Custom fields"), _("Extra fields on tickets, customers and organizations.")),
            Page("settings-assist", _("Reply assistance"), _("A model server that drafts, summarises and translates.")),
        ),
    ),
    Section(
        _("Service levels"),
        (
            Page("settings-sla", _("SLA policies"), _("Response and resolution targets, and which tickets they take.")),
            Page("settings-calendars", _("Business hours"), _("Calendars with opening hours and holidays.")),
        ),
    ),
    Section(
        _("Automation"),
        (
            Page("settings-triggers", _("Triggers"), _("Act on tickets as events happen, with a dry run.")),
            Page("settings-time-rules", _("Time rules"), _("Act on tickets that have waited too long.")),
            Page("settings-macros", _("Macros"), _("Canned responses and one-click changes for agents.")),
            Page("settings-webhooks", _("Webhooks"), _("Calls to other systems, with a test call and their log.")),
            Page("settings-triage", _("Auto-triage"), _("Group, type and priority predicted from past tickets.")),
        ),
    ),
    Section(
        _("Channels"),
        (
            Page("mail_mailboxes", _("Mailboxes"), _("Addresses the help desk receives mail at.")),
            Page("settings-email-templates", _("Email templates"), _("The mails customers receive, per language.")),
            Page("settings-channels", _("Chat and messaging"), _("Chat widget, WhatsApp, Telegram, SMS and others.")),
            Page("phone:accounts", _("Phone"), _("Phone systems that report calls.")),
        ),
    ),
    Section(
        _("Help centre"),
        (
            Page("settings-kb-categories", _("Knowledge base categories"), _("Sections of the help centre.")),
            Page("settings-forum", _("Community forum"), _("When a topic counts as unanswered in the inbox.")),
        ),
    ),
    Section(
        _("Security and privacy"),
        (
            Page("settings-sso", _("Sign-in"), _("Single sign-on, passwords and two-factor.")),
            Page("settings-privacy", _("Privacy"), _("Customer data export, erasure and retention rules.")),
            Page("audit:list", _("Audit trail"), _("Who changed what, signed in, exported or erased.")),
        ),
    ),
    Section(
        _("Brand"),
        (Page("settings-branding", _("Branding"), _("Name, logo, colours and the support address.")),),
    ),
)


@dataclass(frozen=True)
class Link:
    url: str
    title: str | Promise
    description: str | Promise


def menu() -> list[tuple[str | Promise, list[Link]]]:
    """The sections with the pages that exist, each with its URL."""
    result = []
    for section in SECTIONS:
        links = []
        for page in section.pages:
            try:
                links.append(Link(reverse(page.url_name), page.title, page.description))
            except NoReverseMatch:
                continue
        if links:
            result.append((section.title, links))
    return result
