"""Delete-versions under concurrent writers, and under a crash after any DynamoDB call.

Races run real threads through the real handler against moto (made linearizable by
binvault.local.moto_fixes, like DynamoDB itself). Crashes are injected with a botocore
``after-call`` hook: the call's effect is stored, then the "process" dies before the next.
"""

from __future__ import annotations

import itertools
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import pytest

from binvault.exceptions import ServiceUnavailable
from binvault.logic import bins, versions
from tests.conftest import Account, Api, add_versions, bin_items


@dataclass
class Ledger:
    written: list[Any] = field(default_factory=list)  # records of acknowledged versioned updates
    deleted: int = 0
    latest_seen: list[Any] = field(default_factory=list)
    refused: list[Any] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def _updater(key: str, bin_id: str, writer: int, rounds: int, ledger: Ledger) -> None:
    for n in range(rounds):
        record = {"writer": writer, "n": n}
        try:
            outcome = bins.update_bin(key, bin_id, record, versioning=True, if_match=None)
        except ServiceUnavailable:  # contention outlasted the retries: not acknowledged, not stored
            ledger.refused.append(record)
            continue
        assert "version" in outcome.body["metadata"]
        with ledger.lock:
            ledger.written.append(record)


def _deleter(key: str, bin_id: str, rounds: int, ledger: Ledger, rng: random.Random) -> None:
    for _ in range(rounds):
        try:
            outcome = versions.delete_versions(key, bin_id, rng.choice([True, False]), if_match=None)
        except ServiceUnavailable:
            continue
        with ledger.lock:
            ledger.deleted += outcome.body["metadata"]["versionsDeleted"]


def _reader(key: str, bin_id: str, stop: threading.Event, ledger: Ledger) -> None:
    deadline = time.monotonic() + 120
    while not stop.is_set() and time.monotonic() < deadline:
        ledger.latest_seen.append(bins.read_bin(key, bin_id, "latest", meta=True).body["record"])


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_no_acknowledged_update_is_lost_when_racing_deletes(
    api: Api, account: Account, new_bin: str, seed: int
) -> None:
    # Given 4 versioned writers, 2 delete-versions callers and a reader, each what one
    # Lambda execution environment would run, all at once against the same table
    ledger, stop, rng = Ledger(), threading.Event(), random.Random(seed)
    key = account.key
    with ThreadPoolExecutor(7) as pool:
        reader = pool.submit(_reader, key, new_bin, stop, ledger)
        workers = [pool.submit(_updater, key, new_bin, w, 15, ledger) for w in range(4)]
        workers += [pool.submit(_deleter, key, new_bin, 6, ledger, rng) for _ in range(2)]
        try:
            for worker in workers:
                worker.result(timeout=120)
        finally:
            stop.set()
        reader.result(timeout=30)
    # Then every acknowledged update was either counted as deleted or is still a version
    count = api("GET", f"/b/{new_bin}/versions/count").body["metadata"]["versionCount"]
    assert ledger.deleted + count == len(ledger.written)
    assert len(ledger.written) + len(ledger.refused) == 60
    assert len(ledger.refused) <= 6  # contention rarely outlasts the retries
    # the surviving versions are exactly acknowledged writes, each once, readable in order
    survivors = [api("GET", f"/b/{new_bin}/{n}").body["record"] for n in range(1, count + 1)]
    assert len({str(r) for r in survivors}) == count
    assert all(record in ledger.written for record in survivors)
    assert not any(record in ledger.refused for record in [*survivors, *ledger.latest_seen])
    # no deleted version is readable
    assert api("GET", f"/b/{new_bin}/{count + 1}").status == 404
    # /latest only ever showed a record some client wrote (or the original base record)
    acceptable = [*ledger.written, {"v": 0}]
    assert ledger.latest_seen
    assert all(record in acceptable for record in ledger.latest_seen)


