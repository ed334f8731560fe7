"""Crashes around S3 (issue 16): after the S3 put, after the DynamoDB write, in the middle of
the purge, and lost responses. Each ends in the old state or the new one, never a readable
half-state, and what a crash leaves behind is removed (by the purge's retry or the sweep).

A crash is the Lambda process dying right after (or before) a call: an exception from a
botocore hook, which the handler answers 500 and which stops the request where it is.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.api.test_large_records import big_record, items_by_sk, objects, pointed
from tests.conftest import Api, bin_items
from tests.support.faults import crashing, injected_on, lose_response

SIZE = 150_000  # stored far above INLINE_MAX_BYTES: in S3


class Crash(Exception):
    """The process died at that point (the handler answers 500, as Lambda's runtime would
    report an error; the purge's stream record fails and is retried)."""


def crash_on(client: Any, event: str, number: int = 1) -> Any:
    """Crash at the ``number``-th ``event`` (e.g. ``before-call.dynamodb.TransactWriteItems``)
    of the request's own calls (not its quota charge's)."""
    return crashing(client, event, Crash(event), number)


def send(call: Any) -> Any:
    try:
        return call()
    except Crash:
        return None


@pytest.fixture
def s3(ddb: Any) -> Any:
    from binvault.dal.blobs import s3

    return s3()


def swept_after_grace() -> dict[str, int]:
    from binvault.dal.purge import sweep_orphans

    return sweep_orphans(grace_seconds=3600, now=datetime.now(UTC) + timedelta(hours=2))


WRITES = {
    "create": lambda api, bin_id: api.create(big_record(SIZE, 9)),
    "versioned": lambda api, bin_id: api.update(bin_id, big_record(SIZE, 9)),
    "in-place-base": lambda api, bin_id: api.update(bin_id, big_record(SIZE, 9), versioning=False),
}


@pytest.mark.parametrize("write", sorted(WRITES))
def test_a_crash_after_the_s3_put_leaves_the_old_state_and_an_orphan_the_sweep_removes(
    api: Api, ddb: Any, s3: Any, purge: Any, write: str
) -> None:
    # Given a bin with a large record
    bin_id = api.create(big_record(SIZE, 1)).body["metadata"]["id"]
    before = sorted(bin_items(ddb), key=lambda i: i["sk"]["S"])
    # When the write's S3 put lands and the process dies before its DynamoDB write
    # (a large record's write is a transaction: the base item and the record's own item)
    with crash_on(ddb, "before-call.dynamodb.TransactWriteItems") as crashed:
        reply = WRITES[write](api, bin_id)
    assert crashed and (reply is None or reply.status == 500)
    # Then nothing readable changed: the old record, no version, the same items
    assert sorted(bin_items(ddb), key=lambda i: i["sk"]["S"]) == before
    assert api("GET", f"/b/{bin_id}/latest").body["record"] == big_record(SIZE, 1)
    # and the object nothing points to is an orphan, which the sweep removes after its grace
    assert len(objects(s3) - pointed(ddb)) == 1
    purge.drain()
    assert swept_after_grace()["deleted"] == 1
    assert objects(s3) == pointed(ddb)
    assert api("GET", f"/b/{bin_id}").body["record"] == big_record(SIZE, 1)


@pytest.mark.parametrize("write", sorted(WRITES))
def test_a_crash_after_the_dynamodb_write_leaves_the_new_state_and_no_orphan(
    api: Api, ddb: Any, s3: Any, purge: Any, write: str
) -> None:
    bin_id = api.create(big_record(SIZE, 1)).body["metadata"]["id"]
    # When the process dies right after the DynamoDB write returned (the client saw no answer)
    with crash_on(ddb, "after-call.dynamodb.TransactWriteItems") as crashed:
        WRITES[write](api, bin_id)
    assert crashed
    purge.drain()
    # Then the new record is readable and every object is pointed to
    if write == "create":
        created = [i for i in bin_items(ddb) if i["sk"]["S"] == "BIN" and i["pk"]["S"] != f"BIN#{bin_id}"]
        assert len(created) == 1
        new_id = created[0]["pk"]["S"].removeprefix("BIN#")
        assert api("GET", f"/b/{new_id}").body["record"] == big_record(SIZE, 9)
    else:
        assert api("GET", f"/b/{bin_id}/latest").body["record"] == big_record(SIZE, 9)
    assert objects(s3) == pointed(ddb)
    assert swept_after_grace()["deleted"] == 0


@pytest.mark.parametrize("write", sorted(WRITES))
def test_a_lost_response_stores_one_object_and_one_record(api: Api, ddb: Any, s3: Any, purge: Any, write: str) -> None:
    bin_id = api.create(big_record(SIZE, 1)).body["metadata"]["id"]
    calls_before = len(objects(s3))
    # When the DynamoDB write is applied and its response lost (botocore sends it again)
    with injected_on(ddb) as faults:
        fault = lose_response(faults, 1)  # write call 0 is the quota charge
        reply = WRITES[write](api, bin_id)
    assert fault.injected == 1 and reply.status == 200
    purge.drain()
    # Then exactly one new object exists, pointed to, and one record was written (an in-place
    # update's purge removed the object it replaced)
    assert len(objects(s3)) == calls_before + (0 if write == "in-place-base" else 1)
    assert objects(s3) == pointed(ddb)
    if write == "versioned":
        assert api("GET", f"/b/{bin_id}/versions/count").body["metadata"]["versionCount"] == 1
    assert swept_after_grace()["deleted"] == 0


@pytest.mark.parametrize("preserve", [True, False])
@pytest.mark.parametrize("crash_after", [1, 2, 3, 4])
def test_delete_versions_crash_after_any_call_at_large_records(
    api: Api, ddb: Any, s3: Any, purge: Any, preserve: bool, crash_after: int
) -> None:
    # Given a bin with a large base record and 3 large versions
    bin_id = api.create(big_record(SIZE, 0)).body["metadata"]["id"]
    for n in range(1, 4):
        api.update(bin_id, big_record(SIZE, n))
    headers = {"X-Preserve-Latest": "true" if preserve else "false"}
    # When the delete crashes right after its n-th DynamoDB call
    with crash_on(ddb, "after-call.dynamodb", crash_after):
        send(lambda: api("DELETE", f"/b/{bin_id}/versions", headers=headers))
    # Then it is the old state or the new one
    count = api("GET", f"/b/{bin_id}/versions/count").body["metadata"]["versionCount"]
    base = api("GET", f"/b/{bin_id}").body["record"]
    if count == 3:
        assert base == big_record(SIZE, 0)
        assert api("GET", f"/b/{bin_id}/2").body["record"] == big_record(SIZE, 2)
    else:
        assert count == 0
        assert base == (big_record(SIZE, 3) if preserve else big_record(SIZE, 0))
    # And after a retry and the purge, exactly what the base points to is left
    api("DELETE", f"/b/{bin_id}/versions", headers=headers)
    purge.drain()
    assert objects(s3) == pointed(ddb) and len(objects(s3)) == 1
    assert api("GET", f"/b/{bin_id}").body["record"] == (big_record(SIZE, 3) if preserve else big_record(SIZE, 0))
    assert purge.dead_letters == []


@pytest.mark.parametrize(
    "event",
    [
        "after-call.s3.DeleteObjects",  # objects gone, their items not yet
        "before-call.s3.DeleteObjects",
        "after-call.dynamodb.BatchWriteItem",
        "after-call.dynamodb.Query",
    ],
)
@pytest.mark.parametrize("what", ["cut-over", "preserve", "bin-delete", "in-place"])
def test_a_crash_mid_purge_is_retried_until_nothing_is_left(
    api: Api, ddb: Any, s3: Any, purge: Any, event: str, what: str
) -> None:
    from binvault.dal.blobs import s3 as s3_client

    # Given a bin with large records, and a write that gives the purge work
    bin_id = api.create(big_record(SIZE, 0)).body["metadata"]["id"]
    for n in range(1, 4 if what != "in-place" else 1):
        api.update(bin_id, big_record(SIZE, n))
    expected: Any = None
    if what == "cut-over":
        api("DELETE", f"/b/{bin_id}/versions")
        expected = big_record(SIZE, 0)
    elif what == "preserve":
        api("DELETE", f"/b/{bin_id}/versions", headers={"X-Preserve-Latest": "true"})
        expected = big_record(SIZE, 3)
    elif what == "bin-delete":
        api("DELETE", f"/b/{bin_id}")
    else:  # the base record replaced in place: its record item and object are dropped
        api.update(bin_id, big_record(SIZE, 7), versioning=False)
        expected = big_record(SIZE, 7)
    # When the purge crashes at that point (the stream delivery fails and is retried)
    client = s3_client() if ".s3." in event else ddb
    with crash_on(client, event) as crashed:
        purge.poll_once()
    assert crashed
    # Then reads still answer the new state while the retry is pending
    if expected is not None:
        assert api("GET", f"/b/{bin_id}").body["record"] == expected
    purge.drain()
    # And once retried, nothing is left but what the base points to
    assert objects(s3) == pointed(ddb)
    if what == "bin-delete":
        assert items_by_sk(ddb, bin_id) == {} and objects(s3) == set()
    else:
        assert api("GET", f"/b/{bin_id}").body["record"] == expected
    assert purge.dead_letters == []
