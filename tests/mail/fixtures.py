"""Paths to the real-world test mail kept in the repository (tests/fixtures/mail, each source with its licence)."""

from __future__ import annotations

import re
from pathlib import Path

TESTDATA = Path(__file__).resolve().parents[1] / "fixtures" / "mail"
assert TESTDATA.is_dir(), f"test mail missing: {TESTDATA}"


def all_messages() -> list[Path]:
    """Every message file of every source: *.eml, and the extension-less mails of two sources."""
    found = [p for p in TESTDATA.rglob("*") if p.is_file() and (p.suffix == ".eml" or p.parent.name == "mails")]
    return sorted(found)


def ids(paths: list[Path]) -> list[str]:
    return [str(p.relative_to(TESTDATA)) for p in paths]


def reply_fixtures(source: str) -> list[Path]:
    return sorted(p for p in (TESTDATA / source).rglob("*.txt") if p.name != "SOURCE.txt")


_QUOTE_HEADER = re.compile(r"^(?:On .*wrote:|-+ ?Original Message ?-+|From: .*)$", re.IGNORECASE | re.MULTILINE)


def generic_reply_problem(full: str, visible: str) -> str:
    """Why a visible text is not plausibly the reply part of `full`; empty when it is.

    The rule for fixtures whose exact expectation lives only in another project's test code:
    the visible text is non-empty, every line of it is in the original, it starts and ends
    with no quoted line (">"), and it holds no quote header.
    """
    if not visible.strip():
        return "empty"
    original = {line.strip() for line in full.replace("\r\n", "\n").splitlines()}
    lines = [line.strip() for line in visible.splitlines() if line.strip()]
    if any(line not in original for line in lines):
        return "a line not in the original"
    if lines[0].startswith(">") or lines[-1].startswith(">"):
        return "starts or ends with a quote"
    if _QUOTE_HEADER.search(visible):
        return "holds a quote header"
    return ""
