"""The local stack's parts in this process (``binvault.local.stack.running``, as the soak
uses it): the journal, its replay and compaction, the keep-alive DynamoDB endpoint, the
HTTP front and the execution-environment pool."""

from __future__ import annotations

import contextlib
import io
import json
import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.client import Client
from tests.support.inproc import restored_environment
from tests.support.stack import free_port

pytestmark = pytest.mark.integration


@pytest.fixture
def local_env() -> Iterator[None]:
    """``running`` sets the local stack's environment; put this process's back afterwards."""
    with restored_environment():
        yield


def http(url: str, method: str = "GET", body: Any = None, key: str | None = None, **headers: str) -> tuple[int, Any]:
    reply = Client(url, key).request(method, "", body, {name.replace("_", "-"): v for name, v in headers.items()})
    return reply.status, reply.body


def test_journal_replay_and_compaction_keep_every_write(
    local_env: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from binvault.local import admin
    from binvault.local import stack as local

    os.environ["BINVAULT_COMPACT_BYTES"] = "4000"  # compact several times during the test
    data = tmp_path / "data"
    with local.running(free_port(), free_port(), data_dir=data) as first:
        key, url = first.demo["masterKey"], first.api_url
        status, created = http(f"{url}/b", "POST", {"v": 0}, key)
        assert status == 200
        bin_id = created["metadata"]["id"]
        for version in range(1, 13):
            assert http(f"{url}/b/{bin_id}", "PUT", {"v": version}, key, X_Bin_Versioning="true")[0] == 200
        # the purge of a versions delete reaches the stream poller, which then releases the records
        assert http(f"{url}/b/{bin_id}/versions", "DELETE", key=key, X_Preserve_Latest="true")[0] == 200
        deadline = time.monotonic() + 20
        while first.poller.delivered < 1 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert first.poller.delivered >= 1
        for version in range(1, 4):
            assert http(f"{url}/b/{bin_id}", "PUT", {"again": version}, key, X_Bin_Versioning="true")[0] == 200
        # `make admin` finds this stack through its data directory
        os.environ.update(BINVAULT_DATA=str(data), TABLE_NAME="not-this-one")
        capsys.readouterr()
        assert admin.main(["show-account", first.demo["accountId"]]) == 0
        # (the stack's own handlers log and print metrics to the same stdout meanwhile)
        printed = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
        shown = [p for p in printed if set(p) == {"accountId", "requestsRemaining", "createdAt"}]
        assert [p["accountId"] for p in shown] == [first.demo["accountId"]]
        deadline = time.monotonic() + 10
        while any(t.name == "journal-compaction" for t in threading.enumerate()) and time.monotonic() < deadline:
            time.sleep(0.05)
    assert (data / "snapshot.jsonl").exists()
    # a crash in the middle of writing a line leaves a torn last line: never acknowledged, skipped
    with (data / "journal.jsonl").open("a") as journal:
        journal.write('{"seq": 999999, "op": "PutIt')

    with local.running(free_port(), free_port(), data_dir=data) as second:
        assert second.demo["masterKey"] == key and second.replayed > 0
        url = second.api_url
        status, latest = http(f"{url}/b/{bin_id}/latest", key=key)
        assert (status, latest["record"], latest["metadata"]["version"]) == (200, {"again": 3}, 3)
        assert http(f"{url}/b/{bin_id}/1", key=key)[1]["record"] == {"again": 1}
        assert http(f"{url}/b/{bin_id}/versions/count", key=key)[1]["metadata"]["versionCount"] == 3
        # the journal keeps appending after a replay, with sequence numbers past the snapshot's
        assert http(f"{url}/b/{bin_id}", "PUT", {"after": "restart"}, key, X_Bin_Versioning="true")[0] == 200
    with local.running(free_port(), free_port(), data_dir=data) as third:
        status, latest = http(f"{third.api_url}/b/{bin_id}/latest", key=key)
        assert latest["record"] == {"after": "restart"}
    assert local.reset(data) == f"wiped {data}" and not data.exists()
    assert "nothing to wipe" in local.reset(data)
    assert "nothing to wipe" in local.reset(None)


def test_in_memory_stack_with_a_pool_answers_like_api_gateway(local_env: None) -> None:
    from binvault.local import stack as local

    with local.running(free_port(), free_port(), concurrency=2) as stack:
        assert stack.data_dir is None and "in memory only" in local.banner(stack)
        key, url = stack.demo["masterKey"], stack.api_url
        status, created = http(f"{url}/b", "POST", {"pooled": True}, key)
        assert status == 200
        assert http(f"{url}/b/{created['metadata']['id']}", key=key)[1]["record"] == {"pooled": True}
        assert http(url.replace("/v3", "/nope"), key=key) == (404, {"message": "Route not found"})
        assert http(f"{url}/openapi.json", "POST") == (405, {"message": "Method not allowed"})
        assert http(f"{url}/swagger?asset=nope") == (404, {"message": "Route not found"})
        assert "binvault-admin create-account" in local.admin_line(stack)


def test_in_process_front_frames_http_and_dynamodb_keeps_connections_alive(local_env: None) -> None:
    from http.client import HTTPConnection

    from binvault.local import stack as local

    with local.running(free_port(), free_port()) as stack:
        key, url = stack.demo["masterKey"], stack.api_url
        status, created = http(f"{url}/b", "POST", {"in": "process"}, key)
        assert status == 200
        # what API Gateway answers itself, framed and limited by the HTTP front
        from tests.integration.test_local_stack import MALFORMED, raw_request

        for build, status, message in MALFORMED.values():
            assert raw_request(url, build(key))[::2] == (status, {"message": message})
        head = f"HEAD /v3/b/{created['metadata']['id']} HTTP/1.1\r\nHost: x\r\nX-Master-Key: {key}\r\n\r\n"
        with socket.create_connection(("127.0.0.1", int(url.split(":")[2].split("/")[0])), timeout=10) as sock:
            sock.sendall(head.encode())
            answer = b""
            while chunk := sock.recv(65536):
                answer += chunk
        assert answer.startswith(b"HTTP/1.1 ") and answer.endswith(b"\r\n\r\n")  # headers only
        host, port = stack.dynamodb_url.removeprefix("http://").split(":")
        connection = HTTPConnection(host, int(port), timeout=10)
        for _ in range(3):
            connection.request(
                "POST",
                "/",
                body=b"{}",
                headers={
                    "X-Amz-Target": "DynamoDB_20120810.ListTables",
                    "Content-Type": "application/x-amz-json-1.0",
                    "Authorization": "AWS4-HMAC-SHA256 Credential=local/20260101/us-east-1/dynamodb/aws4_request, "
                    "SignedHeaders=host, Signature=0",
                },
            )
            reply = connection.getresponse()
            assert reply.status == 200 and "TableNames" in json.loads(reply.read())
            assert reply.getheader("Connection") != "close"
        connection.request("POST", "/", body=b"{}", headers={"Content-Length": "nope"})
        assert connection.getresponse().status == 400
        connection.close()


def test_query_reads_only_its_partition(local_env: None) -> None:
    from binvault.local import moto_fixes
    from binvault.local import stack as local

    with local.running(free_port(), free_port()) as stack:
        client = local_client(stack.dynamodb_url)
        table = os.environ["TABLE_NAME"]
        for pk in ("BIN#a", "BIN#b"):
            for sk in ("V#2", "BIN", "V#1"):
                client.put_item(TableName=table, Item={"pk": {"S": pk}, "sk": {"S": sk}})
        for forward in (True, False):
            page = client.query(
                TableName=table,
                KeyConditionExpression="pk = :pk AND begins_with(sk, :v)",
                ExpressionAttributeValues={":pk": {"S": "BIN#b"}, ":v": {"S": "V#"}},
                ScanIndexForward=forward,
            )
            expected = ["V#1", "V#2"] if forward else ["V#2", "V#1"]
            assert [item["sk"]["S"] for item in page["Items"]] == expected
        empty = client.query(
            TableName=table, KeyConditionExpression="pk = :pk", ExpressionAttributeValues={":pk": {"S": "BIN#none"}}
        )
        assert empty["Items"] == []
        assert moto_fixes.release_stream_records("no-such-table", 10**30) == 0


def local_client(endpoint: str) -> Any:
    import boto3

    return boto3.client("dynamodb", endpoint_url=endpoint, region_name="us-east-1")


# ---- the execution-environment pool -------------------------------------------------------


def test_pool_serves_events_concurrently_and_replaces_broken_environments() -> None:
    from binvault.local.pool import Pool
    from binvault.local.server import InvocationFailed

    pool = Pool(2, handler="tests.integration.handlers:echo", timeout=5)
    pool.start()
    try:
        finished: list[str] = []

        def slow() -> None:
            pool({"sleep": 1.5, "n": "slow"})
            finished.append("slow")

        thread = threading.Thread(target=slow)
        thread.start()
        time.sleep(0.2)
        assert pool({"n": 1})["body"] == "1"  # answered by the other environment meanwhile
        finished.append("fast")
        thread.join(10)
        assert finished == ["fast", "slow"]
        with pytest.raises(InvocationFailed) as failed:
            pool({"raise": True})
        assert failed.value.status == 502
        with pytest.raises(InvocationFailed) as crashed:
            pool({"exit": True})
        assert crashed.value.status == 502
        with pytest.raises(InvocationFailed) as late:
            Pool.__call__(pool, {"sleep": 30})
        assert late.value.status == 504
        assert pool({"n": 2})["body"] == "2"  # replacements took over
    finally:
        pool.close()
    with pytest.raises(ValueError):
        Pool(0)


def test_worker_serves_lines_and_reports_handler_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    import signal

    from binvault.local import worker

    read_end, write_end = os.pipe()
    events = "\n".join(json.dumps(e) for e in ({"n": 7}, {"raise": True})) + "\n"
    monkeypatch.setattr("sys.stdin", io.StringIO(events))
    previous = signal.getsignal(signal.SIGINT)
    try:
        with contextlib.redirect_stderr(io.StringIO()):
            assert worker.main(["tests.integration.handlers:echo", str(write_end)]) == 0
    finally:
        signal.signal(signal.SIGINT, previous)
    with os.fdopen(read_end) as replies:
        lines = [json.loads(line) for line in replies]
    assert lines[0] == {"ready": True}
    assert lines[1]["body"] == "7"
    assert lines[2] == {"errorType": "RuntimeError", "errorMessage": "asked to fail"}
