"""Access keys (X-Access-Key): scoped secrets an account hands out. Created, listed (masked)
and deleted with the master key; each permission gates its routes; deleting a key refuses
its next request; nothing stored or logged contains a key.

These drive the use cases (``logic/``); the HTTP routes are exercised through the handler
in the route tests.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from binvault.exceptions import (
    AccessKeyForbidden,
    AccessKeyNameTooLong,
    AccessKeyNotFound,
    BinNotFound,
    InvalidAccessKey,
    InvalidAccessKeyPermissions,
    InvalidMasterKey,
    MissingAccessKeyName,
    MissingMasterKeyToListAccessKeys,
    TooManyAccessKeys,
)
from binvault.logic import access_keys, bins, versions
from binvault.models.bins import PERMISSIONS, Credentials
from tests.conftest import Account, make_account, table_items
from tests.support.quota import requests_left

ALL = frozenset(PERMISSIONS)


def new_key(account: Account, *allowed: str, name: str = "k") -> str:
    return str(access_keys.create(account.key, name, frozenset(allowed)).body["accessKey"])


def remaining(ddb: Any, account: Account) -> int:
    return requests_left(ddb, account.id)  # the sum of the account's quota shards


@pytest.fixture
def bin_id(account: Account) -> str:
    created = bins.create_bin(account.key, {"v": 0}, True, None)
    bins.update_bin(account.key, created.body["metadata"]["id"], {"v": 1}, True, None)
    return str(created.body["metadata"]["id"])


def test_create_list_delete(account: Account, ddb: Any) -> None:
    created = access_keys.create(account.key, "front end", frozenset({"read"})).body
    assert created["keyPermissions"] == {"bins": {"create": False, "read": True, "update": False, "delete": False}}
    assert created["metadata"]["name"] == "front end"
    listed = access_keys.list_keys(account.key).body
    assert [k["accessKeyId"] for k in listed] == [created["accessKeyId"]]
    # the list never shows the secret: only its last four characters
    assert listed[0]["accessKey"] == "********" + created["accessKey"][-4:]
    deleted = access_keys.delete(account.key, created["accessKeyId"]).body
    assert deleted == {
        "metadata": {"id": created["accessKeyId"], "name": "front end"},
        "message": "Access Key deleted successfully",
    }
    assert access_keys.list_keys(account.key).body == []
    with pytest.raises(AccessKeyNotFound):
        access_keys.delete(account.key, created["accessKeyId"])


def test_no_item_contains_a_key(account: Account, ddb: Any) -> None:
    secret = new_key(account, "read")
    assert secret not in json.dumps(table_items(ddb))


def test_at_most_four_keys(account: Account, ddb: Any) -> None:
    for n in range(4):
        new_key(account, "read", name=f"k{n}")
    before = remaining(ddb, account)
    with pytest.raises(TooManyAccessKeys) as refused:
        new_key(account, "read", name="fifth")
    assert refused.value.message == "You can create up to 4 Access Keys"
    assert len(access_keys.list_keys(account.key).body) == 4
    assert remaining(ddb, account) == before - 2  # the refused create and the list


def test_the_access_keys_api_takes_only_the_master_key(account: Account, ddb: Any) -> None:
    secret = new_key(account, *ALL)
    with pytest.raises(MissingMasterKeyToListAccessKeys):
        access_keys.list_keys(None)
    with pytest.raises(InvalidMasterKey):
        access_keys.list_keys(secret)  # an access key is not a master key


@pytest.mark.parametrize(
    ("raw", "allowed"),
    [
        (b'{"bins": {"read": true}}', {"read"}),
        (b'{"bins": {"create": true, "read": false, "update": true, "delete": true}}', {"create", "update", "delete"}),
        (b"{}", set()),
        (b"", set()),
    ],
)
def test_permissions_missing_booleans_are_false(raw: bytes, allowed: set[str]) -> None:
    assert access_keys.permissions(raw) == allowed


@pytest.mark.parametrize(
    "raw", [b"[]", b'{"bins": {"read": "yes"}}', b'{"bins": {"write": true}}', b'{"other": {}}', b"{", b"\xff"]
)
def test_malformed_permissions_are_refused(raw: bytes) -> None:
    with pytest.raises(InvalidAccessKeyPermissions):
        access_keys.permissions(raw)


def test_names() -> None:
    assert access_keys.key_name("x" * 32) == "x" * 32
    with pytest.raises(MissingAccessKeyName):
        access_keys.key_name(None)
    with pytest.raises(MissingAccessKeyName):
        access_keys.key_name("  ")
    with pytest.raises(AccessKeyNameTooLong):
        access_keys.key_name("x" * 33)


# ---- each permission on each route -----------------------------------------------------------

ROUTES = {
    "create": lambda key, bin_id: bins.create_bin(key, {"new": 1}, True, None),
    "read": lambda key, bin_id: bins.read_bin(key, bin_id, "latest", True),
    "count": lambda key, bin_id: bins.count_versions(key, bin_id),
    "update": lambda key, bin_id: bins.update_bin(key, bin_id, {"v": 2}, True, None),
    "delete-versions": lambda key, bin_id: versions.delete_versions(key, bin_id, False, None),
    "delete": lambda key, bin_id: bins.delete_bin(key, bin_id, None),
}
NEEDS = {
    "create": "create",
    "read": "read",
    "count": "read",
    "update": "update",
    "delete-versions": "delete",
    "delete": "delete",
}


@pytest.mark.parametrize("route", list(ROUTES))
@pytest.mark.parametrize("permission", PERMISSIONS)
def test_each_permission_on_each_route(route: str, permission: str, account: Account, bin_id: str, ddb: Any) -> None:
    key = Credentials(access_key=new_key(account, permission))
    before, quota = table_items(ddb), remaining(ddb, account)
    if NEEDS[route] == permission:
        ROUTES[route](key, bin_id)
        assert remaining(ddb, account) == quota - 1
    else:
        with pytest.raises(AccessKeyForbidden) as refused:
            ROUTES[route](key, bin_id)
        assert refused.value.message == f"X-Access-Key does not have the permission to {NEEDS[route]} bins"
        assert refused.value.status == 403
        # nothing changed, nothing charged
        assert table_items(ddb) == before


def test_a_created_bin_belongs_to_the_keys_account(account: Account, ddb: Any) -> None:
    key = Credentials(access_key=new_key(account, "create"))
    made = bins.create_bin(key, {"mine": True}, True, None).body["metadata"]["id"]
    assert bins.read_bin(account.key, made, "base", True).body["record"] == {"mine": True}


def test_another_accounts_bin_is_not_found(account: Account, bin_id: str, ddb: Any) -> None:
    theirs = make_account()
    key = Credentials(access_key=new_key(theirs, *ALL))
    with pytest.raises(BinNotFound):
        bins.read_bin(key, bin_id, "base", True)


def test_the_master_key_wins_when_both_are_sent(account: Account, bin_id: str, ddb: Any) -> None:
    read_only = new_key(account, "read")
    both = Credentials(master_key=account.key, access_key=read_only)
    assert bins.update_bin(both, bin_id, {"v": 9}, True, None).body["metadata"]["version"] == 2
    with pytest.raises(InvalidMasterKey):
        bins.read_bin(Credentials(master_key="wrong", access_key=read_only), bin_id, "base", True)


def test_unknown_and_deleted_keys_are_refused(account: Account, bin_id: str, ddb: Any) -> None:
    with pytest.raises(InvalidAccessKey) as refused:
        bins.read_bin(Credentials(access_key="nope"), bin_id, "base", True)
    assert (refused.value.status, refused.value.message) == (401, "Invalid X-Access-Key provided")
    # a master key sent as an access key is not one
    with pytest.raises(InvalidAccessKey):
        bins.read_bin(Credentials(access_key=account.key), bin_id, "base", True)
    # deleting a key refuses its very next request, warm cache or not
    secret = new_key(account, "read")
    key = Credentials(access_key=secret)
    bins.read_bin(key, bin_id, "base", True)
    [listed] = access_keys.list_keys(account.key).body
    access_keys.delete(account.key, listed["accessKeyId"])
    quota = remaining(ddb, account)
    with pytest.raises(InvalidAccessKey):
        bins.read_bin(key, bin_id, "base", True)
    assert remaining(ddb, account) == quota  # refused, not charged


def test_access_keys_with_quota_leases(
    account: Account, bin_id: str, ddb: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from binvault.logic import quota
    from binvault.models.settings import get_settings

    monkeypatch.setenv("QUOTA_LEASE_SIZE", "10")
    get_settings.cache_clear()
    monkeypatch.setattr(quota, "BOOK", quota.LeaseBook())
    secret = new_key(account, "read")
    key = Credentials(access_key=secret)
    bins.read_bin(key, bin_id, "base", True)
    [listed] = access_keys.list_keys(account.key).body
    access_keys.delete(account.key, listed["accessKeyId"])
    # the container still holds a lease for the account: the deleted key fails all the same
    assert quota.BOOK.holding(account.id) > 0
    with pytest.raises(InvalidAccessKey):
        bins.read_bin(key, bin_id, "base", True)
