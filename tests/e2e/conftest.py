"""The end-to-end suite's target: any binvault base URL.

    BINVAULT_URL=https://<api>.execute-api.<region>.amazonaws.com/v3 BINVAULT_KEY=<master key> \\
        make e2e

runs it against a deployment (``make e2e`` or ``pytest tests/e2e``). Without BINVAULT_URL
the suite starts ``make run``'s local stack itself (tests/integration/conftest.py) and runs
against that, which is what ``make test`` and CI do. Only the standard library talks HTTP
(tests/support/client.py), and the suite asks nothing of the target but the contract (no table access, no timing).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest

from tests.integration.conftest import service  # noqa: F401 - the local stack fixture, started on demand
from tests.support.client import Client
from tests.support.stack import Stack


class Target(Client):
    """The deployment (or local stack) under test; remembers the bins it made."""

    def __init__(self, url: str, key: str) -> None:
        super().__init__(url, key)
        self.created: list[str] = []

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
        service: Stack = request.getfixturevalue("service")
        chosen = Target(service.url, service.key)
    yield chosen
    for bin_id in chosen.created:  # leave a deployment as we found it
        chosen.request("DELETE", f"/b/{bin_id}")
