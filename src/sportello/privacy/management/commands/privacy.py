"""`sportello privacy retention`: apply the retention rules of the privacy settings now.

sportello privacy retention            every batch until nothing is left to remove
sportello privacy retention --dry-run  count what would go, change nothing
"""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand

from sportello.audit import services as audit
from sportello.privacy import retention
from sportello.privacy.models import RetentionPolicy


class Command(BaseCommand):
    help = "Privacy: apply the retention rules (customers to anonymise, closed tickets to delete)."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("action", choices=["retention"])
        parser.add_argument("--dry-run", action="store_true", help="count what would go, change nothing")

    def handle(self, *args: Any, **options: Any) -> None:
        policy = RetentionPolicy.current()
        if not policy.anonymise_inactive_years and not policy.delete_closed_months:
            self.stdout.write("No retention rule is set (Settings → Privacy).")
            return
        if options["dry_run"]:
            counts = retention.dry_run(policy)
            self.stdout.write(
                f"Would anonymise {counts.customers} customers and delete {counts.tickets} closed tickets "
                f"({counts.files} files)."
            )
            return
        with audit.acting_as(audit.command_actor("privacy retention")):  # on each erasure's audit record
            counts = retention.run(policy)
        self.stdout.write(
            f"Anonymised {counts.customers} customers, deleted {counts.tickets} closed tickets "
            f"({counts.files} files) in {counts.batches} batches."
        )
