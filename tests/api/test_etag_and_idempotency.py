"""ETag / If-Match (lost updates) and Idempotency-Key (duplicate creates) - beyond JSONBin."""

from __future__ import annotations

import json
import random
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from binvault.exceptions import BinvaultError, PreconditionFailed
from binvault.logic import bins, versions
from tests.conftest import IDEMPOTENCY_TABLE, Account, Api, add_versions, bin_items, make_account
from tests.support.faults import crashing

JSON = {"Content-Type": "application/json"}


def etag(api: Api, bin_id: str) -> str:
    return api("GET", f"/b/{bin_id}").headers["etag"]


def test_every_bin_response_carries_the_current_etag(api: Api) -> None:
    created = api.create({"a": 1})
    bin_id = created.body["metadata"]["id"]
    tags = [created.headers["etag"]]
    assert api("GET", f"/b/{bin_id}").headers["etag"] == tags[-1]
    assert api("GET", f"/b/{bin_id}/versions/count").headers["etag"] == tags[-1]
    tags.append(api.update(bin_id, {"a": 2}).headers["etag"])
    tags.append(api.update(bin_id, {"a": 3}, versioning=False).headers["etag"])
    assert api("GET", f"/b/{bin_id}/latest").headers["etag"] == tags[-1]
    tags.append(api("DELETE", f"/b/{bin_id}/versions").headers["etag"])
    assert api("GET", f"/b/{bin_id}").headers["etag"] == tags[-1]
    # every write changed it; every tag is quoted as RFC 9110 requires
    assert len(set(tags)) == len(tags)
    assert all(t.startswith('"') and t.endswith('"') for t in tags)


def test_if_match_current_tag_succeeds_and_stale_is_412(api: Api, new_bin: str, ddb: Any) -> None:
    current = etag(api, new_bin)
    ok = api.update(new_bin, {"v": 1}, If_Match=current)
    assert ok.status == 200
    before = bin_items(ddb)
    stale = api.update(new_bin, {"v": 2}, If_Match=current)
    assert (stale.status, stale.body) == (412, {"message": "Precondition Failed"})
    assert api("DELETE", f"/b/{new_bin}/versions", headers={"If-Match": current}).status == 412
    assert api("DELETE", f"/b/{new_bin}", headers={"If-Match": current}).status == 412
    assert bin_items(ddb) == before


def test_if_match_star_means_exists_and_lists_are_accepted(api: Api, new_bin: str) -> None:
    current = etag(api, new_bin)
    assert api.update(new_bin, {"v": 1}, If_Match="*").status == 200
    newer = etag(api, new_bin)
    assert api.update(new_bin, {"v": 2}, If_Match=f'"nope", {newer}').status == 200
    assert api.update(new_bin, {"v": 3}, If_Match=current).status == 412
    assert api.update("0" * 24, {"v": 1}, If_Match="*").status == 404


def test_without_if_match_behaviour_is_jsonbin_compatible(api: Api, new_bin: str) -> None:
    assert api.update(new_bin, {"v": 1}).status == 200
    assert api.update(new_bin, {"v": 2}).status == 200


def _status(call: Any) -> int:
    """200, or the status of the domain error a use case raised."""
    try:
        call()
    except BinvaultError as error:
        return error.status
    return 200


def test_lost_update_is_impossible_with_if_match(api: Api, account: Account, new_bin: str) -> None:
    # Given eight writers (each its own execution environment) that read the same state
    seen = [etag(api, new_bin)]
    barrier = threading.Barrier(8, timeout=30)

    def write(n: int) -> int:
        barrier.wait()
        return _status(lambda: bins.update_bin(account.key, new_bin, {"writer": n}, False, seen))

    # When they all write with that ETag at once
    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(write, range(8)))
    # Then exactly one wins and every other gets 412
    assert sorted(statuses) == [200] + [412] * 7
    winner = statuses.index(200)
    assert api("GET", f"/b/{new_bin}").body["record"] == {"writer": winner}


