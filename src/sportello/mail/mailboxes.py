"""Adding and changing mailboxes from the settings area, and testing their IMAP connection."""

from __future__ import annotations

from django.db import transaction

from sportello.mail.imap import ConnectionCheck, check_connection
from sportello.mail.models import Mailbox
from sportello.social.secrets import seal

# A change to any of these points the poller at another folder: the UIDs it remembers mean nothing there.
WHERE_MAIL_IS = ("imap_host", "imap_port", "imap_username", "imap_folder")


def save_mailbox(mailbox: Mailbox, *, password: str = "") -> Mailbox:
    """Save a new or changed mailbox. A `password` replaces the stored one (kept encrypted); an
    empty one keeps it.

    When the mailbox now points at another server, account or folder, the resume point is cleared
    (the next poll starts from the folder's first message; receiving is idempotent, so a message
    already stored is not filed twice) and the last error, which was about the old place, goes.
    """
    with transaction.atomic():
        if mailbox.pk:
            before = Mailbox.objects.select_for_update().get(pk=mailbox.pk)
            # The poller writes these while it runs: the form's copy may be stale.
            kept = ["poll_lease_until", "poll_lease_holder", "last_fetch_at", "messages_waiting"]
            if any(getattr(before, name) != getattr(mailbox, name) for name in WHERE_MAIL_IS):
                mailbox.imap_uidvalidity, mailbox.imap_last_uid = None, 0
                mailbox.last_error, mailbox.last_error_at = "", None
            else:
                kept += ["imap_uidvalidity", "imap_last_uid", "last_error", "last_error_at"]
            for name in kept:
                setattr(mailbox, name, getattr(before, name))
        if password:
            mailbox.imap_password_sealed = seal({"password": password})
        mailbox.save()
    return mailbox


def check_mailbox_connection(mailbox: Mailbox, *, password: str = "") -> ConnectionCheck:
    """Check the (possibly unsaved) mailbox's IMAP settings; `password` overrides the stored one."""
    if password:
        mailbox.imap_password_sealed = seal({"password": password})
    return check_connection(mailbox)
