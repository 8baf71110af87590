"""The forms of an HTML page with the values a browser would submit as they stand: text inputs'
values, checked boxes, selected options (or a single select's first), textareas. Submit buttons,
file inputs and disabled fields are left out. For tests that post what a page really offers."""

from __future__ import annotations

from html.parser import HTMLParser
from typing import Any


class Form:
    def __init__(self, attrs: dict[str, str]) -> None:
        self.action = attrs.get("action") or ""
        self.method = (attrs.get("method") or "get").lower()
        self.fields: dict[str, list[str]] = {}
        self.names: list[str] = []  # every control's name, filled or not

    def add(self, name: str, value: str) -> None:
        self.fields.setdefault(name, []).append(value)


class Forms(HTMLParser):
    """`Forms(html).forms`: each <form> of the page, in order."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[Form] = []
        self._form: Form | None = None
        self._select: tuple[str, bool, list[tuple[str, bool]]] | None = None
        self._option: list[Any] | None = None
        self._textarea: tuple[str, list[str]] | None = None
        self.feed(html)

    def handle_starttag(self, tag: str, attrs_list: list[tuple[str, str | None]]) -> None:
        attrs = {k: v or "" for k, v in attrs_list}
        if tag == "form":
            self._form = Form(attrs)
            self.forms.append(self._form)
            return
        form = self._form
        if form is None:
            return
        name = attrs.get("name")
        if tag == "input" and name:
            kind = attrs.get("type", "text").lower()
            form.names.append(name)
            if kind in ("submit", "button", "image", "reset", "file") or "disabled" in attrs:
                return
            if kind in ("checkbox", "radio"):
                if "checked" in attrs:
                    form.add(name, attrs.get("value", "on"))
                return
            form.add(name, attrs.get("value", ""))
        elif tag == "select" and name:
            form.names.append(name)
            self._select = (name, "multiple" in attrs, [])
        elif tag == "option" and self._select is not None:
            self._option = [attrs.get("value"), "selected" in attrs, ""]
            self._select[2].append(self._option)  # type: ignore[arg-type]
        elif tag == "textarea" and name:
            form.names.append(name)
            self._textarea = (name, [])

    def handle_data(self, data: str) -> None:
        if self._textarea is not None:
            self._textarea[1].append(data)
        if self._option is not None:
            self._option[2] += data

    def handle_endtag(self, tag: str) -> None:
        form = self._form
        if tag == "form":
            self._form = None
        elif tag == "option":
            self._option = None
        elif tag == "select" and self._select is not None and form is not None:
            name, multiple, options = self._select
            values = [(v if v is not None else text.strip()) for v, sel, text in options if sel]
            if not values and not multiple and options:
                v, _sel, text = options[0]
                values = [v if v is not None else text.strip()]
            for value in values:
                form.add(name, value)
            self._select = None
        elif tag == "textarea" and self._textarea is not None and form is not None:
            name, parts = self._textarea
            text = "".join(parts)
            form.add(name, text[1:] if text.startswith("\n") else text)
            self._textarea = None
