"""Issue 24 over real HTTP (the local stack, `make run`): requests show up in GET /l and in
the day's zip a few seconds later, through the same path as deployed (the execution
environments' log lines -> subscription events -> the usage-logs handler -> S3), with
their fields and no secret; another account's logs are unreachable."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import time
import zipfile
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.support.client import Reply
from tests.support.stack import Stack, child_env

pytestmark = pytest.mark.integration

WAIT_SECONDS = 20.0  # the shipper delivers every second; bounded, never a timing assertion


def new_account(service: Stack) -> str:
    """An account of its own (the session's demo account is every test's)."""
    cli = "import sys; from binvault.admin import main; sys.exit(main())"  # binvault-admin
    admin = [sys.executable, "-c", cli, "--table", service.table, "--endpoint-url", service.dynamodb_url]
    done = subprocess.run(
        [*admin, "create-account", "--requests", "1000"],
        env=child_env(AWS_ENDPOINT_URL_DYNAMODB=service.dynamodb_url),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return str(json.loads(done.stdout)["masterKey"])


def send(service: Stack, key: str, method: str, path: str, body: Any = None, **headers: str) -> Reply:
    named = {name.replace("_", "-"): value for name, value in headers.items()}
    if key:
        named["X-Master-Key"] = key
    return service.request(method, path, body, named, key=False)


def day_lines(service: Stack, key: str, day: str, expected: int) -> list[dict[str, Any]]:
    """The day's lines once ``expected`` of them are in (bounded wait)."""
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        reply = send(service, key, "GET", f"/l/{day}", Accept="application/zip")
        if reply.status == 200:
            assert reply.headers["content-type"] == "application/zip"
            with zipfile.ZipFile(io.BytesIO(reply.raw)) as archive:
                assert archive.namelist() == [f"{day}.jsonl"]
                lines = [json.loads(line) for line in archive.read(f"{day}.jsonl").decode().splitlines()]
            if len(lines) >= expected:
                return lines
        else:
            assert reply.status == 404, reply.body
        assert time.monotonic() < deadline, f"{expected} lines not in the usage log after {WAIT_SECONDS} s"
        time.sleep(0.25)


def test_requests_show_up_in_the_usage_log_with_their_fields_and_no_secret(service: Stack) -> None:
    key = new_account(service)
    day = datetime.now(UTC).strftime("%d-%m-%Y")
    # Given an account with no logs yet
    assert send(service, key, "GET", "/l").body == {"message": "No logs found"}
    # When it creates a bin, reads it, hands out a read-only access key that then tries a write
    created = send(service, key, "POST", "/b", {"v": 1}, User_Agent="usage-test/1.0").body["metadata"]["id"]
    assert send(service, key, "GET", f"/b/{created}").status == 200
    access = send(service, key, "POST", "/a", {"bins": {"read": True}}, X_Key_Name="reader").body
    refused = send(service, "", "PUT", f"/b/{created}", {"v": 2}, X_Access_Key=access["accessKey"])
    assert refused.status == 403
    # Then within seconds the day is listed and its zip holds those requests, oldest first
    lines = day_lines(service, key, day, expected=5)
    assert send(service, key, "GET", "/l").body == {"logs": [day]}
    mine = [line for line in lines if line["route"] != "/l" and line["route"] != "/l/{date}"]
    assert [(line["method"], line["route"], line["status"], line["key"]) for line in mine] == [
        ("POST", "/b", 200, "master"),
        ("GET", "/b/{binId}", 200, "master"),
        ("POST", "/a", 200, "master"),
        ("PUT", "/b/{binId}", 403, access["accessKeyId"]),
    ]
    assert lines[0]["route"] == "/l" and lines[0]["status"] == 404  # the first, refused, listing
    assert mine[0]["binId"] == created and mine[0]["userAgent"] == "usage-test/1.0"
    assert {line["ip"] for line in lines} == {"127.0.0.1"}
    assert len({line["requestId"] for line in lines}) == len(lines)
    assert len({line["accountId"] for line in lines}) == 1
    text = json.dumps(lines)
    assert key not in text and access["accessKey"] not in text


def test_another_accounts_logs_are_unreachable(service: Stack) -> None:
    mine, theirs = new_account(service), new_account(service)
    day = datetime.now(UTC).strftime("%d-%m-%Y")
    send(service, mine, "POST", "/b", {"private": True})
    assert day_lines(service, mine, day, expected=1)
    # the other account lists nothing and gets JSONBin's 404 for the very same day
    assert send(service, theirs, "GET", "/l").body == {"message": "No logs found"}
    assert send(service, theirs, "GET", f"/l/{day}").body == {"message": f"Backup not found for {day}"}


def test_the_in_process_stack_ships_its_handlers_usage_lines(tmp_path: Any) -> None:
    """BINVAULT_CONCURRENCY=0 (the soak's stack): the handler runs in the stack's process and
    its usage logger writes to the shipper instead of stdout."""
    from binvault.local import stack as local
    from tests.support.client import Client
    from tests.support.inproc import restored_environment
    from tests.support.stack import free_port

    with restored_environment(), local.running(free_port(), free_port()) as running:
        client = Client(running.api_url, running.demo["masterKey"])
        bin_id = client.create({"v": 1})
        deadline = time.monotonic() + WAIT_SECONDS
        while running.usage_logs.delivered < 1:
            assert time.monotonic() < deadline, "the usage line was not shipped"
            time.sleep(0.1)
        assert client.request("GET", "/l").body == {"logs": [datetime.now(UTC).strftime("%d-%m-%Y")]}
        assert running.usage_logs.dead_letters == []
    from binvault.handlers import api
    from binvault.local.usage_logs import LineFeed

    # the handler's stream is its own again once the stack stopped
    assert bin_id and not any(isinstance(getattr(h, "stream", None), LineFeed) for h in api.usage_log.handlers)
