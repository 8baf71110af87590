"""Calls to an OpenAI-compatible model server (Ollama, vLLM, llama.cpp's server, a hosted API).

Two operations of the protocol are used: `GET {base}/models` (the connection test) and
`POST {base}/chat/completions` without streaming. `base` is what the admin typed, with `/v1`
added when it is missing, since Ollama, vLLM and llama.cpp all serve the protocol under `/v1`.

The server is reached under the webhooks' SSRF rules (automation/webhooks.py): the host is
resolved once, every address must pass, the connection goes to the address checked, redirects
are not followed, and a refused address fails before any connection with one message whatever
listens there. One difference, because a model server usually runs beside the help desk: when
the admin ticks "on this machine or the local network", loopback and private addresses
(127.0.0.0/8, ::1, 10/8, 172.16/12, 192.168/16, fc00::/7, 100.64/10) pass too. Link-local
addresses (169.254/16 and fe80::/10, where clouds answer with their instance credentials),
multicast, unspecified and reserved addresses never do.

Every failure becomes one `AssistError` whose message is a sentence for the agent or admin;
core/connection_errors.py words the network's failures.
"""

from __future__ import annotations

import http.client
import ipaddress
import json
import socket
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from django.utils.translation import gettext as _

from sportello.automation import webhooks
from sportello.core.connection_errors import explain

MAX_ANSWER_BYTES = 2_000_000
# The cloud providers' instance-metadata address on IPv6 (AWS), inside fc00::/7.
_METADATA = (ipaddress.ip_address("fd00:ec2::254"),)


class AssistError(Exception):
    """The model server could not be used; `message` says why in one sentence."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Server:
    base_url: str
    api_key: str = ""
    timeout: float = 60
    allow_local: bool = False


@dataclass(frozen=True)
class Completion:
    text: str
    prompt_tokens: int | None
    answer_tokens: int | None


def refused_message(allow_local: bool) -> str:
    if allow_local:
        return _(
            "Not called: the model server's address is not one Sportello may reach (link-local, multicast or reserved)."
        )
    return _(
        "Not called: the model server's address is on this machine or a private network. "
        "Tick “On this machine or the local network” to allow it."
    )


def address_allowed(address: str, allow_local: bool) -> bool:
    if webhooks.public_address(address):
        return True
    if not allow_local:
        return False
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.is_link_local or ip.is_multicast or ip.is_unspecified or ip in _METADATA:
        return False
    if ip.is_loopback:  # before is_reserved, which ::1 is too (::/8)
        return True
    return not ip.is_reserved and (ip.is_private or ip in ipaddress.ip_network("100.64.0.0/10"))


def api_url(base_url: str, operation: str) -> str:
    base = base_url.strip().rstrip("/")
    if not base.endswith("/v1"):
        base += "/v1"
    return f"{base}/{operation}"


def list_models(server: Server) -> list[str]:
    """The model names the server offers (`GET /v1/models`)."""
    body = _call(server, "GET", api_url(server.base_url, "models"))
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, list):
        raise AssistError(_("The server answered, but not as an OpenAI-compatible server does (no model list)."))
    return [str(item.get("id")) for item in data if isinstance(item, dict) and item.get("id")]


def chat(server: Server, model: str, messages: list[dict[str, str]], *, max_tokens: int | None = None) -> Completion:
    """The model's answer to `messages` (`POST /v1/chat/completions`, no streaming)."""
    payload: dict[str, Any] = {"model": model, "messages": messages, "stream": False, "temperature": 0.3}
    if max_tokens:
        payload["max_tokens"] = max_tokens
    body = _call(server, "POST", api_url(server.base_url, "chat/completions"), payload)
    try:
        text = body["choices"][0]["message"]["content"]
    except (KeyError, IndexError, TypeError):
        raise AssistError(_("The server answered, but not with a chat completion.")) from None
    if not isinstance(text, str) or not text.strip():
        raise AssistError(_("The model answered with no text."))
    usage = body.get("usage") if isinstance(body.get("usage"), dict) else {}
    return Completion(text.strip(), _count(usage.get("prompt_tokens")), _count(usage.get("completion_tokens")))


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and value >= 0 else None


