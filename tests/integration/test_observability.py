"""What the handler writes to its logs: correlated with API Gateway's requestId, and never
the caller's secret, whatever the outcome (success, refusal, bad key, unexpected error)."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import Account

pytestmark = pytest.mark.integration


@pytest.fixture
def logs() -> Iterator[io.StringIO]:
    """What the API's logger writes, formatted exactly as in Lambda, at INFO (refusals are
    logged there), whatever stream and level an earlier import gave it."""
    from binvault.handlers.api import logger

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logger.registered_formatter)
    level = logger.log_level
    logger.addHandler(handler)
    logger.setLevel("INFO")
    yield stream
    logger.setLevel(level)
    logger.removeHandler(handler)


def _call(method: str, path: str, headers: dict[str, str], body: str | None = None) -> tuple[str, dict[str, Any]]:
    from binvault.handlers.api import lambda_handler
    from binvault.local.events import LocalContext, rest_event

    event = rest_event(method, path, headers, body)
    return event["requestContext"]["requestId"], lambda_handler(event, LocalContext())


def _log_lines(text: str) -> list[dict[str, Any]]:
    lines = []
    for line in text.splitlines():
        try:
            parsed = json.loads(line)
        except ValueError:
            continue
        if isinstance(parsed, dict) and "level" in parsed:
            lines.append(parsed)
    return lines


def test_logs_carry_the_request_id_and_never_the_master_key(
    account: Account, logs: io.StringIO, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a key, a bin, and requests that succeed, are refused, and fail unexpectedly
    key = {"X-Master-Key": account.key, "Content-Type": "application/json"}
    _, created = _call("POST", "/b", key, '{"secret": "not logged either"}')
    bin_id = json.loads(created["body"])["metadata"]["id"]
    logs.truncate(0)
    logs.seek(0)
    requests = [
        _call("GET", f"/b/{bin_id}", key),
        _call("DELETE", f"/b/{bin_id}/versions", {**key, "X-Preserve-Latest": "maybe"}),
        _call("GET", f"/b/{bin_id}", {"X-Master-Key": account.key + "-wrong"}),
        _call("GET", "/b/0123456789abcdef01234567", key),
    ]
    from binvault.logic import bins

    def explode(*_: Any, **__: Any) -> Any:
        raise RuntimeError("simulated bug")

    monkeypatch.setattr(bins, "count_versions", explode)
    requests.append(_call("GET", f"/b/{bin_id}/versions/count", key))

    # When the logs are read
    output = logs.getvalue()
    lines = _log_lines(output)

    # Then every request logged, each line under its own API Gateway requestId
    assert [reply["statusCode"] for _, reply in requests] == [200, 400, 401, 404, 500]
    request_ids = [request_id for request_id, _ in requests]
    assert {line["correlation_id"] for line in lines} == set(request_ids[1:])  # refusals and the bug
    assert any(line["level"] == "ERROR" and "simulated bug" in line.get("exception", "") for line in lines)
    # and neither the key (or its wrong variant) nor the record ever appears
    assert account.key not in output
    assert "not logged either" not in output
    # and the caller never sees the traceback
    assert json.loads(requests[-1][1]["body"]) == {"message": "Internal server error"}


def test_no_log_line_holds_an_access_key(account: Account, logs: io.StringIO) -> None:
    # Given an access key, made and then used, refused, and deleted
    master = {"X-Master-Key": account.key, "Content-Type": "application/json"}
    _, created = _call("POST", "/a", {**master, "X-Key-Name": "logged?"}, '{"bins": {"create": true}}')
    made = json.loads(created["body"])
    access = made["accessKey"]
    with_key = {"X-Access-Key": access, "Content-Type": "application/json"}
    replies = [
        _call("POST", "/b", with_key, '{"a": 1}'),
        _call("GET", "/b/0123456789abcdef01234567", with_key),  # no read permission: 403
        _call("GET", "/a", master),
        _call("DELETE", f"/a/{made['accessKeyId']}", master),
        _call("POST", "/b", with_key, '{"a": 1}'),  # revoked: 401
        _call("POST", "/b", {**with_key, "X-Access-Key": access + "-wrong"}, '{"a": 1}'),
    ]

    # Then the logs carry the refusals, never the key nor the create answer's body
    assert [reply["statusCode"] for _, reply in replies] == [200, 403, 200, 200, 401, 401]
    output = logs.getvalue()
    assert {line.get("reason") for line in _log_lines(output)} >= {"AccessKeyForbidden", "InvalidAccessKey"}
    assert access not in output
    assert access[:-4] not in output