def test_if_match_on_delete_versions_racing_an_update(api: Api, account: Account, new_bin: str) -> None:
    add_versions(api, new_bin, 3)
    seen = [etag(api, new_bin)]
    barrier = threading.Barrier(2, timeout=30)

    def delete() -> Any:
        barrier.wait()
        try:
            return versions.delete_versions(account.key, new_bin, True, seen)
        except PreconditionFailed:
            return None

    def update() -> Any:
        barrier.wait()
        return bins.update_bin(account.key, new_bin, {"v": "racer"}, True, None)

    with ThreadPoolExecutor(2) as pool:
        deleting, updating = pool.submit(delete), pool.submit(update)
        deleted, updated = deleting.result(timeout=60), updating.result(timeout=60)
    count = api("GET", f"/b/{new_bin}/versions/count").body["metadata"]["versionCount"]
    if deleted is not None:
        # the delete won: the update is version 1 of the new series
        assert deleted.body["metadata"]["versionsDeleted"] == 3
        assert updated.body["metadata"]["version"] == 1 and count == 1
    else:
        # the update won: the delete saw a stale tag (412) and changed nothing
        assert updated.body["metadata"]["version"] == 4 and count == 4
    assert api("GET", f"/b/{new_bin}/latest").body["record"] == {"v": "racer"}


def test_idempotent_post_retried_concurrently_creates_one_bin(account: Account, ddb: Any) -> None:
    barrier = threading.Barrier(6, timeout=30)

    def post(_: int) -> Any:
        barrier.wait()
        return bins.create_bin(account.key, {"order": 42}, True, None, idempotency_key="create-1")

    with ThreadPoolExecutor(6) as pool:
        outcomes = list(pool.map(post, range(6)))
    assert len({o.body["metadata"]["id"] for o in outcomes}) == 1
    assert len({o.etag for o in outcomes}) == 1
    assert [i["sk"]["S"] for i in bin_items(ddb)] == ["BIN"]


def test_idempotent_put_replays_and_creates_one_version(api: Api, new_bin: str) -> None:
    first = api.update(new_bin, {"v": 1}, Idempotency_Key="put-1")
    again = api.update(new_bin, {"v": 1}, Idempotency_Key="put-1")
    assert first.body == again.body and first.headers["etag"] == again.headers["etag"]
    assert api("GET", f"/b/{new_bin}/versions/count").body["metadata"]["versionCount"] == 1


def test_same_key_different_body_is_422(api: Api, new_bin: str, ddb: Any) -> None:
    api("POST", "/b", headers={**JSON, "Idempotency-Key": "k"}, body='{"a": 1}')
    before = bin_items(ddb)
    reply = api("POST", "/b", headers={**JSON, "Idempotency-Key": "k"}, body='{"a": 2}')
    assert reply.status == 422
    assert reply.body == {"message": "Idempotency-Key was already used with a different request body"}
    assert api.update(new_bin, {"v": 1}, Idempotency_Key="p").status == 200
    assert api.update(new_bin, {"v": 2}, Idempotency_Key="p").status == 422
    assert len(bin_items(ddb)) == len(before) + 1  # only the one accepted version


def test_keys_are_per_account(api: Api, ddb: Any) -> None:
    other = Api(make_account().key)
    mine = api("POST", "/b", headers={**JSON, "Idempotency-Key": "shared"}, body='{"a": 1}')
    theirs = other("POST", "/b", headers={**JSON, "Idempotency-Key": "shared"}, body='{"a": 1}')
    assert mine.status == theirs.status == 200
    assert mine.body["metadata"]["id"] != theirs.body["metadata"]["id"]


def test_expired_key_executes_again(api: Api, ddb: Any) -> None:
    first = api("POST", "/b", headers={**JSON, "Idempotency-Key": "old"}, body='{"a": 1}')
    # Given the record's TTL has passed (DynamoDB's TTL sweep may lag; expiry is checked on read)
    for item in ddb.scan(TableName=IDEMPOTENCY_TABLE)["Items"]:
        ddb.update_item(
            TableName=IDEMPOTENCY_TABLE,
            Key={"id": item["id"]},
            UpdateExpression="SET expiration = :past",
            ExpressionAttributeValues={":past": {"N": "1"}},
        )
    second = api("POST", "/b", headers={**JSON, "Idempotency-Key": "old"}, body='{"a": 1}')
    assert second.status == 200
    assert second.body["metadata"]["id"] != first.body["metadata"]["id"]


