"""What went wrong when connecting to another server, in words an admin can act on.

Mailboxes (IMAP) and messaging channels (HTTPS) report their health and their "test connection"
through `explain`, so that a settings page never shows `gaierror: [Errno -2] Name or service not
known` but "The server name mail.example.com could not be found." This is the one place that
turns a network exception into a sentence; callers add what is specific to them (a wrong password,
a missing folder) before falling back to it.
"""

from __future__ import annotations

import errno
import socket
import ssl
from urllib.error import URLError

from django.utils.translation import gettext as _


def explain(exc: BaseException, host: str = "", port: int | None = None) -> str:
    """One sentence for a failed connection to `host`:`port` (both optional, for the wording)."""
    if isinstance(exc, URLError) and isinstance(exc.reason, BaseException):
        return explain(exc.reason, host, port)
    where = host or _("the server")
    if isinstance(exc, socket.gaierror):
        return _("The server name %(host)s could not be found. Check the spelling.") % {"host": where}
    if isinstance(exc, ConnectionRefusedError):
        if port is None:
            return _("%(host)s refused the connection.") % {"host": where}
        return _("Connection refused on port %(port)s: nothing answers there, or a firewall blocks it.") % {
            "port": port
        }
    if isinstance(exc, ssl.SSLCertVerificationError):
        reason = exc.verify_message or exc.reason or ""
        return _("TLS certificate not valid: %(reason)s.") % {"reason": reason or _("it could not be verified")}
    if isinstance(exc, ssl.SSLError):
        return _(
            "The secure (TLS) connection failed: the server may not speak TLS on this port. "
            "Try turning TLS off, or use the server's TLS port (993 for IMAP)."
        )
    if isinstance(exc, TimeoutError | socket.timeout):
        return _("%(host)s did not answer in time.") % {"host": where}
    if isinstance(exc, ConnectionResetError | ConnectionAbortedError | BrokenPipeError):
        return _("%(host)s closed the connection (%(detail)s).") % {"host": where, "detail": _detail(exc)}
    if isinstance(exc, OSError) and exc.errno in (errno.ENETUNREACH, errno.EHOSTUNREACH):
        return _("%(host)s cannot be reached from here (no route to it).") % {"host": where}
    return _("The connection failed: %(detail)s") % {"detail": _detail(exc)}


def _detail(exc: BaseException) -> str:
    """The exception's own words without `[Errno 104]`: the operating system's message when there is one."""
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc).strip() or exc.__class__.__name__
