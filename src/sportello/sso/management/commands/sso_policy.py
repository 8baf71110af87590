"""Break-glass: turn single sign-on's requirement (and two-factor's) off from the server's shell."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from sportello.audit import services as audit
from sportello.sso.models import SignInPolicy


class Command(BaseCommand):
    help = "Show the sign-in policy; --allow-passwords lets agents sign in with passwords again."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--allow-passwords", action="store_true", help="turn off 'agents must use SSO'")
        parser.add_argument("--no-two-factor", action="store_true", help="turn off 'require two-factor for agents'")

    def handle(self, *args: Any, **options: Any) -> None:
        policy = SignInPolicy.current()
        if options["allow_passwords"]:
            policy.agents_sso_only = False
        if options["no_two_factor"]:
            policy.require_two_factor = False
        if options["allow_passwords"] or options["no_two_factor"]:
            with audit.acting_as(audit.command_actor("sso_policy")):  # the change is in the audit trail
                policy.save()
        self.stdout.write(
            f"agents must use single sign-on: {'yes' if policy.agents_sso_only else 'no'}\n"
            f"two-factor required for agents: {'yes' if policy.require_two_factor else 'no'}"
        )
