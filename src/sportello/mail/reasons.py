"""Why a mail is on its ticket, and where a reply's delivery stands, in words for the ticket page and API.

Both read only what the entry keeps in its metadata: the threading decision the pipeline took
(`threaded_by`, `threading_detail`), a manual move or split (`moved`), and the delivery attempts.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _

# Where a reply's delivery stands is the same on every channel (tickets/delivery.py).
from sportello.tickets.delivery import delivery_attempts as delivery_attempts

THREADED_BY = ("references", "reply_address", "subject_number", "bounce", "new")


def threading_reason(metadata: dict[str, Any] | None) -> dict[str, str] | None:
    """`{"threaded_by", "detail", "summary"}` for a mail the pipeline threaded; None for other entries."""
    metadata = metadata or {}
    moved = metadata.get("moved")
    if isinstance(moved, dict) and moved.get("from"):
        template = (
            _("Split out of #%(number)s by %(agent)s")
            if moved.get("split")
            else _("Moved here from #%(number)s by %(agent)s")
        )
        summary = template % {"number": moved["from"], "agent": moved.get("by") or _("an agent")}
        return {"threaded_by": "split" if moved.get("split") else "moved", "detail": str(moved["from"]),
                "summary": summary}  # fmt: skip
    threaded_by = metadata.get("threaded_by")
    if threaded_by not in THREADED_BY:
        return None
    detail = str(metadata.get("threading_detail") or "")
    if threaded_by == "references":
        summary = _("Threaded by Message-ID: it answers %(id)s") % {"id": detail}
    elif threaded_by == "reply_address":
        summary = _("Threaded by the signed reply address %(address)s") % {"address": detail}
    elif threaded_by == "subject_number":
        summary = _("Threaded by the number in the subject: %(detail)s") % {"detail": detail}
    elif threaded_by == "bounce":
        summary = _("A bounce of our message %(id)s") % {"id": detail}
    elif metadata.get("follow_up_of"):
        summary = _("New ticket: it answers #%(number)s, which is closed") % {"number": metadata["follow_up_of"]}
    elif detail:
        summary = _("New ticket: %(detail)s") % {"detail": detail}
    else:
        summary = _("New ticket: no Message-ID, reply address or subject number named one")
    return {"threaded_by": threaded_by, "detail": detail, "summary": summary}
