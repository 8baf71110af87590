"""Helpers of the automation settings tests: read a page's form back as the browser would post it."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest


class _FormReader(HTMLParser):
    """The fields a browser would post from the form with id `form_id` (no button pressed)."""

    def __init__(self, form_id: str) -> None:
        super().__init__()
        self.form_id = form_id
        self.inside = False
        self.fields: list[tuple[str, str]] = []
        self.select: str | None = None
        self.select_options: list[tuple[str, bool]] = []
        self.textarea: str | None = None
        self.text = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.inside = a.get("id") == self.form_id
        if not self.inside:
            return
        if tag == "input" and a.get("name") and a.get("type") not in ("submit", "button"):
            if a.get("type") == "checkbox":
                if "checked" in a:
                    self.fields.append((a["name"], a.get("value") or "on"))
            else:
                self.fields.append((a["name"], a.get("value", "")))
        elif tag == "select":
            self.select, self.select_options = a.get("name"), []
        elif tag == "option" and self.select is not None:
            self.select_options.append((a.get("value", ""), "selected" in a))
        elif tag == "textarea":
            self.textarea, self.text = a.get("name"), ""

    def handle_data(self, data: str) -> None:
        if self.textarea is not None:
            self.text += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self.inside = False
        if tag == "select" and self.select is not None:
            chosen = [value for value, selected in self.select_options if selected]
            if not chosen and self.select_options:
                chosen = [self.select_options[0][0]]
            self.fields += [(self.select, value) for value in chosen]
            self.select = None
        if tag == "textarea" and self.textarea is not None:
            self.fields.append((self.textarea, self.text.removeprefix("\n")))
            self.textarea = None


def form_fields(html: str, form_id: str = "rule-form") -> dict[str, list[str]]:
    reader = _FormReader(form_id)
    reader.feed(html)
    found: dict[str, list[str]] = {}
    for name, value in reader.fields:
        found.setdefault(name, []).append(value)
    return found


@pytest.fixture
def read_form():
    return form_fields