def test_failed_request_is_not_remembered(api: Api) -> None:
    missing = "0" * 24
    assert api.update(missing, {"v": 1}, Idempotency_Key="retry-me").status == 404
    assert api.update(missing, {"v": 1}, Idempotency_Key="retry-me").status == 404


@pytest.mark.parametrize("key", ["", "x" * 256, "naïve", "tab\there"])
def test_malformed_idempotency_key_is_400(api: Api, key: str) -> None:
    reply = api("POST", "/b", headers={**JSON, "Idempotency-Key": key}, body='{"a": 1}')
    assert reply.status == 400
    assert reply.message == "Idempotency-Key must be 1 to 255 printable ASCII characters"


# ---- If-Match sent as several header lines ------------------------------------------------------


def test_repeated_if_match_headers_combine_into_one_list(api: Api, new_bin: str, account: Account, ddb: Any) -> None:
    # RFC 9110: a list-valued header may be split over several lines; the values combine
    current = etag(api, new_bin)
    both = [("If-Match", '"stale"'), ("if-match", current)]
    reply = api("PUT", f"/b/{new_bin}", headers=[*both, ("Content-Type", "application/json")], body='{"v": 1}')
    assert reply.status == 200, reply.raw
    # and when none of them is current, the write is refused and nothing changes
    before = bin_items(ddb)
    stale = [("If-Match", '"stale"'), ("If-Match", current)]
    reply = api("DELETE", f"/b/{new_bin}/versions", headers=stale)
    assert (reply.status, reply.body) == (412, {"message": "Precondition Failed"})
    assert bin_items(ddb) == before


# ---- Idempotency-Key: what is stored, and what a crash or a takeover leaves ----------------------


def _idempotency_items(ddb: Any) -> list[dict[str, Any]]:
    return list(ddb.scan(TableName=IDEMPOTENCY_TABLE, ConsistentRead=True)["Items"])


