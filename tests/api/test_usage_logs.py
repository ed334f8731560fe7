"""Usage logs (GET /l, GET /l/{date}): the API's usage lines, shipped as the local stack
ships them (binvault.local.usage_logs: the same subscription events, the same handler) to
S3 on moto, read back through the routes. Nothing on the request path touches S3; the
lines hold who called what and never a key; an account sees only its own days; a failed
batch write is retried and nothing is lost or written twice."""

from __future__ import annotations

import base64
import gzip
import io
import json
import logging
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from binvault.logic import usage_logs
from tests.conftest import Account, Api, make_account

TODAY = datetime.now(UTC).strftime("%d-%m-%Y")
FIELDS = {"time", "method", "route", "status", "ip", "userAgent", "key", "requestId", "accountId"}


@pytest.fixture
def s3(ddb: Any) -> Any:
    from binvault.dal import blobs

    blobs.ensure_bucket()
    return blobs.s3()


@pytest.fixture
def shipper(s3: Any) -> Iterator[Any]:
    """The local stack's shipper, taking the in-process handler's usage lines (restored after)."""
    from binvault.handlers import api
    from binvault.local.usage_logs import LineFeed, Shipper

    shipping = Shipper()
    (handler,) = [h for h in api.usage_log.handlers if isinstance(h, logging.StreamHandler)]
    before = handler.setStream(LineFeed(shipping))
    try:
        yield shipping
    finally:
        handler.setStream(before)


def objects(s3: Any, prefix: str = "logs/") -> dict[str, bytes]:
    from binvault.dal import blobs

    return {key: gzip.decompress(blobs.get(key) or b"") for key, _ in blobs.listing(prefix)}


def day_lines(reply: Any) -> list[dict[str, Any]]:
    assert reply.status == 200, reply.raw
    assert reply.headers["content-type"] == "application/zip"
    assert reply.headers["content-disposition"] == f'attachment; filename="{TODAY}.zip"'
    with zipfile.ZipFile(io.BytesIO(base64.b64decode(reply.raw))) as archive:
        assert archive.namelist() == [f"{TODAY}.jsonl"]
        return [json.loads(line) for line in archive.read(f"{TODAY}.jsonl").decode().splitlines()]


def remaining(ddb: Any, account: Account) -> int:
    from tests.support.quota import requests_left

    return requests_left(ddb, account.id)


def test_requests_show_up_in_the_list_and_the_day_zip_with_their_fields_and_no_secret(
    api: Api, account: Account, shipper: Any, s3: Any
) -> None:
    # Given requests of every kind: a create, a read, a refused access key, an unknown bin
    created = api.create({"v": 1}, User_Agent="client/1.0").body["metadata"]["id"]
    assert api("GET", f"/b/{created}", headers={"User-Agent": "client/1.0"}).status == 200
    access = api("POST", "/a", headers={"X-Key-Name": "reader"}, body={"bins": {"read": True}}).body
    refused = api("PUT", f"/b/{created}", body={"v": 2}, key=False, headers={"X-Access-Key": access["accessKey"]})
    assert refused.status == 403
    assert api("GET", "/b/0123456789abcdef01234567").status == 404
    assert api("GET", "/b/0123456789abcdef01234567", key="not-a-key").status == 401  # no account: no line
    # When the shipper delivers them (the local stack does every second)
    assert shipper.flush() == 5
    # Then the day is listed, and its zip holds one line per request, oldest first
    assert api("GET", "/l").body == {"logs": [TODAY]}
    lines = day_lines(api("GET", f"/l/{TODAY}"))
    # (GET /l just made is logged too; it ships with the next batch)
    assert [(line["method"], line["route"], line["status"]) for line in lines] == [
        ("POST", "/b", 200),
        ("GET", "/b/{binId}", 200),
        ("POST", "/a", 200),
        ("PUT", "/b/{binId}", 403),
        ("GET", "/b/{binId}", 404),
    ]
    assert all(set(line) >= FIELDS for line in lines)
    assert {line["accountId"] for line in lines} == {account.id}
    assert lines[0]["binId"] == created and lines[1]["binId"] == created
    assert lines[0]["userAgent"] == "client/1.0"
    assert lines[0]["ip"] == "127.0.0.1"
    assert [line["key"] for line in lines] == ["master", "master", "master", access["accessKeyId"], "master"]
    assert lines == sorted(lines, key=lambda line: line["time"])
    # and no key, nor any key's hash, is in any stored object
    from binvault.logic.auth import hash_key

    stored = b"".join(objects(s3).values()).decode()
    for secret in (account.key, access["accessKey"]):
        assert secret not in stored and hash_key(secret) not in stored


def test_a_day_without_logs_and_an_account_without_any(api: Api, account: Account, shipper: Any) -> None:
    # Given an account with no logs yet
    assert api("GET", "/l").status == 404
    assert api("GET", "/l").body == {"message": "No logs found"}
    shipper.flush()
    # When it has some today / Then another day still answers JSONBin's 404
    assert api("GET", "/l").status == 200
    reply = api("GET", "/l/01-01-1969")
    assert (reply.status, reply.body) == (404, {"message": "Backup not found for 01-01-1969"})


