"""Quota leases (QUOTA_LEASE_SIZE > 1): most requests write nothing, refusals stay free, the
overshoot is bounded, unused requests come back, and a rotated key fails at once.

Each ``LeaseBook`` below stands for one warm container (in Lambda the book is module state).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from binvault import admin
from binvault.exceptions import InvalidMasterKey, QuotaExhausted
from binvault.logic import auth, quota
from binvault.models.bins import Charging
from tests.conftest import Account, Api, CallCounter, make_account
from tests.support.faults import injected_on, lose_response
from tests.support.quota import concurrent_statuses, requests_left

LEASE = 10


class Clock:
    def __init__(self) -> None:
        import time

        self.now = time.time()

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    from binvault.dal import accounts

    fake = Clock()
    monkeypatch.setattr(accounts, "_clock", fake)
    monkeypatch.setattr(quota, "_clock", fake)
    return fake


@pytest.fixture
def leases(monkeypatch: pytest.MonkeyPatch, clock: Clock) -> Iterator[None]:
    from binvault.models.settings import get_settings

    monkeypatch.setenv("QUOTA_LEASE_SIZE", str(LEASE))
    monkeypatch.setenv("QUOTA_LEASE_SECONDS", "30")
    # One quota shard, as the account item was: these tests are about the lease bookkeeping
    # (leases over many shards: tests/api/test_quota_shards.py)
    monkeypatch.setenv("QUOTA_SHARDS", "1")
    get_settings.cache_clear()
    monkeypatch.setattr(quota, "BOOK", quota.LeaseBook())
    yield
    get_settings.cache_clear()


def remaining(ddb: Any, account: Account) -> int:
    return requests_left(ddb, account.id)  # the sum of the account's quota shards


def spend(book: quota.LeaseBook, account: Account) -> bool:
    """One request charged in the container ``book``; False when it is refused."""
    try:
        book.spend(account.id, Charging(master_hash=auth.hash_key(account.key)))
    except QuotaExhausted:
        return False
    return True


def test_lease_size_one_is_exact_under_30_concurrent_requests(ddb: Any) -> None:
    # Given an account with 20 requests and the default, exact charging
    account = make_account(requests=20)
    # When 30 requests arrive at once
    statuses = concurrent_statuses(Api(account.key), 30)
    # Then exactly 20 are served (404: authenticated, no such bin) and 10 refused, free
    assert statuses == [403] * 10 + [404] * 20
    assert remaining(ddb, account) == 0


def test_reads_with_leases_write_once_per_lease(ddb: Any, leases: None, dynamodb_calls: CallCounter) -> None:
    account = make_account()
    api = Api(account.key)
    bin_id = api.create({"v": 1}).body["metadata"]["id"]
    dynamodb_calls.reset()
    for _ in range(100):
        assert api("GET", f"/b/{bin_id}").status == 200
    # one lease write per LEASE requests; every request reads its key and its bin
    assert dynamodb_calls.calls["UpdateItem"] == 100 // LEASE
    assert dynamodb_calls.calls["GetItem"] == 200


def test_containers_never_take_more_than_the_quota(ddb: Any, leases: None) -> None:
    # Given an account with 25 requests and three containers
    account = make_account(requests=25)
    books = [quota.LeaseBook() for _ in range(3)]
    served = 0
    # When requests go round the containers until each has been refused
    refused: set[int] = set()
    while len(refused) < len(books):
        for number, book in enumerate(books):
            if spend(book, account):
                served += 1
            else:
                refused.add(number)
    # Then exactly the quota was served, and nothing more is held anywhere
    assert served == 25
    assert remaining(ddb, account) == 0
    assert sum(book.holding(account.id) for book in books) == 0


def test_a_refusal_takes_nothing_even_while_others_hold_leases(ddb: Any, leases: None) -> None:
    account = make_account(requests=12)
    first, second = quota.LeaseBook(), quota.LeaseBook()
    assert spend(first, account)  # takes 10, spends 1
    assert spend(second, account)  # takes the 2 left, spends 1
    assert remaining(ddb, account) == 0
    third = quota.LeaseBook()
    assert not spend(third, account)  # refused while 9 + 1 are held elsewhere: the bound
    assert first.holding(account.id) + second.holding(account.id) == 10
    assert remaining(ddb, account) == 0  # and the refusal took nothing


def test_an_expired_lease_returns_its_remainder(ddb: Any, leases: None, clock: Clock) -> None:
    # Given a container that took a lease of 10 and spent 3
    account = make_account(requests=100)
    book = quota.LeaseBook()
    for _ in range(3):
        assert spend(book, account)
    assert remaining(ddb, account) == 90
    # When the lease expires and the container serves its next request
    clock.now += 31
    assert spend(book, account)
    # Then the 7 unspent came back and a new lease of 10 was taken, one of it spent
    assert remaining(ddb, account) == 90 + 7 - 10
    assert book.holding(account.id) == 9
    assert remaining(ddb, account) + book.holding(account.id) == 100 - 4


def test_a_dead_containers_lease_is_refunded_once(ddb: Any, leases: None, clock: Clock) -> None:
    from binvault.dal import accounts

    # Given a container that took a lease of 10, spent 3, and died
    account = make_account(requests=100)
    dead = quota.LeaseBook()
    for _ in range(3):
        assert spend(dead, account)
    [dead_lease] = accounts.get_item(accounts.keys.quota_shard_key(account.id, 0))["leases"]["M"]
    # When, long after it expired, two other containers both try to refund it
    clock.now += 31 + 61
    first, second = quota.LeaseBook(), quota.LeaseBook()
    for book in (first, second):
        accounts._dead_leases[account.id, 0] = {dead_lease: LEASE}  # each saw it in an earlier answer
        assert spend(book, account)
    # Then it was refunded in full exactly once: the requests served exceed the quota by at
    # most what the dead container had spent (3, at most LEASE - 1)
    held = first.holding(account.id) + second.holding(account.id)
    assert remaining(ddb, account) + held == 100 - (3 + 2) + 3
    assert dead_lease not in accounts.get_item(accounts.keys.quota_shard_key(account.id, 0))["leases"]["M"]


def test_a_rotated_key_is_refused_at_once_whatever_lease_is_held(ddb: Any, leases: None) -> None:
    account = make_account()
    api = Api(account.key)
    assert api("GET", "/b/" + "0" * 24).status == 404
    assert quota.BOOK.holding(account.id) == LEASE - 1
    rotated = admin.rotate_key(account.id)
    assert api("GET", "/b/" + "0" * 24).status == 401
    # the new key spends the same lease: no write
    assert Api(rotated["masterKey"])("GET", "/b/" + "0" * 24).status == 404
    assert quota.BOOK.holding(account.id) == LEASE - 2


def test_a_lease_write_whose_response_is_lost_takes_one_lease(ddb: Any, leases: None) -> None:
    account = make_account(requests=100)
    book = quota.LeaseBook()
    with injected_on(ddb) as faults:
        fault = lose_response(faults, 0)
        assert spend(book, account)
    assert fault.injected == 1
    assert remaining(ddb, account) == 100 - LEASE


def test_a_lease_against_a_rotated_key_is_refused(ddb: Any, leases: None) -> None:
    account = make_account()
    admin.rotate_key(account.id)
    with pytest.raises(InvalidMasterKey):
        quota.LeaseBook().spend(account.id, Charging(master_hash=auth.hash_key(account.key)))
