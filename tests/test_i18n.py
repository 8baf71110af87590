"""The translation catalogs (src/sportello/locale/<lang>/LC_MESSAGES/django.po and .mo).

Customers must never meet an English sentence on an Italian, German or Bulgarian page: every
entry that comes from a customer-facing file is translated and not fuzzy. The compiled .mo files
are committed (so `make run` needs no gettext); each must hold exactly what its .po says. Their
modification times say nothing after a git checkout, so the contents are compared: the .po is
read here and the .mo through Python's own `gettext`, so the check needs no msgfmt.

`make messages` refreshes the catalogs from the source and compiles them.
"""

from __future__ import annotations

import ast
import gettext
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.conf import settings

LOCALE = Path(settings.LOCALE_PATHS[0])
TRANSLATED = [code for code, _name in settings.LANGUAGES if code != settings.LANGUAGE_CODE]

# Files whose strings a customer reads: the help centre, the web form, the portal, the survey
# page, the sign-in and chat-transcript mails, the error pages, the language switcher and the
# built-in status names the portal shows. Their entries must be translated; the agents' pages
# should be, but fall back to English when a new string is not yet.
CUSTOMER_FACING = (
    "src/sportello/kb/templates/kb/public_base.html",
    "src/sportello/kb/templates/kb/home.html",
    "src/sportello/kb/templates/kb/category.html",
    "src/sportello/kb/templates/kb/article.html",
    "src/sportello/kb/templates/kb/search.html",
    "src/sportello/kb/templates/kb/_feedback.html",
    "src/sportello/kb/templates/kb/_suggestions.html",
    "src/sportello/kb/templates/kb/_searchbox.html",
    "src/sportello/kb/templates/kb/deflected.html",
    # The forum's public pages and its reply mail (not queue.html: the moderation page is the agents').
    "src/sportello/forum/templates/forum/_post.html",
    "src/sportello/forum/templates/forum/_topic_list.html",
    "src/sportello/forum/templates/forum/base.html",
    "src/sportello/forum/templates/forum/category.html",
    "src/sportello/forum/templates/forum/error.html",
    "src/sportello/forum/templates/forum/home.html",
    "src/sportello/forum/templates/forum/new_topic.html",
    "src/sportello/forum/templates/forum/topic.html",
    "src/sportello/forum/templates/forum/unsubscribe.html",
    "src/sportello/forum/templates/forum/search.html",
    "src/sportello/forum/templates/forum/_searchbox.html",
    "src/sportello/forum/templates/forum/mail/",
    "src/sportello/webform/",
    "src/sportello/portal/",
    "src/sportello/csat/forms.py",
    "src/sportello/csat/services.py",
    "src/sportello/csat/access.py",
    "src/sportello/csat/templates/csat/answer.html",
    "src/sportello/csat/templates/csat/_form.html",
    "src/sportello/mail/templates/mail/sign_in_link",
    "src/sportello/mail/outbound.py",
    "src/sportello/templates/403.html",
    "src/sportello/templates/404.html",
    "src/sportello/templates/_language_switch.html",
    "src/sportello/tickets/statuses.py",
)

PLACEHOLDER = re.compile(r"%\(\w+\)[sd]|%[sd]")


@dataclass
class Entry:
    msgid: str
    msgid_plural: str | None = None
    msgstr: dict[int, str] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)
    fuzzy: bool = False

    @property
    def customer_facing(self) -> bool:
        return any(path.startswith(CUSTOMER_FACING) for path in self.files)

    @property
    def translated(self) -> bool:
        return bool(self.msgstr) and all(self.msgstr.values())


def read_po(path: Path) -> list[Entry]:
    """The entries of a .po file (the header is left out). Obsolete `#~` entries are comments."""
    entries: list[Entry] = []
    for block in path.read_text(encoding="utf-8").split("\n\n"):
        entry, target = Entry(msgid=""), ""
        seen_msgid = False
        for line in block.splitlines():
            if line.startswith("#:"):
                entry.files += [ref.split(":")[0] for ref in line[2:].split()]
            elif line.startswith("#,"):
                entry.fuzzy = entry.fuzzy or "fuzzy" in line
            elif line.startswith("#"):
                continue
            elif line.startswith('"'):
                _append(entry, target, ast.literal_eval(line))
            else:
                keyword, _, text = line.partition(" ")
                target = keyword
                seen_msgid = seen_msgid or keyword == "msgid"
                _append(entry, target, ast.literal_eval(text), start=True)
        if seen_msgid and entry.msgid:
            entries.append(entry)
    return entries