@pytest.mark.parametrize(
    "date",
    [
        "2026-12-03",
        "31-02-2026",
        "3-12-2026",
        "03-12-26",
        "today",
        "03-13-2026",
        "\u0660\u0661-\u0660\u0661-\u0662\u0660\u0662\u0666",
        "00-00-0000",
    ],
)
def test_a_malformed_date_is_refused_before_any_charge(api: Api, account: Account, ddb: Any, date: str) -> None:
    before = remaining(ddb, account)
    reply = api("GET", f"/l/{date}")
    assert (reply.status, reply.body) == (400, {"message": "Invalid date: use DD-MM-YYYY, e.g. 31-12-2026"})
    assert remaining(ddb, account) == before


def test_listing_and_downloading_are_charged_like_other_requests(
    api: Api, account: Account, ddb: Any, shipper: Any
) -> None:
    api.create({"v": 1})
    shipper.flush()
    before = remaining(ddb, account)
    assert api("GET", "/l").status == 200
    assert api("GET", f"/l/{TODAY}").status == 200
    assert remaining(ddb, account) == before - 2


def test_master_key_only(api: Api, account: Account, shipper: Any) -> None:
    api.create({"v": 1})
    shipper.flush()
    key = api("POST", "/a", headers={"X-Key-Name": "all"}, body={"bins": dict.fromkeys(("read", "create"), True)})
    headers = {"X-Access-Key": key.body["accessKey"]}
    assert api("GET", "/l", key=False, headers=headers).status == 401
    assert api("GET", f"/l/{TODAY}", key=False, headers=headers).status == 401
    assert api("GET", "/l", key=False).body == {"message": "You need to pass X-Master-Key in the header"}


def test_another_accounts_logs_are_unreachable(api: Api, account: Account, shipper: Any) -> None:
    # Given the account has logs today and another account has none
    api.create({"secret": "mine"})
    shipper.flush()
    other = make_account()
    theirs = Api(other.key)
    # Then the other account lists no day and cannot download this one's
    assert theirs("GET", "/l").status == 404
    assert theirs("GET", f"/l/{TODAY}").body == {"message": f"Backup not found for {TODAY}"}
    # and once it has its own, it sees only its own lines
    theirs.create({"v": 1})
    shipper.flush()
    lines = day_lines(theirs("GET", f"/l/{TODAY}"))
    assert {line["accountId"] for line in lines} == {other.id}
    assert all(line["accountId"] == account.id for line in day_lines(api("GET", f"/l/{TODAY}")))


def test_nothing_on_the_request_path_touches_s3(api: Api, shipper: Any, s3: Any) -> None:
    calls: list[str] = []
    s3.meta.events.register("before-call.s3", lambda model, **_: calls.append(model.name))
    bin_id = api.create({"v": 1}).body["metadata"]["id"]
    api.update(bin_id, {"v": 2})
    api("GET", f"/b/{bin_id}/latest")
    api("DELETE", f"/b/{bin_id}")
    assert calls == []
    assert shipper.flush() == 4
    assert calls == ["PutObject"]  # one batch: one account, one day


def test_a_failed_batch_write_is_retried_and_nothing_is_lost_or_written_twice(
    api: Api, account: Account, shipper: Any, s3: Any
) -> None:
    from botocore.exceptions import EndpointConnectionError, ReadTimeoutError

    other = Api(make_account().key)
    for n in range(3):
        api.create({"n": n})
        other.create({"n": n})
    faults = {"before": 1, "after": 1}

    def before_put(**_: Any) -> None:  # the first put never arrives
        if faults["before"]:
            faults["before"] -= 1
            raise EndpointConnectionError(endpoint_url="https://s3.amazonaws.com")

    def after_put(**_: Any) -> None:  # a later put lands, and its answer is lost
        if not faults["before"] and faults["after"]:
            faults["after"] -= 1
            raise ReadTimeoutError(endpoint_url="https://s3.amazonaws.com")

    s3.meta.events.register("before-call.s3.PutObject", before_put)
    s3.meta.events.register("after-call.s3.PutObject", after_put)
    # When the shipper delivers: the first attempt fails at once
    assert shipper.flush() == 0
    assert objects(s3) == {}
    # the second writes the first account's batch and loses the answer
    assert shipper.flush() == 0
    assert len(objects(s3)) == 1
    # the third (the last Lambda would make) writes both, the first one again
    assert shipper.flush() == 6
    assert shipper.dead_letters == [] and shipper.idle()
    # Then every request is there exactly once
    stored = objects(s3)
    assert len(stored) == 2
    lines = [json.loads(line) for body in stored.values() for line in body.decode().splitlines()]
    assert len(lines) == 6 == len({line["requestId"] for line in lines})


