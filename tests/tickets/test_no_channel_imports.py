"""ARCHITECTURE.md: every channel is only an adapter. Tickets reach channels through the registry
(tickets/delivery.py), so no module of tickets/ imports a channel app, even inside a function."""

from __future__ import annotations

import ast
from pathlib import Path

import sportello.tickets

CHANNEL_APPS = ("sportello.mail", "sportello.social", "sportello.phone", "sportello.webform")


def imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def test_no_module_of_tickets_imports_a_channel():
    root = Path(sportello.tickets.__file__).parent
    found = {
        f"{path.relative_to(root)} imports {name}"
        for path in root.rglob("*.py")
        if "migrations" not in path.parts
        for name in imported_modules(path)
        if name.startswith(CHANNEL_APPS)
    }
    assert sorted(found) == []
