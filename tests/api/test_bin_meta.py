"""The bin meta routes' use cases: rename and privacy. No version, a new ETag, If-Match,
the quota, master key only."""

from __future__ import annotations

from typing import Any

import pytest

from binvault.exceptions import BinNotFound, MissingMasterKey, PreconditionFailed
from binvault.logic import access_keys, bins
from binvault.models.bins import Credentials
from tests.conftest import Account, make_account
from tests.support.quota import requests_left


def remaining(ddb: Any, account: Account) -> int:
    return requests_left(ddb, account.id)  # the sum of the account's quota shards


@pytest.fixture
def bin_id(account: Account) -> str:
    made = bins.create_bin(account.key, {"v": 0}, True, "old name")
    bins.update_bin(account.key, made.body["metadata"]["id"], {"v": 1}, True, None)
    return str(made.body["metadata"]["id"])


def test_rename(account: Account, bin_id: str, ddb: Any) -> None:
    before = bins.read_bin(account.key, bin_id, "base", True)
    quota = remaining(ddb, account)
    renamed = bins.rename_bin(account.key, bin_id, "new name", None)
    assert renamed.body == {"record": bin_id, "metadata": {"name": "new name"}}
    after = bins.read_bin(account.key, bin_id, "base", True)
    assert after.body["metadata"]["name"] == "new name"
    assert after.etag == renamed.etag != before.etag
    assert after.body["record"] == before.body["record"]
    assert bins.count_versions(account.key, bin_id).body["metadata"]["versionCount"] == 1  # no new version
    assert remaining(ddb, account) == quota - 3


def test_privacy(account: Account, bin_id: str, ddb: Any) -> None:
    made_public = bins.set_privacy(account.key, bin_id, False, None)
    assert made_public.body == {"record": bin_id, "metadata": {"private": False}}
    assert bins.read_bin(None, bin_id, "base", True).body["record"] == {"v": 0}  # anyone may read
    bins.set_privacy(account.key, bin_id, True, None)
    with pytest.raises(MissingMasterKey):
        bins.read_bin(None, bin_id, "base", True)


def test_if_match_and_ownership(account: Account, bin_id: str) -> None:
    with pytest.raises(PreconditionFailed):
        bins.rename_bin(account.key, bin_id, "x", ['"stale"'])
    current = bins.read_bin(account.key, bin_id, "base", True).etag
    assert current is not None
    assert bins.rename_bin(account.key, bin_id, "x", [current]).body["metadata"] == {"name": "x"}
    with pytest.raises(BinNotFound):
        bins.set_privacy(make_account().key, bin_id, False, None)


def test_meta_routes_take_only_the_master_key(account: Account, bin_id: str) -> None:
    secret = access_keys.create(account.key, "all", frozenset({"create", "read", "update", "delete"})).body
    with pytest.raises(MissingMasterKey):
        bins.rename_bin(Credentials(access_key=secret["accessKey"]), bin_id, "x", None)
