"""Transient DynamoDB faults: throttling, transaction conflicts, 5xx and lost connections.

moto cannot produce any of them, so ``Faults`` takes the place of moto's botocore hook on
the API's own client: each DynamoDB call either gets an injected fault or goes on to moto.
Faults are injected *below* botocore's retry loop (``before-send``), exactly where the
network would produce them, so what these tests see is what the deployed code would see:
botocore's standard retries absorb short bursts, ``with_fresh_state`` retries transaction
conflicts, and whatever outlasts both becomes ``503`` with ``Retry-After`` - never a 500,
never a half-written bin, never an acknowledged write that is not stored.
"""

from __future__ import annotations

import time
import types
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.conftest import (
    TABLE,
    Account,
    Api,
    add_versions,
    bin_items,
    reset_caches,
    seed_versions,
)
from tests.support.faults import (
    CONFLICT,
    INTERNAL,
    THROTTLED,
    THROTTLING,
    TXN_CONFLICT_SINGLE,
    TXN_THROTTLED,
    Faults,
    injected_on,
    on_bin_write,
    on_quota_shard,
    on_table_item,
    on_version,
)
from tests.support.quota import requests_left

MAX_ATTEMPTS = 3  # DYNAMODB_MAX_ATTEMPTS for these tests: two botocore retries
WRITE_ATTEMPTS = 4  # WRITE_ATTEMPTS: with_fresh_state's tries
UNAVAILABLE = {"message": "Service temporarily unavailable, please retry"}


# ---- the fault injector ---------------------------------------------------------------------


