"""The end-to-end suite's target: any binvault base URL.

    BINVAULT_URL=https://<api>.execute-api.<region>.amazonaws.com/v3 BINVAULT_KEY=<master key> \\
        make e2e

runs it against a deployment (``make e2e`` or ``pytest tests/e2e``). Without BINVAULT_URL
the suite starts ``make run``'s local stack itself (tests/integration/conftest.py) and runs
against that, which is what ``make test`` and CI do. Only the standard library talks HTTP,
and the suite asks nothing of the target but the contract (no table access, no timing).
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest

from tests.integration.conftest import (
    LocalService,
    service,  # noqa: F401 - the local stack fixture, started on demand
)


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    raw: bytes

    @property
    def body(self) -> Any:
        return json.loads(self.raw) if self.raw else None

    @property
    def message(self) -> Any:
        body = self.body
        return body.get("message") if isinstance(body, dict) else None


@dataclass
class Target:
    url: str  # ends in /v3
    key: str
    created: list[str] = field(default_factory=list)

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        headers: dict[str, str] | None = None,
        key: str | bool | None = True,
        url: str | None = None,
    ) -> Reply:
        data = body if body is None or isinstance(body, bytes) else json.dumps(body).encode()
        all_headers = {"Content-Type": "application/json"} if body is not None else {}
        chosen = self.key if key is True else key
        if chosen:
            all_headers["X-Master-Key"] = chosen
        all_headers.update(headers or {})
        request = urllib.request.Request((url or self.url) + path, data=data, method=method, headers=all_headers)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return Reply(response.status, {k.lower(): v for k, v in response.headers.items()}, response.read())
        except urllib.error.HTTPError as error:
            return Reply(error.code, {k.lower(): v for k, v in error.headers.items()}, error.read())

    def new_bin(self, record: Any = None, **headers: str) -> str:
        reply = self.request("POST", "/b", record if record is not None else {"e2e": True}, headers)
        assert reply.status == 200, reply.raw
        bin_id = str(reply.body["metadata"]["id"])
        self.created.append(bin_id)
        return bin_id

    def outside_the_stage(self) -> str:
        """A URL on the same host but outside the API's stage (API Gateway's own answer)."""
        scheme, netloc, path, _, _ = urlsplit(self.url)
        return urlunsplit((scheme, netloc, path.rsplit("/", 1)[0] + "/no-such-stage", "", ""))


@pytest.fixture(scope="session")
def target(request: pytest.FixtureRequest) -> Iterator[Target]:
    url, key = os.environ.get("BINVAULT_URL", "").strip(), os.environ.get("BINVAULT_KEY", "").strip()
    if url and not key:
        pytest.exit("BINVAULT_URL is set but BINVAULT_KEY is not: the suite needs a master key", returncode=2)
    if url:
        chosen = Target(url.rstrip("/"), key)
    else:
        service: LocalService = request.getfixturevalue("service")
        chosen = Target(service.url, service.key)
    yield chosen
    for bin_id in chosen.created:  # leave a deployment as we found it
        chosen.request("DELETE", f"/b/{bin_id}")