def test_the_remembered_result_is_small_whatever_the_record(
    monkeypatch: pytest.MonkeyPatch, api: Api, ddb: Any
) -> None:
    """With MAX_BIN_BYTES at the template's maximum, the largest record that does not
    compress (CJK text) is created and versioned with an Idempotency-Key, each answering
    200 once and replaying the same answer."""
    from binvault.local.template_tables import load_template
    from binvault.models.settings import get_settings

    ceiling = int(load_template()["Parameters"]["MaxBinBytes"]["MaxValue"])
    monkeypatch.setenv("MAX_BIN_BYTES", str(ceiling))
    get_settings.cache_clear()
    rng = random.Random(7)
    text = "".join(chr(rng.randrange(0x4E00, 0x9FFF)) for _ in range((ceiling - 9) // 3))
    body = json.dumps({"t": text}, ensure_ascii=False).encode()
    assert ceiling - 3 <= len(body) <= ceiling
    headers = {**JSON, "Idempotency-Key": "big-post"}
    first = api("POST", "/b", headers=headers, body=body)
    assert first.status == 200, first.raw[:200]
    again = api("POST", "/b", headers=headers, body=body)
    assert (again.status, again.raw, again.headers["etag"]) == (200, first.raw, first.headers["etag"])
    bin_id = first.body["metadata"]["id"]
    put_headers = {**JSON, "Idempotency-Key": "big-put", "X-Bin-Versioning": "true"}
    put = api("PUT", f"/b/{bin_id}", headers=put_headers, body=body)
    assert put.status == 200, put.raw[:200]
    replayed = api("PUT", f"/b/{bin_id}", headers=put_headers, body=body)
    assert (replayed.status, replayed.raw) == (200, put.raw)
    assert api("GET", f"/b/{bin_id}/versions/count").body["metadata"]["versionCount"] == 1
    # What the idempotency table keeps is metadata only: a few hundred bytes, never the record
    sizes = [len(json.dumps(item)) for item in _idempotency_items(ddb)]
    assert len(sizes) == 2 and max(sizes) < 1024


def test_a_result_over_the_bound_is_refused_before_anything_is_written() -> None:
    from binvault.dal import idempotency

    held = idempotency.Claim("id", "token", "request", 0)
    with pytest.raises(idempotency.ResultTooLarge):
        held.companions({"metadata": {"name": "x" * idempotency.MAX_RESULT_BYTES}})


class Crash(BaseException):
    """The process dies: nothing after this runs (not even an exception handler)."""


def post_crashing_after(ddb: Any, api: Api, operation: str, idempotency_key: str) -> None:
    """A create with an Idempotency-Key whose process dies right after its ``operation`` call."""

    # after the request's own call, not its quota charge's transaction
    with crashing(ddb, f"after-call.dynamodb.{operation}", Crash()), pytest.raises(Crash):
        api("POST", "/b", headers={**JSON, "Idempotency-Key": idempotency_key}, body='{"a": 1}')


def expire_locks(ddb: Any) -> None:
    for item in _idempotency_items(ddb):
        ddb.update_item(
            TableName=IDEMPOTENCY_TABLE,
            Key={"id": item["id"]},
            UpdateExpression="SET lockedUntil = :past",
            ExpressionAttributeValues={":past": {"N": "1"}},
        )


def test_a_crash_after_the_write_replays_instead_of_writing_again(api: Api, ddb: Any) -> None:
    # Given a create whose process dies right after DynamoDB applied the write
    post_crashing_after(ddb, api, "TransactWriteItems", "crash")
    created = [i for i in bin_items(ddb) if i["sk"]["S"] == "BIN"]
    assert len(created) == 1
    # When the client retries with the same key, at once or after any lock expired
    expire_locks(ddb)
    retry = api("POST", "/b", headers={**JSON, "Idempotency-Key": "crash"}, body='{"a": 1}')
    # Then it learns the bin the first attempt made, and no second bin exists
    assert retry.status == 200
    assert retry.body["metadata"]["id"] == created[0]["pk"]["S"].removeprefix("BIN#")
    assert len([i for i in bin_items(ddb) if i["sk"]["S"] == "BIN"]) == 1


def test_a_crash_before_the_write_lets_the_retry_run_once_the_lock_expires(api: Api, ddb: Any) -> None:
    # Given a create whose process died after taking the key, before writing anything
    post_crashing_after(ddb, api, "PutItem", "early")
    assert bin_items(ddb) == []
    [held] = _idempotency_items(ddb)
    assert held["status"]["S"] == "INPROGRESS"
    # When its lock has expired, a retry takes the key over and creates the bin, once
    expire_locks(ddb)
    first = api("POST", "/b", headers={**JSON, "Idempotency-Key": "early"}, body='{"a": 1}')
    again = api("POST", "/b", headers={**JSON, "Idempotency-Key": "early"}, body='{"a": 1}')
    assert first.status == again.status == 200
    assert first.body == again.body
    assert len([i for i in bin_items(ddb) if i["sk"]["S"] == "BIN"]) == 1


def test_an_attempt_that_lost_its_key_to_a_takeover_cannot_write(api: Api, account: Account, ddb: Any) -> None:
    from binvault.dal import bins as dal_bins
    from binvault.dal import idempotency
    from binvault.exceptions import CompanionConditionFailed
    from binvault.logic.idempotency import fingerprint
    from binvault.models.bins import Bin, StoredRecord

    # Given a slow attempt that holds the key, and whose lock then expires
    record_id = idempotency.record_id(account.id, "POST /b", "slow")
    slow = idempotency.claim(record_id, fingerprint({"a": 1}, True, None), 0, 1, 86_400)
    assert isinstance(slow, idempotency.Claim)
    # When a retry takes the key over and completes
    retry = api("POST", "/b", headers={**JSON, "Idempotency-Key": "slow"}, body='{"a": 1}')
    assert retry.status == 200
    # Then the slow attempt's write is refused as a whole: no second bin
    late = Bin("a" * 24, account.id, True, None, "t", StoredRecord({"S": "{}"}), 0, 0, 1)
    with pytest.raises(CompanionConditionFailed):
        dal_bins.put_new_bin(late, slow.companions({"metadata": {}, "etag": None}))
    assert len([i for i in bin_items(ddb) if i["sk"]["S"] == "BIN"]) == 1