@pytest.fixture
def ddb(moto_world: None, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The module's moto tables, through a client whose retry budget is small (fast tests).

    The key cache is off so that every request looks its key up (a call faults can hit)."""
    from binvault.dal.client import dynamodb

    monkeypatch.setenv("DYNAMODB_MAX_ATTEMPTS", str(MAX_ATTEMPTS))
    monkeypatch.setenv("WRITE_ATTEMPTS", str(WRITE_ATTEMPTS))
    monkeypatch.setenv("KEY_CACHE_SECONDS", "0")
    reset_caches()
    return dynamodb()


@dataclass
class Sleeps:
    botocore: list[float] = field(default_factory=list)  # backoffs botocore asked for
    conflicts: list[float] = field(default_factory=list)  # with_fresh_state's jittered backoffs


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> Sleeps:
    """Records every backoff instead of sleeping it."""
    from botocore.retries import standard

    from binvault.logic import bins

    recorded = Sleeps()
    original = standard.ExponentialBackoff.delay_amount

    def delay_amount(self: Any, context: Any) -> float:
        recorded.botocore.append(original(self, context))
        return 0.0

    monkeypatch.setattr(standard.ExponentialBackoff, "delay_amount", delay_amount)
    shim = types.SimpleNamespace(**{n: getattr(time, n) for n in dir(time) if not n.startswith("_")})
    shim.sleep = recorded.conflicts.append
    monkeypatch.setattr(bins, "time", shim)
    return recorded


@pytest.fixture
def faults(ddb: Any, sleeps: Sleeps, account: Account) -> Iterator[Faults]:
    with injected_on(ddb) as injector:
        yield injector


def remaining(ddb: Any, account: Account) -> int:
    return requests_left(ddb, account.id)  # the sum of the account's quota shards


def versioned_bin(api: Api, versions: int = 2) -> str:
    bin_id = str(api.create({"v": 0}).body["metadata"]["id"])
    add_versions(api, bin_id, versions)
    return bin_id


# ---- the injector itself --------------------------------------------------------------------


def test_injector_replaces_moto_only_on_the_patched_client(faults: Faults, api: Api, new_bin: str) -> None:
    import boto3

    faults.inject("GetItem", response=THROTTLED)
    other = boto3.client("dynamodb")
    # another client still reaches moto ...
    assert other.get_item(TableName=TABLE, Key={"pk": {"S": "x"}, "sk": {"S": "y"}}) is not None
    # ... while the API's client gets the fault on every attempt
    assert api("GET", f"/b/{new_bin}").status == 503


# ---- short bursts are absorbed by botocore's retries -----------------------------------------

FAULTS = {
    "ProvisionedThroughputExceeded": {"response": THROTTLED},
    "ThrottlingException": {"response": THROTTLING},
    "InternalServerError": {"response": INTERNAL},
    "EndpointConnectionError": {"raises": "endpoint"},
    "ConnectionClosedError": {"raises": "closed"},
    "ReadTimeoutError-before-send": {"raises": "read"},
}


@dataclass(frozen=True)
class Route:
    """One request and the DynamoDB call it depends on most."""

    name: str
    operation: str
    when: Callable[[dict[str, Any]], bool]
    send: Callable[[Api, str], Any]
    check: Callable[[Api, str, Any], None]  # proves the acknowledged effect is stored


def _create(api: Api, _: str) -> Any:
    return api("POST", "/b", body={"created": True})


def _check_create(api: Api, _: str, reply: Any) -> None:
    assert api("GET", f"/b/{reply.body['metadata']['id']}").body["record"] == {"created": True}


def _put_versioned(api: Api, bin_id: str) -> Any:
    return api.update(bin_id, {"v": "new"}, versioning=True)


def _check_put_versioned(api: Api, bin_id: str, reply: Any) -> None:
    assert reply.body["metadata"]["version"] == 3
    assert api("GET", f"/b/{bin_id}/versions/count").body["metadata"]["versionCount"] == 3
    assert api("GET", f"/b/{bin_id}/3").body["record"] == {"v": "new"}


def _put_in_place(api: Api, bin_id: str) -> Any:
    return api.update(bin_id, {"v": "replaced"}, versioning=False)


def _check_put_in_place(api: Api, bin_id: str, reply: Any) -> None:
    assert api("GET", f"/b/{bin_id}/latest").body["record"] == {"v": "replaced"}
    assert api("GET", f"/b/{bin_id}/versions/count").body["metadata"]["versionCount"] == 2


def _delete_versions(api: Api, bin_id: str) -> Any:
    return api("DELETE", f"/b/{bin_id}/versions", headers={"X-Preserve-Latest": "true"})


def _check_delete_versions(api: Api, bin_id: str, reply: Any) -> None:
    assert reply.body["metadata"]["versionsDeleted"] == 2
    assert api("GET", f"/b/{bin_id}").body["record"] == {"v": 2}
    assert api("GET", f"/b/{bin_id}/versions/count").body["metadata"]["versionCount"] == 0
    assert api("GET", f"/b/{bin_id}/1").status == 404


def _delete_bin(api: Api, bin_id: str) -> Any:
    return api("DELETE", f"/b/{bin_id}")


def _check_delete_bin(api: Api, bin_id: str, reply: Any) -> None:
    assert reply.body["metadata"] == {"id": bin_id, "versionsDeleted": 2}
    assert api("GET", f"/b/{bin_id}").status == 404


def _read(path: str, expected: Any) -> tuple[Callable[[Api, str], Any], Callable[[Api, str, Any], None]]:
    def send(api: Api, bin_id: str) -> Any:
        return api("GET", path.format(id=bin_id))

    def check(api: Api, bin_id: str, reply: Any) -> None:
        assert expected(reply.body)

    return send, check


ROUTES = [
    # a create and a delete write the bin's listing item in the same transaction (issue 15)
    Route("create", "TransactWriteItems", on_bin_write, _create, _check_create),
    Route("update-versioned", "TransactWriteItems", on_bin_write, _put_versioned, _check_put_versioned),
    Route("update-in-place", "TransactWriteItems", on_bin_write, _put_in_place, _check_put_in_place),
    Route("delete-versions", "UpdateItem", on_table_item("BIN#"), _delete_versions, _check_delete_versions),
    Route("delete-bin", "TransactWriteItems", on_bin_write, _delete_bin, _check_delete_bin),
    # the charge is one transaction on one of the account's quota shards (issue 23)
    Route("quota-decrement", "TransactWriteItems", on_quota_shard, _put_versioned, _check_put_versioned),
    Route("key-lookup", "GetItem", on_table_item("KEY#"), _delete_versions, _check_delete_versions),
    Route(
        "read-base",
        "GetItem",
        on_table_item("BIN#"),
        *_read("/b/{id}", lambda b: b["record"] == {"v": 0}),
    ),
    Route(
        "read-version",
        "GetItem",
        on_version,
        *_read("/b/{id}/latest", lambda b: b["record"] == {"v": 2} and b["metadata"]["version"] == 2),
    ),
    Route(
        "count",
        "GetItem",
        on_table_item("BIN#"),
        *_read("/b/{id}/versions/count", lambda b: b["metadata"]["versionCount"] == 2),
    ),
]


# Every route meets two kinds of fault and every kind of fault meets three routes (the full
# product costs four times as long and finds nothing more: the retry loop is botocore's).
BURSTS = [
    pytest.param(route, fault, id=f"{route.name}-{fault}")
    for index, route in enumerate(ROUTES)
    for fault in (list(FAULTS)[index % len(FAULTS)], list(FAULTS)[(index + 3) % len(FAULTS)])
]
OUTLASTING = [
    pytest.param(route, fault, id=f"{route.name}-{fault}")
    for index, route in enumerate(ROUTES)
    for fault in [("ProvisionedThroughputExceeded", "InternalServerError", "ReadTimeoutError-before-send")[index % 3]]
]


@pytest.mark.parametrize(("route", "fault"), BURSTS)
def test_a_burst_shorter_than_the_retries_is_absorbed(
    route: Route, fault: str, faults: Faults, sleeps: Sleeps, api: Api
) -> None:
    # Given a bin with two versions, and a fault on the call the route depends on,
    # lasting one attempt less than botocore makes
    bin_id = versioned_bin(api)
    injected = faults.inject(route.operation, times=MAX_ATTEMPTS - 1, when=route.when, **FAULTS[fault])
    # When the request is made
    reply = route.send(api, bin_id)
    # Then it succeeds, after botocore retried with backoff
    assert reply.status == 200, reply.raw
    assert injected.injected == MAX_ATTEMPTS - 1
    assert len(sleeps.botocore) >= MAX_ATTEMPTS - 1
    # And its effect is really stored
    faults.clear()
    route.check(api, bin_id, reply)


@pytest.mark.parametrize(("route", "fault"), OUTLASTING)
def test_a_fault_outlasting_the_retries_is_503_and_changes_nothing(
    route: Route, fault: str, faults: Faults, api: Api, account: Account, ddb: Any
) -> None:
    # Given a bin with two versions
    bin_id = versioned_bin(api)
    before = bin_items(ddb)
    quota = remaining(ddb, account)
    injected = faults.inject(route.operation, when=route.when, **FAULTS[fault])
    # When the call the route depends on fails on every attempt
    reply = route.send(api, bin_id)
    # Then the answer is the contract's 503 with Retry-After, never a 500
    assert (reply.status, reply.body) == (503, UNAVAILABLE), reply.raw
    assert reply.headers.get("retry-after") == "1"
    assert injected.injected >= MAX_ATTEMPTS
    # And no bin item changed: nothing is half written
    faults.clear()
    assert bin_items(ddb) == before
    # And at most the one request that passed authentication was charged
    assert remaining(ddb, account) in (quota, quota - 1)


# ---- transaction conflicts are retried from fresh state ----------------------------------


def test_transaction_conflicts_are_retried_with_jittered_backoff(
    faults: Faults, sleeps: Sleeps, api: Api, ddb: Any
) -> None:
    # Given a bin with two versions and conflicting transactions in the way of all but the
    # last write attempt
    bin_id = versioned_bin(api)
    conflicts = WRITE_ATTEMPTS - 1
    injected = faults.inject("TransactWriteItems", times=conflicts, when=on_bin_write, response=CONFLICT)
    # When a versioned update is made
    reply = api.update(bin_id, {"v": "after conflicts"})
    # Then it succeeds once, as version 3
    assert reply.status == 200, reply.raw
    assert reply.body["metadata"]["version"] == 3
    assert injected.injected == conflicts
    # after backing off between the retries (the first retry may be immediate), each pause
    # drawn at random below a small, growing cap
    assert conflicts - 1 <= len(sleeps.conflicts) <= conflicts
    assert all(0 <= delay <= 1.0 for delay in sleeps.conflicts)
    # botocore does not retry a cancelled transaction itself: with_fresh_state does
    assert sleeps.botocore == []
    faults.clear()
    assert api("GET", f"/b/{bin_id}/versions/count").body["metadata"]["versionCount"] == 3
    assert api("GET", f"/b/{bin_id}/3").body["record"] == {"v": "after conflicts"}
    assert len([i for i in bin_items(ddb) if i["pk"]["S"] == f"BIN#{bin_id}"]) == 4


def test_a_create_whose_transaction_meets_conflicts_is_retried_as_the_same_bin(
    faults: Faults, sleeps: Sleeps, api: Api, account: Account, ddb: Any
) -> None:
    # Given conflicting transactions on the create's items (its listing item, its
    # idempotency record) in the way of all but the last write attempt
    conflicts = WRITE_ATTEMPTS - 1
    injected = faults.inject("TransactWriteItems", times=conflicts, when=on_bin_write, response=CONFLICT)
    # When a bin is created
    reply = api("POST", "/b", headers={"Idempotency-Key": "contended"}, body={"made": "once"})
    # Then it is created once, after the retries (not a 500)
    assert reply.status == 200, reply.raw
    assert injected.injected == conflicts
    assert conflicts - 1 <= len(sleeps.conflicts) <= conflicts
    faults.clear()
    bin_id = reply.body["metadata"]["id"]
    assert api("GET", f"/b/{bin_id}").body["record"] == {"made": "once"}
    mine = [i for i in bin_items(ddb) if i["sk"]["S"] == "BIN" and i["owner"]["S"] == account.id]
    assert [i["pk"]["S"] for i in mine] == [f"BIN#{bin_id}"]


def test_single_item_transaction_conflict_is_retried(faults: Faults, sleeps: Sleeps, api: Api) -> None:
    # A plain UpdateItem on an item a transaction holds fails with TransactionConflictException
    bin_id = versioned_bin(api)
    faults.inject("UpdateItem", times=1, when=on_table_item("BIN#"), response=TXN_CONFLICT_SINGLE)
    reply = api("DELETE", f"/b/{bin_id}/versions")
    assert reply.status == 200, reply.raw
    assert reply.body["metadata"]["versionsDeleted"] == 2
    assert sleeps.botocore == []  # botocore does not retry it: with_fresh_state did


CHARGE_ATTEMPTS = 5  # accounts.CHARGE_ATTEMPTS: a quota charge's tries, a new shard each time


@pytest.mark.parametrize(
    ("when", "attempts", "charged"),
    [(on_bin_write, WRITE_ATTEMPTS, 1), (on_quota_shard, CHARGE_ATTEMPTS, 0)],
    ids=["the-bin-write", "the-quota-charge"],
)
def test_conflicts_outlasting_the_attempts_are_503_and_write_nothing(
    when: Callable[[dict[str, Any]], bool],
    attempts: int,
    charged: int,
    faults: Faults,
    api: Api,
    account: Account,
    ddb: Any,
) -> None:
    # Given a bin, and transactions conflicting with every attempt of the bin's write (or of
    # the quota charge before it, whichever shard it picks)
    bin_id = versioned_bin(api)
    before = bin_items(ddb)
    quota = remaining(ddb, account)
    injected = faults.inject("TransactWriteItems", when=when, response=CONFLICT)
    # When the bin is updated
    reply = api.update(bin_id, {"v": "never stored"})
    # Then the answer is 503 with Retry-After after every attempt, and nothing was written
    assert (reply.status, reply.body) == (503, UNAVAILABLE), reply.raw
    assert reply.headers.get("retry-after") == "1"
    assert injected.injected == attempts
    faults.clear()
    assert bin_items(ddb) == before
    # And a request is charged only once its charge went through (it passed authentication)
    assert remaining(ddb, account) == quota - charged


def test_throttled_transaction_is_never_a_500(faults: Faults, api: Api, ddb: Any) -> None:
    # DynamoDB reports a throttled transaction item as a cancellation reason, not a code
    bin_id = versioned_bin(api)
    before = bin_items(ddb)
    faults.inject("TransactWriteItems", when=on_bin_write, response=TXN_THROTTLED)
    reply = api.update(bin_id, {"v": "throttled"})
    assert (reply.status, reply.body) == (503, UNAVAILABLE), reply.raw
    assert reply.headers.get("retry-after") == "1"
    faults.clear()
    assert bin_items(ddb) == before


def test_throttled_transaction_is_retried(faults: Faults, api: Api) -> None:
    # One throttled transaction is a burst like any other: retried, not a 503
    bin_id = versioned_bin(api)
    faults.inject("TransactWriteItems", times=1, when=on_bin_write, response=TXN_THROTTLED)
    reply = api.update(bin_id, {"v": "after throttling"})
    assert reply.status == 200, reply.raw
    faults.clear()
    assert api("GET", f"/b/{bin_id}/3").body["record"] == {"v": "after throttling"}


# ---- a response lost after DynamoDB applied the write --------------------------------------


def test_lost_response_to_a_cut_over_still_reports_what_was_deleted(faults: Faults, api: Api) -> None:
    # Given a bin with two versions
    bin_id = versioned_bin(api)
    # When the cut-over is applied but its response is lost (read timeout), so botocore retries it
    faults.inject("UpdateItem", times=1, when=on_table_item("BIN#"), raises="read", after_applying=True)
    reply = api("DELETE", f"/b/{bin_id}/versions", headers={"X-Preserve-Latest": "true"})
    # Then the caller still learns the truth: two versions existed at the cut-over
    assert reply.status == 200, reply.raw
    assert reply.body["metadata"]["versionsDeleted"] == 2
    faults.clear()
    assert api("GET", f"/b/{bin_id}").body["record"] == {"v": 2}


def test_lost_response_to_a_bin_delete_is_still_a_200(faults: Faults, api: Api) -> None:
    bin_id = versioned_bin(api)
    faults.inject("DeleteItem", times=1, when=on_table_item("BIN#"), raises="read", after_applying=True)
    reply = api("DELETE", f"/b/{bin_id}")
    assert reply.status == 200, reply.raw
    faults.clear()
    assert api("GET", f"/b/{bin_id}").status == 404


# ---- faults in the purge worker ---------------------------------------------------------------


def test_purge_under_throttling_loses_nothing_and_finishes_later(
    faults: Faults, api: Api, ddb: Any, purge: Any
) -> None:
    bin_id = versioned_bin(api, versions=0)
    seed_versions(bin_id, 30)
    purge.drain()  # what earlier tests left in the module's stream
    assert api("DELETE", f"/b/{bin_id}/versions").status == 200
    # While BatchWriteItem is throttled on every attempt, the purge reports the record as failed
    faults.inject("BatchWriteItem", response=THROTTLED)
    purge.poll_once()
    assert purge.dead_letters == []
    assert len([i for i in bin_items(ddb) if i["pk"]["S"] == f"BIN#{bin_id}"]) == 31
    # Once the throttling is over, the retried record removes every orphaned version
    faults.clear()
    purge.drain()
    assert [i["sk"]["S"] for i in bin_items(ddb) if i["pk"]["S"] == f"BIN#{bin_id}"] == ["BIN"]
    assert api("GET", f"/b/{bin_id}").body["record"] == {"v": 0}
    # And a purge that did its work is acknowledged, not retried until it is dead-lettered
    assert purge.dead_letters == []
