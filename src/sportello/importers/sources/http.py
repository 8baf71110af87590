"""The HTTP side every REST importer shares (Zendesk, Freshdesk, Zammad, Help Scout): one client that asks,
waits out rate limits and retries server errors, and turns any other error into a SourceError
with the vendor's own message.

- a 429 is waited out for as long as its `Retry-After` says (seconds), up to MAX_WAITS in a row;
- a 5xx (or a connection that fails) is retried MAX_FAILURES times, waiting 2, 4, 8, … seconds
  (or the `Retry-After`, when the answer has one);
- the credentials go only to the source's own host (never to an attachment's CDN);
- a source whose credentials expire (Help Scout's OAuth tokens) renews them on a 401, once
  (`authorization`, `renew_authorization`), and may read its wait from another header (`retry_after`);
- any other answer stops the import with `error_message(body)`: run it again and it resumes.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from email.message import Message
from typing import Any

from sportello.importers.sources.tabular import SourceError

TIMEOUT = 60
MAX_WAITS = 20  # 429s in a row before giving up
MAX_FAILURES = 5  # 5xx answers in a row before giving up


class ApiClient:
    vendor = "The server"  # as it appears in errors: "Zendesk answered 401 to …"
    example = "https://example.com"  # the address the --url takes, for the error on a bad one

    def __init__(
        self,
        url: str,
        *,
        authorization: str,
        sleep: Callable[[float], None] = time.sleep,
        timeout: float = TIMEOUT,
    ) -> None:
        parsed = urllib.parse.urlsplit(url if "://" in url else f"https://{url}")
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise SourceError(f"Not a {self.vendor} address: {url!r} (expected {self.example})")
        self.base = f"{parsed.scheme}://{parsed.netloc}"
        self.host = parsed.netloc
        self.auth = authorization
        self.sleep = sleep
        self.timeout = timeout
        self.requests = 0
        self.waited = 0.0

    def open(
        self, url: str, *, accept: str = "application/json", data: bytes | None = None, authorize: bool = True
    ) -> tuple[bytes, Message]:
        """The body and headers of a 2xx answer to GET `url` (POST of a form, with `data`), after
        any waits and retries."""
        waits = failures = 0
        renewed = False
        while True:
            request = urllib.request.Request(
                url, data=data, headers={"Accept": accept, "User-Agent": "Sportello importer"}
            )
            if data is not None:
                request.add_header("Content-Type", "application/x-www-form-urlencoded")
            same_host = urllib.parse.urlsplit(url).netloc == self.host
            if authorize and same_host:  # never the credentials to another host
                request.add_header("Authorization", self.authorization())
            self.requests += 1
            try:
                with urllib.request.urlopen(request, timeout=self.timeout) as response:
                    return response.read(), response.headers
            except urllib.error.HTTPError as exc:
                body = exc.read()
                if exc.code == 429 and waits < MAX_WAITS:
                    waits += 1
                    self._wait(self.retry_after(exc.headers), default=60)
                    continue
                if exc.code == 401 and authorize and same_host and not renewed and self.renew_authorization():
                    renewed = True  # expired: asked for new credentials, once
                    continue
                if exc.code >= 500 and failures < MAX_FAILURES:
                    failures += 1
                    self._wait(exc.headers.get("Retry-After"), default=2**failures)
                    continue
                raise SourceError(
                    f"{self.vendor} answered {exc.code} to {path_of(url)}: {self.error_message(body)}"
                ) from exc
            except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
                failures += 1
                if failures > MAX_FAILURES:
                    raise SourceError(f"Cannot reach {self.base}: {getattr(exc, 'reason', exc)}") from exc
                self._wait(None, default=2**failures)

    def authorization(self) -> str:
        """The `Authorization` header for the source's own host."""
        return self.auth

    def renew_authorization(self) -> bool:
        """Forget expired credentials after a 401, so that the next ask takes new ones; False: none to renew."""
        return False

    def retry_after(self, headers: Message) -> str | None:
        """How long a 429 says to wait, in seconds."""
        return headers.get("Retry-After")

    def _wait(self, retry_after: str | None, *, default: float) -> None:
        try:
            seconds = max(0.0, float(retry_after)) if retry_after else default
        except ValueError:
            seconds = default
        self.waited += seconds
        self.sleep(seconds)

    def url(self, path_or_url: str, params: dict[str, Any] | None = None) -> str:
        url = path_or_url if "://" in path_or_url else f"{self.base}{path_or_url}"
        if params:
            url += ("&" if "?" in url else "?") + urllib.parse.urlencode(params)
        return url

    def get_json(self, path_or_url: str, params: dict[str, Any] | None = None) -> tuple[Any, Message]:
        """The decoded JSON (an object or a list) and the headers (Link, Date, …)."""
        url = self.url(path_or_url, params)
        body, headers = self.open(url)
        try:
            return json.loads(body), headers
        except ValueError as exc:
            raise SourceError(f"{self.vendor}'s answer to {path_of(url)} is not JSON") from exc

    def get(self, path_or_url: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        data, _headers = self.get_json(path_or_url, params)
        if not isinstance(data, dict):
            raise SourceError(f"{self.vendor}'s answer to {path_of(self.url(path_or_url, params))} is not an object")
        return data

    def get_list(self, path_or_url: str, params: dict[str, Any] | None = None) -> tuple[list[Any], Message]:
        data, headers = self.get_json(path_or_url, params)
        if not isinstance(data, list):
            raise SourceError(f"{self.vendor}'s answer to {path_of(self.url(path_or_url, params))} is not a list")
        return data, headers

    def download(self, url: str) -> bytes:
        return self.open(url if "://" in url else f"{self.base}{url}", accept="*/*")[0]

    def error_message(self, body: bytes) -> str:
        """The vendor's error body, readable; subclasses know their vendor's shapes."""
        try:
            data = json.loads(body)
        except ValueError:
            return body[:200].decode("utf-8", "replace") or "no details"
        return json.dumps(data)[:300]


def path_of(url: str) -> str:
    return urllib.parse.urlsplit(url).path


def link_next(headers: Message) -> str | None:
    """The `rel="next"` address of an RFC 8288 Link header, if any."""
    for part in (headers.get("Link") or "").split(","):
        target, _sep, rest = part.partition(";")
        params = [p.strip().replace(" ", "") for p in rest.split(";")]
        if 'rel="next"' in params or "rel=next" in params:
            return target.strip().strip("<>") or None
    return None
