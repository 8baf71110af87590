"""Real identity providers on loopback for the single sign-on tests.

- OpenID Connect: panva's oidc-provider (npm, pinned in package.json), run by Node
  (tests/sso/oidc_provider.mjs).
- SAML 2.0: pysaml2's IdP (uv dev dependency), signing with Debian's xmlsec1
  (tests/sso/saml_idp.py).
Missing either, the tests are skipped, or fail when SPORTELLO_REQUIRE_SERVICES=1.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.conftest import service_or_skip
from tests.servers import free_port
from tests.waiting import wait_for

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent

OIDC_USERS = {
    "ana@staff.example": {"name": "Ana Bianchi", "groups": ["support", "billing"]},
    "leo@staff.example": {"name": "Leo Neri", "groups": ["sportello-admins"]},
    "zed@elsewhere.example": {"name": "Zed Outsider", "groups": ["marketing"]},
}
CLIENT_ID, CLIENT_SECRET = "sportello-test", "s3cret-for-tests"


@dataclass
class Idp:
    url: str
    process: subprocess.Popen[bytes]


def _started(command: list[str], env: dict[str, str], url: str, what: str) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        command, env={**os.environ, **env}, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )

    def up() -> bool:
        if process.poll() is not None:
            raise AssertionError(f"{what} exited: {process.stdout.read().decode()[-2000:]}")  # type: ignore[union-attr]
        try:
            return httpx.get(url, timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    wait_for(up, what)
    return process


def _stopped(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()


@pytest.fixture(scope="session")
def oidc_idp() -> Iterator[Idp]:
    node = shutil.which("node")
    service_or_skip("Node and oidc-provider (npm ci)", bool(node) and (ROOT / "node_modules/oidc-provider").is_dir())
    port = free_port()
    env = {
        "OIDC_PORT": str(port),
        "OIDC_CLIENT_ID": CLIENT_ID,
        "OIDC_CLIENT_SECRET": CLIENT_SECRET,
        "OIDC_REDIRECT_URIS": "http://testserver/auth/oidc/staff-idp/login/callback/",
        "OIDC_USERS": json.dumps(OIDC_USERS),
    }
    url = f"http://127.0.0.1:{port}"
    process = _started(
        [node, str(HERE / "oidc_provider.mjs")], env, f"{url}/.well-known/openid-configuration", "oidc-provider"
    )  # type: ignore[list-item]
    yield Idp(url, process)
    _stopped(process)


@pytest.fixture(scope="session")
def saml_idp() -> Iterator[Idp]:
    service_or_skip("xmlsec1 (Debian's xmlsec1)", shutil.which("xmlsec1") is not None)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    process = _started([sys.executable, str(HERE / "saml_idp.py"), str(port)], {}, f"{url}/metadata", "pysaml2 IdP")
    yield Idp(url, process)
    _stopped(process)
