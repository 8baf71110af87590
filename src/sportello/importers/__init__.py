"""Importers: bring a team's history from another help desk (docs/importing.md)."""
