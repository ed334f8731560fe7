"""The HTTP contract (shared/CONTRACT.md) end to end, against whatever ``target`` is:
the local stack in ``make test``, a deployment with ``make e2e BINVAULT_URL=... BINVAULT_KEY=...``."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from tests.e2e.conftest import Target
from tests.support.client import Reply

pytestmark = pytest.mark.e2e
NOT_FOUND = "Bin not found or it doesn't belong to your account"
ORIGIN = {"Origin": "https://app.example"}


def ok(reply: Reply) -> Reply:
    assert reply.status == 200, (reply.status, reply.raw)
    return reply


def test_create_returns_the_record_its_metadata_and_an_etag(target: Target) -> None:
    reply = ok(target.request("POST", "/b", {"greeting": "hello"}, {"X-Bin-Name": "e2e create"}))
    target.created.append(reply.body["metadata"]["id"])
    assert reply.body["record"] == {"greeting": "hello"}
    metadata = reply.body["metadata"]
    assert re.fullmatch(r"[0-9a-f]{24}", metadata["id"])
    assert metadata["private"] is True and metadata["name"] == "e2e create"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", metadata["createdAt"])
    assert reply.headers["etag"]
    assert reply.headers["content-type"].startswith("application/json")


def test_versioned_updates_and_every_read(target: Target) -> None:
    bin_id = target.new_bin({"n": 0})
    for n in (1, 2, 3):
        reply = ok(target.request("PUT", f"/b/{bin_id}", {"n": n}, {"X-Bin-Versioning": "true"}))
        assert reply.body == {"record": {"n": n}, "metadata": {"parentId": bin_id, "private": True, "version": n}}
    # versioning off: the latest version is replaced in place
    reply = ok(target.request("PUT", f"/b/{bin_id}", {"n": "3b"}))
    assert "version" not in reply.body["metadata"]
    assert ok(target.request("GET", f"/b/{bin_id}")).body["record"] == {"n": 0}
    latest = ok(target.request("GET", f"/b/{bin_id}/latest")).body
    assert (latest["record"], latest["metadata"]["version"]) == ({"n": "3b"}, 3)
    assert ok(target.request("GET", f"/b/{bin_id}/1")).body["record"] == {"n": 1}
    assert ok(target.request("GET", f"/b/{bin_id}/2", headers={"X-Bin-Meta": "false"})).body == {"n": 2}
    assert ok(target.request("GET", f"/b/{bin_id}/latest?meta=false")).body == {"n": "3b"}
    count = ok(target.request("GET", f"/b/{bin_id}/versions/count")).body
    assert count == {"metadata": {"id": bin_id, "versionCount": 3, "private": True}}
    missing = target.request("GET", f"/b/{bin_id}/4")
    assert (missing.status, missing.message) == (404, "Bin version not found")
    invalid = target.request("GET", f"/b/{bin_id}/x1")
    assert (invalid.status, invalid.message) == (400, "Invalid Bin Version provided")


def test_delete_versions_without_preserve_keeps_the_base_record(target: Target) -> None:
    bin_id = target.new_bin({"base": True})
    for n in (1, 2):
        ok(target.request("PUT", f"/b/{bin_id}", {"n": n}, {"X-Bin-Versioning": "true"}))
    reply = ok(target.request("DELETE", f"/b/{bin_id}/versions"))
    assert reply.body == {
        "metadata": {"id": bin_id, "versionsDeleted": 2},
        "message": "Versions for the Bin are deleted successfully",
    }
    assert ok(target.request("GET", f"/b/{bin_id}")).body["record"] == {"base": True}
    assert ok(target.request("GET", f"/b/{bin_id}/latest")).body["metadata"]["version"] == 0
    assert target.request("GET", f"/b/{bin_id}/1").status == 404
    assert ok(target.request("GET", f"/b/{bin_id}/versions/count")).body["metadata"]["versionCount"] == 0
    # idempotent, and the next versioned update starts a new series at 1
    assert ok(target.request("DELETE", f"/b/{bin_id}/versions")).body["metadata"]["versionsDeleted"] == 0
    again = ok(target.request("PUT", f"/b/{bin_id}", {"n": "new"}, {"X-Bin-Versioning": "true"}))
    assert again.body["metadata"]["version"] == 1


def test_delete_versions_with_preserve_latest_copies_it_to_the_base(target: Target) -> None:
    bin_id = target.new_bin({"base": True})
    for n in (1, 2):
        ok(target.request("PUT", f"/b/{bin_id}", {"n": n}, {"X-Bin-Versioning": "true"}))
    reply = ok(target.request("DELETE", f"/b/{bin_id}/versions", headers={"X-Preserve-Latest": "TRUE"}))
    assert reply.body["metadata"]["versionsDeleted"] == 2
    assert ok(target.request("GET", f"/b/{bin_id}")).body["record"] == {"n": 2}
    bad = target.request("DELETE", f"/b/{bin_id}/versions", headers={"X-Preserve-Latest": "maybe"})
    assert (bad.status, bad.message) == (400, "X-Preserve-Latest must be true or false")


def test_if_match_stale_is_412_and_changes_nothing(target: Target) -> None:
    bin_id = target.new_bin({"v": 1})
    etag = ok(target.request("GET", f"/b/{bin_id}")).headers["etag"]
    ok(target.request("PUT", f"/b/{bin_id}", {"v": 2}, {"If-Match": etag}))
    stale = target.request("PUT", f"/b/{bin_id}", {"v": 3}, {"If-Match": etag})
    assert (stale.status, stale.message) == (412, "Precondition Failed")
    stale_delete = target.request("DELETE", f"/b/{bin_id}/versions", headers={"If-Match": etag})
    assert stale_delete.status == 412
    assert ok(target.request("GET", f"/b/{bin_id}")).body["record"] == {"v": 2}


def test_idempotency_key_replays_the_first_response(target: Target) -> None:
    bin_id = target.new_bin({"v": 0})
    headers = {"X-Bin-Versioning": "true", "Idempotency-Key": f"e2e-{uuid.uuid4()}"}
    first = ok(target.request("PUT", f"/b/{bin_id}", {"v": 1}, headers))
    second = ok(target.request("PUT", f"/b/{bin_id}", {"v": 1}, headers))
    assert second.body == first.body and second.headers["etag"] == first.headers["etag"]
    assert ok(target.request("GET", f"/b/{bin_id}/versions/count")).body["metadata"]["versionCount"] == 1
    assert target.request("PUT", f"/b/{bin_id}", {"v": 2}, headers).status == 422


def test_bin_delete(target: Target) -> None:
    bin_id = target.new_bin({"v": 0})
    ok(target.request("PUT", f"/b/{bin_id}", {"v": 1}, {"X-Bin-Versioning": "true"}))
    reply = ok(target.request("DELETE", f"/b/{bin_id}"))
    assert reply.body == {"metadata": {"id": bin_id, "versionsDeleted": 1}, "message": "Bin deleted successfully"}
    gone = target.request("GET", f"/b/{bin_id}")
    assert (gone.status, gone.message) == (404, NOT_FOUND)


def test_public_bins_and_other_accounts(target: Target) -> None:
    public = target.new_bin({"open": True}, **{"X-Bin-Private": "false"})
    assert ok(target.request("GET", f"/b/{public}", key=False)).body["record"] == {"open": True}
    private = target.new_bin({"closed": True})
    keyless = target.request("GET", f"/b/{private}", key=False)
    assert (keyless.status, keyless.message) == (401, "You need to pass X-Master-Key in the header")
    wrong = target.request("GET", f"/b/{private}", key="not-a-key-" + uuid.uuid4().hex)
    assert (wrong.status, wrong.message) == (401, "Invalid X-Master-Key provided")


@pytest.mark.parametrize(
    ("method", "path", "body", "headers", "status", "message"),
    [
        ("GET", "/nope", None, {}, 404, "Route not found"),
        ("PATCH", "/b/0123456789abcdef01234567", None, {}, 405, "Method not allowed"),
        ("GET", "/b/not-an-id", None, {}, 400, "Invalid Bin Id provided"),
        (
            "POST",
            "/b",
            b'{"a": 1}',
            {"Content-Type": "text/plain"},
            400,
            "You need to pass Content-Type set to application/json",
        ),
        ("POST", "/b", {}, {}, 400, "Bin cannot be blank"),
        ("POST", "/b", b"{not json", {}, 400, "Invalid JSON body"),
        ("GET", "/b/0123456789abcdef01234567", None, {}, 404, NOT_FOUND),
    ],
    ids=["unknown-route", "wrong-method", "bad-id", "content-type", "blank", "bad-json", "missing-bin"],
)
def test_error_messages(
    target: Target, method: str, path: str, body: object, headers: dict[str, str], status: int, message: str
) -> None:
    all_headers = {"Content-Type": "application/json", **headers} if isinstance(body, bytes) else headers
    reply = target.request(method, path, body, {**all_headers, **ORIGIN})
    assert (reply.status, reply.body) == (status, {"message": message})
    assert reply.headers.get("access-control-allow-origin") == "*"


def test_too_large_a_record_is_413(target: Target) -> None:
    # above the largest MAX_BIN_BYTES a deployment can set (6,225,920), below API Gateway's 10 MB
    reply = target.request("POST", "/b", {"big": "x" * 6_300_000})
    assert reply.status == 413
    assert reply.message.startswith("Bin size exceeds the limit of ")


def test_missing_key_is_401(target: Target) -> None:
    reply = target.request("POST", "/b", {"a": 1}, key=False)
    assert (reply.status, reply.message) == (401, "You need to pass X-Master-Key in the header")


def test_cors_on_answers_preflights_and_the_gateways_own_errors(target: Target) -> None:
    bin_id = target.new_bin({"cors": True})
    reply = ok(target.request("GET", f"/b/{bin_id}", headers=ORIGIN))
    assert reply.headers["access-control-allow-origin"] == "*"
    exposed = {h.strip().lower() for h in reply.headers["access-control-expose-headers"].split(",")}
    assert {"etag", "retry-after"} <= exposed
    preflight = target.request(
        "OPTIONS",
        f"/b/{bin_id}",
        headers={**ORIGIN, "Access-Control-Request-Method": "PUT", "Access-Control-Request-Headers": "x-master-key"},
        key=False,
    )
    assert preflight.status in (200, 204)
    assert preflight.headers["access-control-allow-origin"] == "*"
    assert "x-master-key" in preflight.headers["access-control-allow-headers"].lower()
    # an answer API Gateway (or the local server standing in for it) gives by itself
    outside = target.request("GET", "", headers=ORIGIN, url=target.outside_the_stage())
    assert 400 <= outside.status < 500
    assert isinstance(outside.message, str)
    assert outside.headers.get("access-control-allow-origin") == "*"
    exposed = {h.strip().lower() for h in outside.headers.get("access-control-expose-headers", "").split(",")}
    assert {"etag", "retry-after"} <= exposed


E2E_KEY_NAME = "binvault e2e reader"
# Names this suite gave its access keys: a run cut off before its cleanup left one behind.
E2E_KEY_NAMES = {E2E_KEY_NAME, "e2e reader"}


@contextmanager
def _read_only_key(target: Target) -> Iterator[Reply]:
    """A read-only access key of the target's account, deleted afterwards whatever happens;
    first, the keys earlier runs of this suite left (a run killed before its cleanup), so an
    account the suite ran against many times never reaches MAX_ACCESS_KEYS through it."""
    for left in target.request("GET", "/a").body:
        if left["metadata"]["name"] in E2E_KEY_NAMES:
            target.request("DELETE", f"/a/{left['accessKeyId']}")
    made = target.request("POST", "/a", {"bins": {"read": True}}, {"X-Key-Name": E2E_KEY_NAME})
    try:
        yield made
    finally:
        if made.status == 200:
            target.request("DELETE", f"/a/{made.body['accessKeyId']}")


@pytest.fixture
def read_only_key(target: Target) -> Iterator[Reply]:
    with _read_only_key(target) as made:
        yield made


def test_access_keys_json_path_and_the_meta_routes(target: Target, read_only_key: Reply) -> None:
    """Issue 14 against any target: a read-only access key, X-JSON-Path, a rename, revocation."""
    bin_id = target.new_bin({"users": [{"name": "Ada", "age": 36}, {"name": "Alan", "age": 41}]})
    made = read_only_key
    if made.status == 400:  # the account's own keys fill it: the limit answers as the contract says
        assert made.message.startswith("You can create up to ") and made.message.endswith(" Access Keys")
        names = target.request("GET", f"/b/{bin_id}", headers={"X-JSON-Path": "$.users[?(@.age > 40)].name"})
        assert (names.status, names.body["record"]) == (200, ["Alan"])
        return
    assert made.status == 200, made.raw
    reader = {"X-Access-Key": made.body["accessKey"]}
    # the access key reads, with a JSON path too, and may not write
    names = target.request(
        "GET", f"/b/{bin_id}", headers={**reader, "X-JSON-Path": "$.users[?(@.age > 40)].name"}, key=None
    )
    assert (names.status, names.body["record"]) == (200, ["Alan"])
    refused = target.request("PUT", f"/b/{bin_id}", {"x": 1}, reader, key=None)
    assert (refused.status, refused.message) == (403, "X-Access-Key does not have the permission to update bins")
    # the list masks it
    listed = [k for k in target.request("GET", "/a").body if k["accessKeyId"] == made.body["accessKeyId"]]
    assert [k["accessKey"] for k in listed] == ["********" + made.body["accessKey"][-4:]]
    # the meta routes: master key only, no version
    renamed = target.request("PUT", f"/b/{bin_id}/meta/name", {}, {"X-Bin-Name": "e2e renamed"})
    assert renamed.body == {"record": bin_id, "metadata": {"name": "e2e renamed"}}
    assert target.request("GET", f"/b/{bin_id}/versions/count").body["metadata"]["versionCount"] == 0
    deleted = target.request("DELETE", f"/a/{made.body['accessKeyId']}")
    assert deleted.body["message"] == "Access Key deleted successfully"
    gone = target.request("GET", f"/b/{bin_id}", headers=reader, key=None)
    assert (gone.status, gone.message) == (401, "Invalid X-Access-Key provided")


def test_the_suite_reclaims_the_access_keys_an_interrupted_run_left(target: Target) -> None:
    """An account already at MAX_ACCESS_KEYS through earlier, interrupted runs of this suite
    gets its slots back (the read_only_key fixture), and nothing the suite made stays."""
    left: list[str] = []
    while (made := target.request("POST", "/a", {"bins": {"read": True}}, {"X-Key-Name": "e2e reader"})).status == 200:
        left.append(made.body["accessKeyId"])  # as a run killed before its cleanup leaves them
    assert made.status == 400, made.raw  # full now
    with _read_only_key(target) as reclaimed:
        if not left:  # the account's own keys fill it: nothing of the suite's to reclaim
            assert reclaimed.status == 400
            return
        assert reclaimed.status == 200, reclaimed.raw
        assert not {k["accessKeyId"] for k in target.request("GET", "/a").body} & set(left)
    assert reclaimed.body["accessKeyId"] not in {k["accessKeyId"] for k in target.request("GET", "/a").body}
