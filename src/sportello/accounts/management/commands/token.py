"""`sportello token create USERNAME [--name NAME]`, `token list USERNAME`, `token revoke ID`."""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from sportello.accounts.models import User
from sportello.accounts.services import create_token, revoke_token


class Command(BaseCommand):
    help = "Create, list and revoke API tokens of agents."

    def add_arguments(self, parser: ArgumentParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create", help="create a token; the key is printed once")
        create.add_argument("username")
        create.add_argument("--name", default="command line")
        listing = sub.add_parser("list", help="list a user's tokens")
        listing.add_argument("username")
        revoke = sub.add_parser("revoke", help="revoke a token by id")
        revoke.add_argument("token_id", type=int)

    def handle(self, *args: Any, **options: Any) -> None:
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
                state = "revoked" if token.revoked_at else "active"
                self.stdout.write(f"{token.pk}\t{token.name}\t{token.hint}…\t{state}")
            return
        if not user.is_staff_member:
            raise CommandError(f"{user.username} is not an agent; API tokens are for agents and admins")
        _token, key = create_token(user, options["name"])
        self.stdout.write(key)
