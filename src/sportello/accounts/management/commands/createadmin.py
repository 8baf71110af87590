"""`sportello createadmin USERNAME EMAIL` — an administrator; the password comes from the prompt
or from SPORTELLO_ADMIN_PASSWORD (for automated installs)."""

from __future__ import annotations

import getpass
import os
from argparse import ArgumentParser
from typing import Any

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from sportello.accounts.models import Role, User
from sportello.audit import services as audit
from sportello.audit.models import Action


class Command(BaseCommand):
    help = "Create an administrator account."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("username")
        parser.add_argument("email")

    def handle(self, *args: Any, **options: Any) -> None:
        if User.objects.filter(username=options["username"]).exists():
            raise CommandError(f"User {options['username']!r} exists already")
        password = os.environ.get("SPORTELLO_ADMIN_PASSWORD") or getpass.getpass("Password: ")
        user = User(
            username=options["username"], email=options["email"], role=Role.ADMIN, is_staff=True, is_superuser=True
        )
        try:
            validate_password(password, user)
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from exc
        user.set_password(password)
        with transaction.atomic():
            user._audit_creation_recorded = True  # type: ignore[attr-defined]  # below, naming the command
            user.save()
            audit.record(
                Action.PERMISSION_CHANGED,
                target=user,
                target_label=user.get_username(),
                actor_label=audit.command_actor("createadmin"),
                after={"created": user.get_username(), "role": Role.ADMIN.value, "is_superuser": True},
            )
        self.stdout.write(f"Admin {user.username} created")
