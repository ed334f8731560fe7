"""The HTTP client of a JSONBin v3 compatible source (JSONBin itself, or another binvault):
standard library only, every call counted, paced and retried.

- a request budget: at most ``requests_per_minute`` calls a minute (evenly spaced);
- retries with exponential backoff and full jitter on 5xx, 429 and network errors
  (``Retry-After`` honoured), ``ATTEMPTS`` tries in all;
- ``403 Requests exhausted...`` raises ``SourceExhausted`` at once (never retried: each try
  would cost nothing but would not succeed before the quota is bought again);
- any other refusal raises ``SourceRefused`` with the source's status and message.
"""

from __future__ import annotations

import json
import random
import time
import urllib.error
import urllib.request
from typing import Any

ATTEMPTS = 6
BACKOFF_SECONDS = 0.5  # the first retry's ceiling; doubles each time, capped at MAX_BACKOFF
MAX_BACKOFF_SECONDS = 30.0
TIMEOUT_SECONDS = 60.0
EXHAUSTED_PREFIX = "Requests exhausted"


class SourceExhausted(Exception):
    """The source account's request quota is used up."""


class SourceRefused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{status} {message}")
        self.status = status
        self.message = message


class Source:
    def __init__(self, url: str, master_key: str, requests_per_minute: int | None = None) -> None:
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"the source URL must be http:// or https://, not {url!r}")
        self.url = url.rstrip("/")
        self._key = master_key
        self._interval = 60.0 / requests_per_minute if requests_per_minute else 0.0
        self._next_at = 0.0
        self.requests = 0

    def _pace(self) -> None:
        if self._interval:
            now = time.monotonic()
            if now < self._next_at:
                time.sleep(self._next_at - now)
            self._next_at = max(now, self._next_at) + self._interval

    def get(self, path: str, headers: dict[str, str] | None = None) -> Any:
        """GET ``path`` (below the v3 root) and return its JSON."""
        request = urllib.request.Request(  # noqa: S310 (the scheme is checked in __init__)
            self.url + path, headers={"X-Master-Key": self._key, "User-Agent": "binvault-import", **(headers or {})}
        )
        for attempt in range(ATTEMPTS):
            self._pace()
            self.requests += 1
            retry_after: float | None = None
            try:
                with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as answer:  # noqa: S310 (the scheme is checked in __init__)
                    return json.loads(answer.read())
            except urllib.error.HTTPError as error:
                status, message = error.code, _message(error)
                if status == 403 and message.startswith(EXHAUSTED_PREFIX):
                    raise SourceExhausted(message) from None
                if status != 429 and status < 500:
                    raise SourceRefused(status, message) from None
                retry_after = _seconds(error.headers.get("Retry-After"))
                failure: Exception = SourceRefused(status, message)
            except (urllib.error.URLError, ConnectionError, TimeoutError, OSError, ValueError) as error:
                failure = error
            if attempt + 1 == ATTEMPTS:
                raise failure
            ceiling = min(MAX_BACKOFF_SECONDS, BACKOFF_SECONDS * 2**attempt)
            time.sleep(retry_after if retry_after is not None else random.uniform(0, ceiling))
        raise AssertionError("unreachable")


def _message(error: urllib.error.HTTPError) -> str:
    try:
        body = json.loads(error.read() or b"{}")
    except ValueError:
        return error.reason or ""
    return str(body.get("message", "")) if isinstance(body, dict) else ""


def _seconds(value: str | None) -> float | None:
    try:
        return min(MAX_BACKOFF_SECONDS, float(value)) if value is not None else None
    except ValueError:
        return None