def test_a_batch_failing_every_attempt_is_dead_lettered(api: Api, shipper: Any, s3: Any) -> None:
    from botocore.exceptions import EndpointConnectionError

    api.create({"v": 1})

    def unreachable(**_: Any) -> None:
        raise EndpointConnectionError(endpoint_url="https://s3.amazonaws.com")

    s3.meta.events.register("before-call.s3.PutObject", unreachable)
    for _ in range(3):
        assert shipper.flush() == 0
    assert len(shipper.dead_letters) == 1 and shipper.idle()
    # the dead letter is the event as it was: redriven, it is stored
    s3.meta.events.unregister("before-call.s3.PutObject", unreachable)
    from binvault.handlers.usage_logs import lambda_handler
    from binvault.local.events import LocalContext

    assert len(lambda_handler(shipper.dead_letters[0], LocalContext())["objects"]) == 1
    assert len(objects(s3)) == 1


def test_ips_are_truncated_when_the_setting_says_so(api: Api, shipper: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from binvault.handlers.api import lambda_handler
    from binvault.local.events import LocalContext, rest_event
    from binvault.models.settings import get_settings

    monkeypatch.setenv("USAGE_LOG_TRUNCATE_IP", "true")
    get_settings.cache_clear()
    for ip in ("203.0.113.77", "2001:db8:85a3:8d3:1319:8a2e:370:7348"):
        event = rest_event("GET", "/l", [("X-Master-Key", api.key or "")], source_ip=ip)
        lambda_handler(event, LocalContext())
    shipper.flush()
    assert [line["ip"] for line in day_lines(api("GET", f"/l/{TODAY}"))][:2] == ["203.0.113.0", "2001:db8:85a3::"]


def test_truncate_ip() -> None:
    assert usage_logs.truncate_ip("198.51.100.255") == "198.51.100.0"
    assert usage_logs.truncate_ip("::1") == "::"
    assert usage_logs.truncate_ip("not an ip") == ""


def test_a_day_too_big_to_answer_is_a_presigned_url(
    api: Api, account: Account, shipper: Any, s3: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import urllib.parse

    api.create({"v": 1})
    shipper.flush()
    monkeypatch.setattr(usage_logs, "INLINE_ZIP_BYTES", 10)
    reply = api("GET", f"/l/{TODAY}")
    assert reply.status == 200 and reply.headers["content-type"].startswith("application/json")
    assert reply.body["expiresInSeconds"] == usage_logs.PRESIGNED_URL_SECONDS
    url = urllib.parse.urlsplit(reply.body["url"])
    query = urllib.parse.parse_qs(url.query)
    assert query["X-Amz-Expires"] == [str(usage_logs.PRESIGNED_URL_SECONDS)]
    assert url.path.endswith(".zip") and f"/exports/{account.id}/" in url.path
    # the object it points to is the day's zip
    (key,) = [k for k in objects_keys(s3, "exports/")]
    from binvault.dal import blobs

    with zipfile.ZipFile(io.BytesIO(blobs.get(key) or b"")) as archive:
        assert archive.namelist() == [f"{TODAY}.jsonl"]


def objects_keys(s3: Any, prefix: str) -> list[str]:
    from binvault.dal import blobs

    return [key for key, _ in blobs.listing(prefix)]


def test_subscription_noise_is_skipped_never_an_error(s3: Any) -> None:
    """A control message, a line that is not a usage line, a forged account id: nothing written."""
    from binvault.handlers.usage_logs import lambda_handler
    from binvault.local.events import LocalContext

    control = {"messageType": "CONTROL_MESSAGE", "logEvents": [{"id": "1", "timestamp": 0, "message": "CWL CONTROL"}]}
    forged = json.dumps({"message": "usage", "usage": {"accountId": "../other", "time": "2026-12-03T00:00:00Z"}})
    noise = {
        "messageType": "DATA_MESSAGE",
        "logEvents": [
            {"id": "2", "timestamp": 0, "message": "START RequestId: x Version: $LATEST"},
            {"id": "3", "timestamp": 0, "message": '{"message": "request refused", "status": 404}'},
            {"id": "4", "timestamp": 0, "message": forged},
        ],
    }
    for data in (control, noise):
        assert lambda_handler(usage_logs.encode_subscription_event(data), LocalContext()) == {"objects": []}
    assert objects(s3) == {}


def test_a_quota_refusal_is_logged_against_the_account(ddb: Any, shipper: Any) -> None:
    # Given an account with one request left
    poor = make_account(requests=1)
    client = Api(poor.key)
    assert client.create({"v": 1}).status == 200
    # When its next request is refused for the quota
    assert client("GET", "/b/0123456789abcdef01234567").status == 403
    shipper.flush()
    # Then the refusal is in its log (the listing itself is refused too: the quota is spent)
    from binvault.dal import usage_logs as stored

    (body,) = [gzip.decompress(b) for b in stored.batches(poor.id, datetime.now(UTC).date().isoformat())]
    lines = [json.loads(line) for line in body.decode().splitlines()]
    assert [(line["route"], line["status"]) for line in lines] == [("/b", 200), ("/b/{binId}", 403)]
    assert client("GET", "/l").status == 403
