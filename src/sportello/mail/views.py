"""Admin-only views of the email channel: downloading a stored raw message."""

from __future__ import annotations

from django.contrib.auth.decorators import user_passes_test
from django.http import FileResponse, HttpRequest
from django.shortcuts import get_object_or_404

from sportello.mail.models import RawMessage


def _is_admin(user: object) -> bool:
    return bool(getattr(user, "is_authenticated", False) and getattr(user, "is_admin", False))


@user_passes_test(_is_admin)
def download_raw(request: HttpRequest, pk: int) -> FileResponse:
    """The message exactly as it arrived, as an .eml file (it may hold anything: never inline)."""
    row = get_object_or_404(RawMessage, pk=pk)
    return FileResponse(
        row.file.open("rb"), as_attachment=True, filename=f"message-{row.pk}.eml", content_type="message/rfc822"
    )
