"""`sportello token create USERNAME [--name NAME] [--scope read|write|admin …] [--days N]`,
`token list USERNAME`, `token revoke ID`."""

from __future__ import annotations

from argparse import ArgumentParser
from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from sportello.accounts.models import User
from sportello.accounts.services import create_token, revoke_token
from sportello.audit import services as audit
from sportello.core.errors import ServiceError


class Command(BaseCommand):
    help = "Create, list and revoke API tokens of agents."

    def add_arguments(self, parser: ArgumentParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create", help="create a token; the key is printed once")
        create.add_argument("username")
        create.add_argument("--name", default="command line")
        create.add_argument(
            "--scope",
            action="append",
            choices=["read", "write", "admin"],
            help="repeat for several; default read and write, and admin for an admin",
        )
        create.add_argument("--days", type=int, help="expires after this many days; default never")
        listing = sub.add_parser("list", help="list a user's tokens")
        listing.add_argument("username")
        revoke = sub.add_parser("revoke", help="revoke a token by id")
        revoke.add_argument("token_id", type=int)

    def handle(self, *args: Any, **options: Any) -> None:
        # Creating and revoking are in the audit trail, done by the shell's user.
        with audit.acting_as(audit.command_actor(f"token {options['action']}")):
            self._handle(**options)

    def _handle(self, **options: Any) -> None:
        action = options["action"]
        if action == "revoke":
            if not revoke_token(options["token_id"]):
                raise CommandError(f"No active token {options['token_id']}")
            self.stdout.write(f"Revoked token {options['token_id']}")
            return
        user = User.objects.filter(username=options["username"]).first()
        if user is None:
            raise CommandError(f"No user {options['username']!r}")
        if action == "list":
            for token in user.api_tokens.order_by("id"):
                state = "revoked" if token.revoked_at else "expired" if token.is_expired() else "active"
                used = token.last_used_at.isoformat() if token.last_used_at else "never used"
                expires = token.expires_at.isoformat() if token.expires_at else "no expiry"
                line = f"{token.pk}\t{token.name}\t{token.hint}…\t{token.scopes}\t{state}\t{expires}\t{used}"
                self.stdout.write(line)
            return
        if not user.is_staff_member:
            raise CommandError(f"{user.username} is not an agent; API tokens are for agents and admins")
        if options["days"] is not None and options["days"] < 1:
            raise CommandError("--days must be at least 1")
        expires_at = timezone.now() + timedelta(days=options["days"]) if options["days"] else None
        try:
            _token, key = create_token(user, options["name"], scopes=options["scope"], expires_at=expires_at)
        except ServiceError as err:
            raise CommandError(err.message) from err
        self.stdout.write(key)
