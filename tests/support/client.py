"""One HTTP client for binvault's API: the integration and end-to-end tests, the soak and
the benchmarks all send their requests through it.

The standard library only (``http.client``), a fresh connection per request (the local
stack's API front answers ``Connection: close``, as werkzeug's server does), every wait
bounded by a timeout, and each reply timed (the benchmarks read ``seconds``).
"""

from __future__ import annotations

import http.client
import json
import time
from dataclasses import dataclass
from functools import cached_property
from typing import Any
from urllib.parse import urlsplit

TIMEOUT_SECONDS = 30.0
Headers = dict[str, str] | list[tuple[str, str]]


@dataclass
class Reply:
    status: int
    headers: dict[str, str]  # lower-case names; a repeated header's values joined by ", "
    raw: bytes
    seconds: float = 0.0  # from sending the request to the last byte of the answer

    @cached_property
    def body(self) -> Any:
        """The JSON body; None when empty; the text when it is not JSON (a finding, not a crash)."""
        if not self.raw:
            return None
        try:
            return json.loads(self.raw)
        except ValueError:
            return self.raw.decode(errors="replace")

    @property
    def message(self) -> Any:
        return self.body.get("message") if isinstance(self.body, dict) else None


def expect(reply: Reply, what: str) -> Reply:
    """The reply, if it is a 200; otherwise stop with what was being done."""
    if reply.status != 200:
        raise RuntimeError(f"{what}: HTTP {reply.status} {reply.body}")
    return reply


class Client:
    """Requests to one API base URL (``.../v3``), by default with one master key."""

    def __init__(self, url: str, key: str | None = None, timeout: float = TIMEOUT_SECONDS) -> None:
        self.url = url.rstrip("/")
        self.key = key
        self.timeout = timeout

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        headers: Headers | None = None,
        key: str | bool | None = True,
        url: str | None = None,
    ) -> Reply:
        """``body``: bytes and str are sent as they are, anything else as JSON; any body
        with ``Content-Type: application/json`` unless ``headers`` name one. ``key``: True for
        this client's key, a string for another, False or None for none. ``headers`` win
        over both; a list of pairs sends repeated headers. ``url``: another base URL."""
        if body is None or isinstance(body, bytes):
            payload = body
        else:
            payload = body.encode() if isinstance(body, str) else json.dumps(body, separators=(",", ":")).encode()
        explicit = list(headers.items()) if isinstance(headers, dict) else list(headers or [])
        named = {name.lower() for name, _ in explicit}
        sent: list[tuple[str, str]] = []
        chosen = self.key if key is True else key
        if chosen and "x-master-key" not in named:
            sent.append(("X-Master-Key", chosen))
        if body is not None and "content-type" not in named:
            sent.append(("Content-Type", "application/json"))
        sent += explicit
        return send(method, (url or self.url) + path, payload, sent, self.timeout)

    # the calls the soak and the benchmarks make most
    def create(self, record: Any) -> str:
        return str(expect(self.request("POST", "/b", record), "create").body["metadata"]["id"])

    def update(self, bin_id: str, record: Any, versioning: bool = True) -> Reply:
        return self.request("PUT", f"/b/{bin_id}", record, {"X-Bin-Versioning": str(versioning).lower()})

    def delete_versions(self, bin_id: str, preserve: bool = True) -> Reply:
        return self.request("DELETE", f"/b/{bin_id}/versions", headers={"X-Preserve-Latest": str(preserve).lower()})


def send(method: str, url: str, payload: bytes | None, headers: list[tuple[str, str]], timeout: float) -> Reply:
    """One request on a connection of its own; raises OSError or HTTPException if no answer."""
    parts = urlsplit(url)
    kind = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    connection = kind(parts.hostname or "127.0.0.1", parts.port, timeout=timeout)
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    try:
        started = time.perf_counter()
        connection.putrequest(method, target or "/")
        for name, value in headers:
            connection.putheader(name, value)
        if payload is not None or method in ("POST", "PUT", "PATCH"):
            connection.putheader("Content-Length", str(len(payload or b"")))
        connection.endheaders(payload)
        response = connection.getresponse()
        raw = response.read()
        seconds = time.perf_counter() - started
    finally:
        connection.close()
    received: dict[str, str] = {}
    for name, value in response.getheaders():
        lower = name.lower()
        received[lower] = f"{received[lower]}, {value}" if lower in received else value
    return Reply(response.status, received, raw, seconds)
