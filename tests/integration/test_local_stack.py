"""The local stack as `make run` starts it (a subprocess): it keeps acknowledged data across
kill -9, frames HTTP like API Gateway, serves requests concurrently, says clearly why it
cannot start, and its operator CLI finds it."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.support.stack import ROOT, Stack, free_port, stack_env, start_stack

pytestmark = pytest.mark.integration

TABLE = "binvault-local"
CORS = {"access-control-allow-origin": "*", "access-control-expose-headers": "ETag, Retry-After"}


def bin_items(service: Stack) -> list[tuple[str, str]]:
    client, items, request = service.dynamodb(), [], {"TableName": TABLE, "ConsistentRead": True}
    while True:
        page = client.scan(**request)
        items.extend((i["pk"]["S"], i["sk"]["S"]) for i in page["Items"] if i["pk"]["S"].startswith("BIN#"))
        if "LastEvaluatedKey" not in page:
            return sorted(items)
        request["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def local_admin(data: Path, *args: str) -> dict[str, Any]:
    """`make admin ARGS=...`: no --table, no endpoint, no credentials given."""
    env = {"PYTHONPATH": str(ROOT / "src"), "BINVAULT_DATA": str(data), "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [sys.executable, "-m", "binvault.local.admin", *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


# ---- durability ---------------------------------------------------------------------------


def test_acknowledged_writes_survive_kill_9_and_a_restart(tmp_path: Path) -> None:
    # Given a stack writing to its data directory, and bins written from 4 threads at once
    data = tmp_path / "data"
    first = start_stack(data)
    acked: dict[str, list[Any]] = {}  # bin id -> records by version (0 = base)
    lock = threading.Lock()
    service = first

    def writer(number: int) -> None:
        for n in range(2):
            base = {"writer": number, "bin": n}
            created = service.request("POST", "/b", base)
            assert created.status == 200, created.body
            bin_id, records = created.body["metadata"]["id"], [base]
            for version in range(1, 4):
                record = {**base, "version": version}
                reply = service.request("PUT", f"/b/{bin_id}", record, {"X-Bin-Versioning": "true"})
                assert reply.status == 200, reply.body
                records.append(record)
            with lock:
                acked[bin_id] = records

    try:
        threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
        # and a versions delete, a bin delete and a second account made with the operator CLI
        kept, gone = sorted(acked)[:2]
        cut = service.request("DELETE", f"/b/{kept}/versions", headers={"X-Preserve-Latest": "true"})
        assert cut.body["metadata"]["versionsDeleted"] == 3
        acked[kept] = [acked[kept][-1]]
        assert service.request("DELETE", f"/b/{gone}").status == 200
        del acked[gone]
        other = local_admin(data, "create-account", "--requests", "10")
        theirs = service.client(other["masterKey"]).request("POST", "/b", {"theirs": 1})
        assert theirs.status == 200
    finally:
        # When the stack is killed without any chance to clean up
        first.process.kill()
        first.process.wait(30)

    # Then a new stack on the same data directory (and other ports) has every acknowledged write
    second = start_stack(data)
    try:
        again = second
        assert second.key == first.key  # the demo account and its key are the same
        for bin_id, records in acked.items():
            assert again.request("GET", f"/b/{bin_id}/latest").body["record"] == records[-1]
            count = again.request("GET", f"/b/{bin_id}/versions/count").body["metadata"]["versionCount"]
            assert count == len(records) - 1
            for version, record in enumerate(records[1:], start=1):
                assert again.request("GET", f"/b/{bin_id}/{version}").body["record"] == record
        assert again.request("GET", f"/b/{gone}").status == 404
        other_bin = theirs.body["metadata"]["id"]
        reread = again.client(other["masterKey"]).request("GET", f"/b/{other_bin}")
        assert reread.body["record"] == {"theirs": 1}
        # and quota spent before the crash stays spent (the account is the same record)
        assert local_admin(data, "show-account", other["accountId"])["requestsRemaining"] == 8
    finally:
        second.stop()
    # and `make reset` wipes it once no stack uses it
    wiped = subprocess.run(
        [sys.executable, "-m", "binvault.local.stack", "--reset"],
        env=stack_env(data, free_port(), free_port()),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert wiped.returncode == 0 and not data.exists()


def test_a_data_directory_in_use_is_refused_at_once(service: Stack) -> None:
    assert service.data is not None
    for args in ([], ["--reset"]):
        done = subprocess.run(
            [sys.executable, "-m", "binvault.local.stack", *args],
            env=stack_env(service.data, free_port(), free_port()),
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 1
        assert f"data directory {service.data} is in use" in done.stderr and "Traceback" not in done.stderr
    assert service.data.exists()


# ---- HTTP framing like API Gateway --------------------------------------------------------


def raw_request(url: str, data: bytes) -> tuple[int, dict[str, str], Any]:
    """Send bytes as they are; read the answer until the server closes (bounded)."""
    host, port = url.removeprefix("http://").split("/")[0].split(":")
    with socket.create_connection((host, int(port)), timeout=15) as sock:
        sock.sendall(data)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(lines[0].split()[1]), headers, json.loads(body)


def _post(key: str, framing: str, body: str = '{"framed": "badly"}') -> bytes:
    head = f"POST /v3/b HTTP/1.1\r\nHost: localhost\r\nX-Master-Key: {key}\r\nContent-Type: application/json\r\n"
    return (head + framing + "\r\n" + body).encode()


MALFORMED = {
    "Content-Length not a number": (lambda key: _post(key, "Content-Length: abc\r\n"), 400, "Invalid Content-Length"),
    "negative Content-Length": (lambda key: _post(key, "Content-Length: -1\r\n"), 400, "Invalid Content-Length"),
    "Content-Length and chunked": (
        lambda key: _post(key, "Content-Length: 19\r\nTransfer-Encoding: chunked\r\n"),
        400,
        "Invalid Transfer-Encoding",
    ),
    "unknown Transfer-Encoding": (
        lambda key: _post(key, "Transfer-Encoding: gzip\r\n"),
        400,
        "Invalid Transfer-Encoding",
    ),
    "broken chunk": (
        lambda key: _post(key, "Transfer-Encoding: chunked\r\n", "zz\r\n{}\r\n0\r\n\r\n"),
        400,
        "Invalid chunked body",
    ),
    "body over 10 MB": (lambda key: _post(key, "Content-Length: 10485761\r\n"), 413, "Request body too large"),
    "70 KB header": (
        lambda key: _post(key, f"X-Padding: {'p' * 70_000}\r\nContent-Length: 19\r\n"),
        431,
        "Request header fields too large",
    ),
    "12 KB of headers": (
        lambda key: _post(key, "".join(f"X-Pad-{n}: {'p' * 1000}\r\n" for n in range(12)) + "Content-Length: 19\r\n"),
        431,
        "Request header fields too large",
    ),
    "70 KB request line": (
        lambda key: f"POST /v3/b?{'q' * 70_000} HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{{}}".encode(),
        414,
        "Request URI too long",
    ),
    "9 KB request line": (
        lambda key: (
            f"POST /v3/b?{'q' * 9_000} HTTP/1.1\r\nHost: x\r\nX-Master-Key: {key}\r\n"
            'Content-Type: application/json\r\nContent-Length: 7\r\n\r\n{"a":1}'.encode()
        ),
        414,
        "Request URI too long",
    ),
    "not HTTP": (lambda key: b"NONSENSE\r\n\r\n", 400, "Bad request"),
    "outside the stage": (
        lambda key: _post(key, "Content-Length: 19\r\n").replace(b"/v3/b", b"/v2/b"),
        404,
        "Route not found",
    ),
}


@pytest.mark.parametrize("case", list(MALFORMED))
def test_malformed_framing_gets_api_gateway_json_with_cors_and_stores_nothing(service: Stack, case: str) -> None:
    build, status, message = MALFORMED[case]
    before = bin_items(service)
    answer = raw_request(service.url, build(service.key))
    assert answer[0] == status
    assert answer[2] == {"message": message}
    assert answer[1]["content-type"].startswith("application/json")
    assert {name: answer[1].get(name) for name in CORS} == CORS
    # no item stored (the purge of an earlier test's bins may still be removing theirs)
    assert set(bin_items(service)) - set(before) == set()


def test_a_chunked_body_is_read_whole(service: Stack) -> None:
    record = json.dumps({"sent": "in", "three": "chunks"})
    chunks = [record[:5], record[5:20], record[20:]]
    body = "".join(f"{len(part):x}\r\n{part}\r\n" for part in chunks) + "0\r\n\r\n"
    status, _, reply = raw_request(service.url, _post(service.key, "Transfer-Encoding: chunked\r\n", body))
    assert status == 200 and reply["record"] == json.loads(record)


def test_swagger_and_openapi_are_still_served(service: Stack) -> None:
    assert service.request("GET", "/openapi.json", key=False).body["servers"][0]["url"] == service.url
    assert "swagger-ui" in service.request("GET", "/swagger", key=False).raw.decode()


# ---- concurrency like Lambda --------------------------------------------------------------


def test_a_slow_request_does_not_hold_up_the_others(service: Stack) -> None:
    # Given an Idempotency-Key whose first request is (as far as anyone can tell) still running
    idempotency = service.dynamodb()

    def records() -> dict[str, dict[str, Any]]:
        items = idempotency.scan(TableName=f"{TABLE}-idempotency", ConsistentRead=True)["Items"]
        return {item["id"]["S"]: item for item in items}

    seen = records()
    record, key = {"slow": True}, f"slow-{uuid.uuid4().hex}"
    first = service.request("POST", "/b", record, {"Idempotency-Key": key})
    assert first.status == 200
    (fresh,) = [item for name, item in records().items() if name not in seen]
    fresh["status"] = {"S": "INPROGRESS"}
    fresh["in_progress_expiration"] = {"N": str(int(time.time() * 1000) + 60_000)}
    idempotency.put_item(TableName=f"{TABLE}-idempotency", Item=fresh)
    bin_id = first.body["metadata"]["id"]

    # When its retry waits for it (about 2 s) while other requests arrive
    slow: dict[str, Any] = {}

    def retry() -> None:
        slow["start"] = time.monotonic()
        slow["status"] = service.request("POST", "/b", record, {"Idempotency-Key": key}).status
        slow["end"] = time.monotonic()

    waiting = threading.Thread(target=retry)
    waiting.start()
    time.sleep(0.3)  # the retry is in its environment, polling the in-progress record
    others = []
    for _ in range(5):
        started = time.monotonic()
        reply = service.request("GET", f"/b/{bin_id}")
        others.append((started, time.monotonic(), reply.status))
    waiting.join(30)

    # Then every other request was answered while the slow one was still waiting, each in a
    # small fraction of the slow one's time (one execution environment each)
    assert slow["status"] == 409
    slow_seconds = slow["end"] - slow["start"]
    assert all(status == 200 for _, _, status in others)
    assert all(slow["start"] < started and ended < slow["end"] for started, ended, _ in others)
    assert max(ended - started for started, ended, _ in others) < slow_seconds / 4


# ---- clear start-up failures and the operator CLI -----------------------------------------


@pytest.mark.parametrize("variable", ["PORT", "DYNAMODB_PORT"])
def test_a_busy_port_stops_the_stack_at_once_naming_it(tmp_path: Path, variable: str) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = taken.getsockname()[1]
        ports = {"PORT": free_port(), "DYNAMODB_PORT": free_port(), variable: busy}
        done = subprocess.run(
            [sys.executable, "-m", "binvault.local.stack"],
            env=stack_env(tmp_path / "data", ports["PORT"], ports["DYNAMODB_PORT"]),
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode == 1
    assert f"127.0.0.1:{busy}" in done.stderr and f"{variable}={busy}" in done.stderr
    assert "Traceback" not in done.stderr


def test_the_banner_and_make_admin_reach_the_local_table(service: Stack) -> None:
    assert service.data is not None
    banner = service.text()
    assert "make admin ARGS='create-account --requests 1000'" in banner
    assert f"TABLE_NAME={TABLE} AWS_ENDPOINT_URL_DYNAMODB={service.dynamodb_url}" in banner
    created = local_admin(service.data, "create-account", "--requests", "3")
    user = service.client(created["masterKey"])
    assert user.request("POST", "/b", {"made": "by make admin"}).status == 200
    shown = local_admin(service.data, "show-account", created["accountId"])
    assert shown["requestsRemaining"] == 2 and created["masterKey"] not in json.dumps(shown)