class Crash(Exception):
    """The Lambda process died right after a DynamoDB call returned."""


def _crash_after(client: Any, call_number: int) -> Any:
    calls = itertools.count(1)

    def hook(**_: Any) -> None:
        if next(calls) == call_number:
            raise Crash(f"crash after call {call_number}")

    client.meta.events.register("after-call.dynamodb", hook)
    return hook


@pytest.mark.parametrize("preserve", [True, False])
@pytest.mark.parametrize("crash_after", [1, 2, 3, 4])
def test_crash_after_any_call_leaves_old_or_new_state(
    api: Api, new_bin: str, ddb: Any, purge: Any, preserve: bool, crash_after: int
) -> None:
    # Given a bin with 30 versions (and a warm key cache, as in a warm container)
    add_versions(api, new_bin, 30)
    old_base = api("GET", f"/b/{new_bin}").body["record"]
    # When the delete crashes right after its n-th DynamoDB call
    hook = _crash_after(ddb, crash_after)
    headers = {"X-Preserve-Latest": "true" if preserve else "false"}
    try:
        reply = api("DELETE", f"/b/{new_bin}/versions", headers=headers)
    finally:
        ddb.meta.events.unregister("after-call.dynamodb", hook)
    # Then (if it crashed) the client saw an error, never a success it did not get
    crashed = reply.status != 200
    if crashed:
        assert reply.status == 500 and reply.body == {"message": "Internal server error"}
    # and the bin is in exactly the old state or exactly the new one
    count = api("GET", f"/b/{new_bin}/versions/count").body["metadata"]["versionCount"]
    base = api("GET", f"/b/{new_bin}").body["record"]
    if count == 30:
        assert base == old_base
        assert [api("GET", f"/b/{new_bin}/{n}").body["record"] for n in (1, 15, 30)] == [
            {"v": 1},
            {"v": 15},
            {"v": 30},
        ]
    else:
        assert count == 0
        assert base == ({"v": 30} if preserve else old_base)
        assert api("GET", f"/b/{new_bin}/1").status == 404
    # And leftovers are purged later; a retry of the request completes the job
    purge.drain()
    retry = api("DELETE", f"/b/{new_bin}/versions", headers=headers)
    assert retry.body["metadata"]["versionsDeleted"] == count
    purge.drain()
    assert [item["sk"]["S"] for item in bin_items(ddb)] == ["BIN"]
    assert api("GET", f"/b/{new_bin}").body["record"] == ({"v": 30} if preserve else old_base)


@pytest.mark.parametrize("crash_after", [1, 2, 3, 5])
def test_crash_inside_the_purge_is_retried_until_clean(
    api: Api, new_bin: str, ddb: Any, purge: Any, crash_after: int
) -> None:
    # Given 120 versions cut over (the purge needs several queries and batches)
    add_versions(api, new_bin, 120)
    api("DELETE", f"/b/{new_bin}/versions")
    # When the purge crashes after its n-th call, the stream delivery fails and is retried
    hook = _crash_after(ddb, crash_after)
    try:
        purge.poll_once()
    finally:
        ddb.meta.events.unregister("after-call.dynamodb", hook)
    purge.drain()
    # Then nothing is left but the base item, and nothing went to the dead-letter list
    assert [item["sk"]["S"] for item in bin_items(ddb)] == ["BIN"]
    assert purge.dead_letters == []


def test_purge_twice_is_harmless(api: Api, new_bin: str, ddb: Any, purge: Any) -> None:
    from binvault.dal.purge import purge_versions

    add_versions(api, new_bin, 10)
    api("DELETE", f"/b/{new_bin}/versions")
    api.update(new_bin, {"v": "kept"})
    purge.drain()
    assert purge_versions(new_bin, 1) == 0
    assert purge_versions(new_bin, 1) == 0
    assert api("GET", f"/b/{new_bin}/1").body["record"] == {"v": "kept"}
