"""What an import did: created, updated, unchanged and skipped rows per kind, with the reasons,
and the source values that mapped to nothing. Printed at the end and written to a JSON file."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

KINDS = (
    "group",
    "organization",
    "agent",
    "customer",
    "ticket",
    "comment",
    "attachment",
    "rating",
    # the knowledge base and macros (kb_writer.py)
    "category",
    "article",
    "translation",
    "image",
    "macro",
)
MAX_REASONS = 1000  # skipped rows kept per kind in the file; the counts stay exact


@dataclass
class Report:
    source: str
    dry_run: bool = False
    created: Counter[str] = field(default_factory=Counter)
    updated: Counter[str] = field(default_factory=Counter)
    unchanged: Counter[str] = field(default_factory=Counter)
    skipped: Counter[str] = field(default_factory=Counter)
    reasons: dict[str, list[dict[str, str]]] = field(default_factory=lambda: defaultdict(list))
    # What mapped to nothing: ("status", "Escalated") -> how many rows had it.
    unmapped: Counter[tuple[str, str]] = field(default_factory=Counter)
    renumbered: int = 0
    seconds: float = 0.0

    def skip(self, kind: str, source_id: str, reason: str) -> None:
        self.skipped[kind] += 1
        if len(self.reasons[kind]) < MAX_REASONS:
            self.reasons[kind].append({"id": source_id, "reason": reason})

    def as_dict(self) -> dict[str, Any]:
        kinds = [k for k in KINDS if any(c[k] for c in (self.created, self.updated, self.unchanged, self.skipped))]
        return {
            "source": self.source,
            "dry_run": self.dry_run,
            "seconds": round(self.seconds, 1),
            "counts": {
                kind: {
                    "created": self.created[kind],
                    "updated": self.updated[kind],
                    "unchanged": self.unchanged[kind],
                    "skipped": self.skipped[kind],
                }
                for kind in kinds
            },
            "renumbered_tickets": self.renumbered,
            "skipped": {kind: rows for kind, rows in self.reasons.items() if rows},
            "unmapped": [
                {"what": what, "value": value, "rows": n} for (what, value), n in sorted(self.unmapped.items())
            ],
        }

    def write(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.as_dict(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")

    def lines(self) -> list[str]:
        verb = "would be" if self.dry_run else "were"
        out = [f"Import from {self.source}{' (dry run: nothing written)' if self.dry_run else ''}:"]
        for kind, counts in self.as_dict()["counts"].items():
            label = "categories" if kind == "category" else f"{kind}s"
            out.append(
                f"  {label}: {counts['created']} {verb} created, {counts['updated']} updated, "
                f"{counts['unchanged']} unchanged, {counts['skipped']} skipped"
            )
        if self.renumbered:
            out.append(f"  {self.renumbered} tickets got a new number (their old one is searchable)")
        for kind, rows in self.reasons.items():
            for row in rows[:20]:
                out.append(f"  skipped {kind} {row['id']}: {row['reason']}")
            if self.skipped[kind] > 20:
                out.append(f"  … and {self.skipped[kind] - 20} more skipped {kind} rows (see the report file)")
        for (what, value), n in sorted(self.unmapped.items()):
            hint = "; see --mapping" if what in ("status", "priority", "channel") else ""
            out.append(f"  cannot map {what} {value!r} ({n} rows{hint})")
        return out