def _append(entry: Entry, target: str, text: str, *, start: bool = False) -> None:
    if target == "msgid":
        entry.msgid += text
    elif target == "msgid_plural":
        entry.msgid_plural = (entry.msgid_plural or "") + text
    elif target.startswith("msgstr"):
        index = int(target[7:-1]) if target.endswith("]") else 0
        entry.msgstr[index] = ("" if start else entry.msgstr.get(index, "")) + text


def po_path(language: str) -> Path:
    return LOCALE / language / "LC_MESSAGES" / "django.po"


def mo_path(language: str) -> Path:
    return LOCALE / language / "LC_MESSAGES" / "django.mo"


def test_the_parser_reads_plural_and_continued_entries() -> None:
    entries = read_po(po_path("bg"))
    found = next(e for e in entries if e.msgid_plural == "%(counter)s tickets found")
    assert found.msgid == "%(counter)s ticket found" and set(found.msgstr) == {0, 1}
    long = next(e for e in entries if e.msgid.startswith("Tell us what happened."))
    assert long.msgid.endswith("right away.") and long.msgstr[0].endswith(".")  # joined from several lines


@pytest.mark.parametrize("language", TRANSLATED)
def test_every_customer_facing_entry_is_translated(language: str) -> None:
    entries = read_po(po_path(language))
    customer = [e for e in entries if e.customer_facing]
    assert len(customer) > 100, "the catalog lost its locations: run `make messages`"
    missing = [e.msgid for e in customer if not e.translated]
    fuzzy = [e.msgid for e in customer if e.fuzzy]
    assert not missing, f"{language}: untranslated customer-facing entries: {missing}"
    assert not fuzzy, f"{language}: fuzzy customer-facing entries (check, then drop the flag): {fuzzy}"


@pytest.mark.parametrize("language", TRANSLATED)
def test_translations_keep_their_placeholders(language: str) -> None:
    for entry in read_po(po_path(language)):
        for index, text in entry.msgstr.items():
            source = entry.msgid if index == 0 or entry.msgid_plural is None else entry.msgid_plural
            if text:
                assert sorted(PLACEHOLDER.findall(text)) == sorted(PLACEHOLDER.findall(source)), (language, text)


@pytest.mark.parametrize("language", TRANSLATED)
def test_the_plural_forms_header_is_filled(language: str) -> None:
    header = po_path(language).read_text(encoding="utf-8").split("\n\n")[0]
    assert '"Plural-Forms: nplurals=2; plural=(n != 1);\\n"' in header
    assert f'"Language: {language}\\n"' in header and "#, fuzzy" not in header


@pytest.mark.parametrize("language", TRANSLATED)
def test_the_compiled_catalog_matches_its_source(language: str) -> None:
    """The committed .mo holds exactly the .po's translated, non-fuzzy entries (as msgfmt compiles)."""
    with mo_path(language).open("rb") as handle:
        compiled = gettext.GNUTranslations(handle)
    expected: dict[object, str] = {}
    for entry in read_po(po_path(language)):
        if entry.fuzzy or not entry.translated:
            continue
        if entry.msgid_plural is None:
            expected[entry.msgid] = entry.msgstr[0]
        else:
            expected.update({(entry.msgid, n): text for n, text in entry.msgstr.items()})
    catalog = {key: value for key, value in compiled._catalog.items() if key != ""}  # type: ignore[attr-defined]
    stale = sorted(str(key) for key in expected.keys() ^ catalog.keys())
    changed = sorted(str(key) for key in expected.keys() & catalog.keys() if expected[key] != catalog[key])
    assert not stale and not changed, (
        f"{mo_path(language)} is out of date with its .po (run `make messages`): {stale or changed}"
    )


@pytest.mark.parametrize("language", TRANSLATED)
def test_msgfmt_accepts_the_catalog(language: str, tmp_path: Path) -> None:
    """gettext's own checks (header, python-format placeholders), where msgfmt is installed."""
    msgfmt = shutil.which("msgfmt")
    if msgfmt is None:
        pytest.skip("msgfmt (Debian's gettext) is not installed; the checks above cover the catalogs without it")
    result = subprocess.run(
        [msgfmt, "--check", "-o", str(tmp_path / "django.mo"), str(po_path(language))],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
