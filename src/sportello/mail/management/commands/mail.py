"""`sportello mail parse FILE…` and `sportello mail import PATH…`: one JSON line per message."""

from __future__ import annotations

import json
import mailbox as mbox
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from sportello.mail.parse import ParseError, parse_message
from sportello.mail.pipeline import conclude
from sportello.mail.services import receive_raw


class Command(BaseCommand):
    help = "Parse mail files without storing them, or import them as if they had been delivered."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        parse = sub.add_parser("parse", help="print what each message parses to and where it would be threaded")
        parse.add_argument("files", nargs="+")
        imp = sub.add_parser("import", help="ingest .eml files, folders of them, or mbox files")
        imp.add_argument("paths", nargs="+")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "parse":
            for label, raw in messages_in(options["files"]):
                self._print(describe(label, raw))
        else:
            for label, raw in messages_in(options["paths"]):
                row = receive_raw(raw, source="import")
                self._print({
                    "file": label,
                    "raw_message": row.pk,
                    "state": row.state,
                    "ticket": row.ticket.number if row.ticket else None,
                    "entry": row.entry_id,
                    "reason": row.reason or None,
                })

    def _print(self, value: dict[str, Any]) -> None:
        self.stdout.write(json.dumps(value, ensure_ascii=False, default=str))


def messages_in(paths: list[str]) -> Iterator[tuple[str, bytes]]:
    """(label, raw bytes) for each message in files, folders (*.eml, recursively) and mbox files."""
    for name in paths:
        path = Path(name)
        if path.is_dir():
            for item in sorted(path.rglob("*.eml")):
                yield str(item), item.read_bytes()
        elif path.is_file():
            if _is_mbox(path):
                box = mbox.mbox(str(path), create=False)
                for index, key in enumerate(box.keys()):
                    yield f"{path}#{index + 1}", box.get_bytes(key)
            else:
                yield str(path), path.read_bytes()
        else:
            raise CommandError(f"No such file or folder: {name}")


def _is_mbox(path: Path) -> bool:
    with path.open("rb") as handle:
        return handle.read(5) == b"From " and path.suffix.lower() != ".eml"


def describe(label: str, raw: bytes) -> dict[str, Any]:
    try:
        parsed = parse_message(raw)
    except ParseError as exc:
        return {"file": label, "error": str(exc)}
    found = conclude(parsed)
    return {
        "file": label,
        "from": parsed.from_.as_dict() if parsed.from_ else None,
        "to": [a.as_dict() for a in parsed.to],
        "cc": [a.as_dict() for a in parsed.cc],
        "subject": parsed.subject,
        "date": parsed.date.isoformat() if parsed.date else None,
        "message_id": parsed.message_id,
        "text": parsed.full_text,
        "visible_text": parsed.visible_text,
        "html": _sanitized(parsed.html),
        "attachments": [
            {"filename": p.filename, "content_type": p.content_type, "size": p.size, "inline": p.inline}
            for p in parsed.attachments
        ],
        "flags": found.flags(),
        "threading": found.threading.as_dict(),
    }


def _sanitized(html: str) -> str:
    from sportello.core.html import sanitize_html

    return sanitize_html(html)