def _call(server: Server, method: str, url: str, payload: dict[str, Any] | None = None) -> Any:
    """The parsed JSON answer of one request; AssistError for anything else."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.scheme not in ("http", "https") or not host:
        raise AssistError(_("The server address must be an http:// or https:// URL with a host name."))
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise AssistError(_("The server address has a port that is not a number from 1 to 65535.")) from None
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    headers = {"Accept": "application/json", "User-Agent": "Sportello-Assist/1"}
    if server.api_key:
        headers["Authorization"] = f"Bearer {server.api_key}"
    body = None
    if payload is not None:
        body = json.dumps(payload).encode()
        headers["Content-Type"] = "application/json"
    try:
        status, raw = _send(parts.scheme, host, port, server, method, path, body, headers)
    except AssistError:
        raise
    except (OSError, http.client.HTTPException) as exc:
        raise AssistError(_timeout_or(exc, host, port, server.timeout)) from None
    return _parse(status, raw)


def _timeout_or(exc: BaseException, host: str, port: int, timeout: float) -> str:
    if isinstance(exc, TimeoutError | socket.timeout):
        return _("The model server %(host)s did not answer within %(seconds)s seconds.") % {
            "host": host,
            "seconds": f"{timeout:g}",
        }
    if isinstance(exc, http.client.HTTPException):
        return _("The model server %(host)s sent an answer that is not HTTP.") % {"host": host}
    return explain(exc, host, port)


def _send(
    scheme: str,
    host: str,
    port: int,
    server: Server,
    method: str,
    path: str,
    body: bytes | None,
    headers: dict[str, str],
) -> tuple[int, bytes]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    if not all(address_allowed(a, server.allow_local) for a in addresses):
        raise AssistError(refused_message(server.allow_local))
    last_error: OSError | None = None
    for address in addresses:
        pinned = webhooks._PinnedHTTPSConnection if scheme == "https" else webhooks._PinnedHTTPConnection
        connection = pinned(host, port, address, server.timeout)
        try:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            return response.status, response.read(MAX_ANSWER_BYTES)
        except ConnectionRefusedError as exc:  # the name's next address may answer
            last_error = exc
        finally:
            connection.close()
    raise last_error or OSError("no address")


def _parse(status: int, raw: bytes) -> Any:
    """The JSON of a 2xx answer; the server's own error in one sentence otherwise.

    OpenAI documents errors as `{"error": {"message", "type", "param", "code"}}`; Ollama and
    llama.cpp answer in that shape on /v1 too (llama.cpp adds `code` as the HTTP status).
    """
    try:
        parsed = json.loads(raw) if raw else None
    except ValueError:
        parsed = None
    if 300 <= status < 400:
        raise AssistError(_("The server redirected the request; give its final address (redirects are not followed)."))
    if status >= 400:
        excerpt = raw[:200].decode("utf-8", "replace").strip()
        if excerpt.startswith("<"):  # a proxy's HTML page: its markup says nothing to an agent
            excerpt = ""
        said = {"status": status, "message": _error_message(parsed) or excerpt}
        if status == 401:
            sentence = _("The model server refused the API key (401): %(message)s") % said
        elif status == 404:
            sentence = _("The model server has no such model or address (404): %(message)s") % said
        elif status == 429:
            sentence = _("The model server is busy or over its quota (429): %(message)s") % said
        else:
            sentence = _("The model server answered %(status)s: %(message)s") % said
        raise AssistError(sentence.rstrip(": ").strip()[:480])
    if parsed is None:
        raise AssistError(_("The server answered, but not with JSON: is this the model server's address?"))
    return parsed


def _error_message(parsed: Any) -> str:
    if not isinstance(parsed, dict):
        return ""
    error = parsed.get("error")
    if isinstance(error, dict):
        return str(error.get("message") or error.get("type") or "")[:300]
    if isinstance(error, str):  # Ollama's native shape
        return error[:300]
    return str(parsed.get("detail") or parsed.get("message") or "")[:300]
