"""Through the real local HTTP server: what a JSONBin client does, and what `make run` promises."""

from __future__ import annotations

import time

import pytest

from tests.support.client import Client
from tests.support.stack import ROOT, Stack

pytestmark = pytest.mark.integration


def test_jsonbin_client_walkthrough(service: Stack) -> None:
    # create, two versioned updates, read latest and versions
    created = service.request("POST", "/b", {"greeting": "hello"}, {"X-Bin-Name": "walkthrough"})
    assert created.status == 200 and created.headers["etag"]
    bin_id = created.body["metadata"]["id"]
    for n, text in enumerate(["again", "third"], start=1):
        reply = service.request("PUT", f"/b/{bin_id}", {"greeting": text}, {"X-Bin-Versioning": "true"})
        assert reply.body["metadata"] == {"parentId": bin_id, "private": True, "version": n}
    assert service.request("GET", f"/b/{bin_id}/latest").body["record"] == {"greeting": "third"}
    assert service.request("GET", f"/b/{bin_id}/1").body["record"] == {"greeting": "again"}
    assert service.request("GET", f"/b/{bin_id}/versions/count").body["metadata"]["versionCount"] == 2
    # delete the versions, preserving the latest
    deleted = service.request("DELETE", f"/b/{bin_id}/versions", headers={"X-Preserve-Latest": "true"})
    assert deleted.body == {
        "metadata": {"id": bin_id, "versionsDeleted": 2},
        "message": "Versions for the Bin are deleted successfully",
    }
    assert service.request("GET", f"/b/{bin_id}").body["record"] == {"greeting": "third"}
    assert service.request("GET", f"/b/{bin_id}/1").status == 404
    assert service.request("GET", f"/b/{bin_id}", headers={"X-Bin-Meta": "false"}).body == {"greeting": "third"}
    # and delete the bin
    assert service.request("DELETE", f"/b/{bin_id}").body["message"] == "Bin deleted successfully"
    assert service.request("GET", f"/b/{bin_id}").status == 404


def test_purge_runs_after_the_response(service: Stack) -> None:
    bin_id = service.request("POST", "/b", {"v": 0}).body["metadata"]["id"]
    for n in range(1, 31):
        service.request("PUT", f"/b/{bin_id}", {"v": n}, {"X-Bin-Versioning": "true"})
    assert service.request("DELETE", f"/b/{bin_id}/versions").body["metadata"]["versionsDeleted"] == 30
    table = service.dynamodb()

    def items() -> list[str]:
        page = table.query(
            TableName="binvault-local",
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": {"S": f"BIN#{bin_id}"}},
        )
        return [item["sk"]["S"] for item in page["Items"]]

    deadline = time.monotonic() + 20
    while items() != ["BIN"] and time.monotonic() < deadline:
        time.sleep(0.2)
    assert items() == ["BIN"]


def test_errors_are_json_and_outside_the_stage_is_route_not_found(service: Stack) -> None:
    assert service.request("GET", "/b/123").body == {"message": "Invalid Bin Id provided"}
    wrong_stage = Client(service.url.replace("/v3", "/v2"), service.key)
    reply = wrong_stage.request("GET", "/b")
    assert (reply.status, reply.body) == (404, {"message": "Route not found"})
    missing = service.request("DELETE", f"/b/{'a' * 24}/versions", key=False)
    assert (missing.status, missing.body) == (401, {"message": "You need to pass X-Master-Key in the header"})


def test_binary_body_is_rejected_cleanly(service: Stack) -> None:
    reply = service.request("POST", "/b", b"\xff\xfe{not utf8", {"Content-Type": "application/json"})
    assert (reply.status, reply.body) == (400, {"message": "Invalid JSON body"})


def test_admin_cli_against_the_local_table(service: Stack) -> None:
    import json
    import subprocess
    import sys

    base = [
        sys.executable,
        "-m",
        "binvault.admin",
        "--table",
        "binvault-local",
        "--endpoint-url",
        service.dynamodb_url,
    ]
    env = {
        "PYTHONPATH": str(ROOT / "src"),
        "AWS_ACCESS_KEY_ID": "x",
        "AWS_SECRET_ACCESS_KEY": "x",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    created = json.loads(
        subprocess.run(
            [*base, "create-account", "--requests", "2"], env=env, capture_output=True, text=True, check=True
        ).stdout
    )
    user = service.client(created["masterKey"])
    assert user.request("POST", "/b", {"a": 1}).status == 200
    shown = subprocess.run(
        [*base, "show-account", created["accountId"]], env=env, capture_output=True, text=True, check=True
    ).stdout
    assert json.loads(shown)["requestsRemaining"] == 1
    assert created["masterKey"] not in shown
    rotated = json.loads(
        subprocess.run(
            [*base, "rotate-key", created["accountId"]], env=env, capture_output=True, text=True, check=True
        ).stdout
    )
    assert user.request("POST", "/b", {"a": 1}).status == 401
    assert service.client(rotated["masterKey"]).request("POST", "/b", {"a": 1}).status == 200
