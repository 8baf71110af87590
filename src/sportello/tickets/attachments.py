"""Files on thread entries: size limits, safe names, storage through Django's storage API."""

from __future__ import annotations

import mimetypes
import os
import re
import unicodedata
from dataclasses import dataclass
from typing import IO

from django.conf import settings
from django.core.exceptions import SuspiciousFileOperation
from django.core.files.base import ContentFile, File
from django.http import FileResponse
from django.utils.text import get_valid_filename

from sportello.core import rows
from sportello.core.errors import TooLarge
from sportello.core.text import clean
from sportello.tickets.models import Attachment, Entry

# Content types a browser would run or render as a page of ours: served as plain bytes instead.
ACTIVE_CONTENT = ("html", "xml", "svg", "javascript", "ecmascript", "xhtml")


def download(item: Attachment) -> FileResponse:
    """A thread file as a download, never a page of ours: active content as plain bytes, sandboxed, not sniffed.

    Every door to a file (agents' pages, the API, the portal, the chat widget) checks access first,
    then answers with this.
    """
    content_type = item.content_type.lower()
    if any(word in content_type for word in ACTIVE_CONTENT):
        content_type = "application/octet-stream"
    response = FileResponse(item.file.open("rb"), as_attachment=True, filename=item.filename, content_type=content_type)
    response["Content-Security-Policy"] = "sandbox; default-src 'none'"
    response["X-Content-Type-Options"] = "nosniff"
    return response


@dataclass
class AttachmentIn:
    """A file arriving with a message: bytes (mail, API) or an uploaded file (forms)."""

    filename: str
    content: bytes | IO[bytes]
    content_type: str = ""
    inline: bool = False
    content_id: str = ""

    @property
    def size(self) -> int:
        if isinstance(self.content, bytes):
            return len(self.content)
        size = getattr(self.content, "size", None)
        if size is None:
            position = self.content.tell()
            self.content.seek(0, 2)
            size = self.content.tell()
            self.content.seek(position)
        return int(size)


def safe_filename(name: str) -> str:
    """A file name that is safe on every filesystem and in a Content-Disposition header."""
    name = unicodedata.normalize("NFC", clean(name or "")).replace("\\", "/").rsplit("/", 1)[-1]
    name = re.sub(r"[\x00-\x1f\x7f<>:\"|?*]", "_", name).strip(" .")
    stem, extension = os.path.splitext(name or "attachment")
    if len(stem) + len(extension) > 200:  # cut the name, not its extension
        extension = extension if len(extension) <= 16 else ""
        return (stem[: 200 - len(extension)] + extension).strip(" .")
    return stem + extension


# Bytes, not characters: filesystems allow 255 per name, and storage may add a suffix to it.
MAX_STORED_NAME_BYTES = 120


def storage_name(filename: str) -> str:
    """The name of the file on disk, apart from the name people see.

    Django's storage keeps only letters, digits, `-`, `_` and `.`, and refuses a name with
    none of them left ("=", "★★"): such a file is stored as "attachment" with its extension.
    A long name (200 Japanese characters are 600 bytes) is cut, its extension kept.
    """
    try:
        name = get_valid_filename(filename)
    except SuspiciousFileOperation:
        name = ""
    if not name or name.startswith("."):  # nothing left but perhaps the extension: "★.pdf"
        name = "attachment" + name
    stem, extension = os.path.splitext(name)
    extension = extension[:16]
    room = MAX_STORED_NAME_BYTES - len(extension.encode())
    stem = stem.encode()[:room].decode("utf-8", "ignore") or "attachment"
    return stem + extension


def check_sizes(attachments: list[AttachmentIn]) -> None:
    limit = settings.MAX_ATTACHMENT_BYTES
    for item in attachments:
        if item.size > limit:
            raise TooLarge(
                f"{safe_filename(item.filename)} is {item.size // (1024 * 1024)} MB; "
                f"the limit is {limit // (1024 * 1024)} MB per file",
                filename=safe_filename(item.filename),
                limit_bytes=limit,
            )


def store_attachments(entry: Entry, attachments: list[AttachmentIn]) -> list[Attachment]:
    stored = []
    for item in attachments:
        filename = safe_filename(item.filename)
        content_type = item.content_type or mimetypes.guess_type(filename)[0] or "application/octet-stream"
        django_file: File = (
            ContentFile(item.content, name=filename)
            if isinstance(item.content, bytes)
            else File(item.content, name=filename)
        )
        attachment = Attachment(
            entry=entry,
            filename=filename,
            content_type=content_type[:150],
            size=item.size,
            inline=item.inline,
            content_id=item.content_id[:255],
        )
        attachment.file.save(storage_name(filename), django_file, save=False)
        stored.append(attachment)
    # The rows of a message's files in one statement (nothing listens to an attachment's save).
    rows.insert_many(stored)
    return stored
