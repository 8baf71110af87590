"""Auto-triage on the labelled evaluation set: accuracy on held-back recent tickets vs the majority class.

    bash scripts/uv.sh run python bench/triage.py [--file tests/fixtures/triage/tickets.jsonl]

The set (400 tickets, 100 each in en/it/de/bg, tests/fixtures/triage/make_tickets.py) is sorted by
its creation time; each target is trained on the older 80% and measured on the most recent 20%,
as the settings page measures an installation's own history (sportello/triage/learning.py). For
group and category the macro F1 is printed too; for tags, the exact-set share and the micro F1.
Needs no database.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from sportello.triage.learning import Example, TooLittleHistory, evaluate, text_of

DEFAULT = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "triage" / "tickets.jsonl"
TARGETS = ("group", "category", "priority", "language", "tags")


def examples_of(rows: list[dict[str, object]], target: str) -> list[Example]:
    ordered = sorted(rows, key=lambda row: str(row["created_at"]))
    return [
        Example(
            text_of(str(row["subject"]), str(row["body"])),
            tuple(row["tags"]) if target == "tags" else str(row[target]),  # type: ignore[arg-type]
        )
        for row in ordered
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--file", type=Path, default=DEFAULT)
    args = parser.parse_args()
    rows = [json.loads(line) for line in args.file.read_text(encoding="utf-8").splitlines() if line.strip()]
    print(f"{len(rows)} tickets from {args.file.name}")
    print(
        f"{'target':<10} {'train':>5} {'test':>4} {'accuracy':>8} {'baseline':>8} {'F1':>6} {'base F1':>7} {'secs':>5}"
    )
    for target in TARGETS:
        started = time.perf_counter()
        try:
            result = evaluate(examples_of(rows, target), target)
        except TooLittleHistory as refused:
            print(f"{target:<10} refused: {refused}")
            continue
        print(
            f"{target:<10} {result.trained_on:>5} {result.evaluated_on:>4} {result.accuracy:>8.1%} "
            f"{result.baseline:>8.1%} {result.macro_f1:>6.3f} {result.baseline_macro_f1:>7.3f} "
            f"{time.perf_counter() - started:>5.1f}"
        )


if __name__ == "__main__":
    main()
