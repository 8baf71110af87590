"""Agents' notifications: mentions, assignments, customer replies and SLA warnings (in-app and by mail)."""
