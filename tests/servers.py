"""Real servers for tests: a throwaway Dovecot IMAP server and an aiosmtpd SMTP sink, on loopback.

Use the pytest fixtures `dovecot` and `smtp_sink` (registered in tests/conftest.py). Dovecot comes
from Debian's package (`make test` installs it); without it the tests are skipped, or fail when
SPORTELLO_REQUIRE_SERVICES=1.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from pathlib import Path

import pytest

from tests.waiting import wait_for

DOVECOT_CONF = """
protocols = imap
listen = 127.0.0.1
base_dir = {d}/run
state_dir = {d}/state
log_path = {d}/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = maildir:{d}/mail/%u
first_valid_uid = 1
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {d}/users
}}
userdb {{
  driver = static
  args = uid=nobody gid=nogroup home={d}/mail/%u
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Imap:
    host: str
    port: int
    username: str
    password: str
    directory: Path

    def append(self, raw: bytes, folder: str = "INBOX") -> None:
        import imaplib

        with imaplib.IMAP4(self.host, self.port) as client:
            client.login(self.username, self.password)
            client.append(folder, None, None, raw)

    def flags(self) -> list[tuple[int, tuple[bytes, ...]]]:
        from imapclient import IMAPClient

        with IMAPClient(self.host, port=self.port, ssl=False) as client:
            client.login(self.username, self.password)
            client.select_folder("INBOX")
            data = client.fetch(client.search("ALL"), ["FLAGS"])
            return sorted((uid, tuple(v[b"FLAGS"])) for uid, v in data.items())


def _dovecot_binary() -> str | None:
    return shutil.which("dovecot") or ("/usr/sbin/dovecot" if Path("/usr/sbin/dovecot").exists() else None)


@pytest.fixture
def dovecot() -> Iterator[Imap]:
    from tests.conftest import service_or_skip

    binary = _dovecot_binary()
    service_or_skip("Dovecot (dovecot-imapd)", binary is not None)
    # Dovecot's auth and mail processes run as other users: pytest's 0700 temp dirs would lock them out.
    d = Path(tempfile.mkdtemp(prefix="sportello-dovecot-"))
    d.chmod(0o755)
    for sub in ("run", "state", "mail"):
        (d / sub).mkdir()
    shutil.chown(d / "mail", "nobody", "nogroup")
    port = free_port()
    (d / "users").write_text("support@example.test:{PLAIN}secret\n")
    conf = d / "dovecot.conf"
    conf.write_text(DOVECOT_CONF.format(d=d, port=port))
    # Redirect every stream: the daemon otherwise keeps our pipes open and the call hangs.
    subprocess.run(
        [binary, "-c", str(conf)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        check=True,
        timeout=120,
    )

    def listening() -> bool:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=30).close()
            return True
        except OSError:
            return False

    wait_for(listening, "Dovecot listening", detail=lambda: (d / "dovecot.log").read_text()[-2000:])
    try:
        yield Imap("127.0.0.1", port, "support@example.test", "secret", d)
    finally:
        subprocess.run(
            ["doveadm", "-c", str(conf), "stop"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=120,
        )
        shutil.rmtree(d, ignore_errors=True)


@dataclass
class Sink:
    host: str
    port: int
    messages: list[tuple[str, list[str], bytes]] = field(default_factory=list)

    def parsed(self) -> list[Message]:
        return [message_from_bytes(raw) for _, _, raw in self.messages]


@pytest.fixture
def smtp_sink() -> Iterator[Sink]:
    """An SMTP server that keeps every message it is handed (envelope and bytes)."""
    from aiosmtpd.controller import Controller

    sink = Sink("127.0.0.1", free_port())

    class Handler:
        async def handle_DATA(self, server, session, envelope):
            sink.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content))
            return "250 OK"

    controller = Controller(Handler(), hostname=sink.host, port=sink.port, ready_timeout=120)
    controller.start()
    try:
        yield sink
    finally:
        controller.stop()
