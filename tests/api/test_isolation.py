"""Accounts cannot see or touch each other's bins, revoked keys stop at once, the quota
never goes negative, and keys are strong, stored only as hashes and printed only once.

(test_auth_and_errors.py covers plain cross-account requests on every route; this module
adds writes with If-Match, writes to public bins, racing requests and the key lifecycle.)
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import string
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from tests.conftest import (
    TABLE,
    Account,
    Api,
    add_versions,
    make_account,
    reset_caches,
    table_items,
)
from tests.support.quota import requests_left

NOT_FOUND = {"message": "Bin not found or it doesn't belong to your account"}
INVALID_KEY = {"message": "Invalid X-Master-Key provided"}
NO_KEY = {"message": "You need to pass X-Master-Key in the header"}
EXHAUSTED = {"message": "Requests exhausted. Buy additional requests at https://binvault.example/pricing"}


@pytest.fixture
def ddb(moto_world: None) -> Any:
    from binvault.dal.client import dynamodb

    return dynamodb()


def account_item(ddb: Any, account: Account) -> dict[str, Any]:
    key = {"pk": {"S": f"ACCOUNT#{account.id}"}, "sk": {"S": "ACCOUNT"}}
    return dict(ddb.get_item(TableName=TABLE, Key=key, ConsistentRead=True)["Item"])


def remaining(ddb: Any, account: Account) -> int:
    return requests_left(ddb, account.id)  # the sum of the account's quota shards


def items_of(ddb: Any, bin_id: str) -> list[dict[str, Any]]:
    """Every item of the bin (base and versions), exactly as stored."""
    page = ddb.query(
        TableName=TABLE,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": f"BIN#{bin_id}"}},
        ConsistentRead=True,
    )
    assert "LastEvaluatedKey" not in page
    return list(page["Items"])


@pytest.fixture
def owner(account: Account) -> Account:
    return account


@pytest.fixture
def stranger(other_account: Account) -> Account:
    return other_account


def owned_bin(owner: Account, private: bool = True, versions: int = 2) -> tuple[str, str]:
    """A bin of ``owner`` with ``versions`` versions; returns (id, current ETag)."""
    api = Api(owner.key)
    bin_id = str(api.create({"owner": 0}, X_Bin_Private="true" if private else "false").body["metadata"]["id"])
    add_versions(api, bin_id, versions)
    return bin_id, api("GET", f"/b/{bin_id}").headers["etag"]


# ---- another account's writes ---------------------------------------------------------------

WRITES = [
    ("PUT-versioned", "PUT", "", {"X-Bin-Versioning": "true"}),
    ("PUT-in-place", "PUT", "", {"X-Bin-Versioning": "false"}),
    ("DELETE-versions", "DELETE", "/versions", {}),
    ("DELETE-versions-preserve", "DELETE", "/versions", {"X-Preserve-Latest": "true"}),
    ("DELETE-bin", "DELETE", "", {}),
]


@pytest.mark.parametrize("private", [True, False], ids=["private", "public"])
@pytest.mark.parametrize(
    "if_match", ["current-etag", "*", None], ids=["if-match-current", "if-match-star", "no-if-match"]
)
@pytest.mark.parametrize(("name", "method", "suffix", "headers"), WRITES, ids=[w[0] for w in WRITES])
def test_another_accounts_write_is_404_and_changes_nothing(
    ddb: Any,
    owner: Account,
    stranger: Account,
    name: str,
    method: str,
    suffix: str,
    headers: dict[str, str],
    if_match: str | None,
    private: bool,
) -> None:
    # Given the owner's bin with two versions, and its current ETag (which a stranger of a
    # public bin can see)
    bin_id, etag = owned_bin(owner, private)
    before = items_of(ddb, bin_id)
    owner_quota, stranger_quota = remaining(ddb, owner), remaining(ddb, stranger)
    extra = dict(headers)
    if if_match is not None:
        extra["If-Match"] = etag if if_match == "current-etag" else if_match
    # When another account writes to it, even with a matching If-Match
    body = {"stranger": True} if method == "PUT" else None
    reply = Api(stranger.key)(method, f"/b/{bin_id}{suffix}", headers=extra, body=body)
    # Then the answer is the same 404 as for a bin that does not exist
    assert (reply.status, reply.body) == (404, NOT_FOUND)
    assert "etag" not in reply.headers
    # And nothing of the bin changed; the stranger paid for the request, the owner did not
    assert items_of(ddb, bin_id) == before
    assert remaining(ddb, owner) == owner_quota
    assert remaining(ddb, stranger) == stranger_quota - 1


@pytest.mark.parametrize(("name", "method", "suffix", "headers"), WRITES, ids=[w[0] for w in WRITES])
def test_keyless_write_to_a_public_bin_is_401_and_changes_nothing(
    ddb: Any, owner: Account, name: str, method: str, suffix: str, headers: dict[str, str]
) -> None:
    bin_id, _ = owned_bin(owner, private=False)
    before = items_of(ddb, bin_id)
    quota = remaining(ddb, owner)
    body = {"anonymous": True} if method == "PUT" else None
    reply = Api(None)(method, f"/b/{bin_id}{suffix}", headers=headers, body=body)
    assert (reply.status, reply.body) == (401, NO_KEY)
    assert items_of(ddb, bin_id) == before
    assert remaining(ddb, owner) == quota  # an anonymous write is never charged to the owner


def test_public_bin_reads_by_others_are_charged_to_the_reader(ddb: Any, owner: Account, stranger: Account) -> None:
    bin_id, _ = owned_bin(owner, private=False)
    owner_quota, stranger_quota = remaining(ddb, owner), remaining(ddb, stranger)
    reader = Api(stranger.key)
    assert reader("GET", f"/b/{bin_id}/latest").body["record"] == {"v": 2}
    assert reader("GET", f"/b/{bin_id}/1").body["record"] == {"v": 1}
    assert reader("GET", f"/b/{bin_id}/versions/count").body["metadata"]["versionCount"] == 2
    assert remaining(ddb, stranger) == stranger_quota - 3
    assert remaining(ddb, owner) == owner_quota


def test_private_version_reads_by_others_are_404(ddb: Any, owner: Account, stranger: Account) -> None:
    bin_id, _ = owned_bin(owner)
    reader = Api(stranger.key)
    for path in ("/latest", "/1", "/2", "/3", "/versions/count", ""):
        reply = reader("GET", f"/b/{bin_id}{path}")
        assert (reply.status, reply.body) == (404, NOT_FOUND), path


def test_other_account_cannot_tell_an_existing_bin_from_a_missing_one(
    ddb: Any, owner: Account, stranger: Account
) -> None:
    bin_id, _ = owned_bin(owner)
    missing = "0" * 24
    reader = Api(stranger.key)
    for method, suffix, body in [("GET", "", None), ("PUT", "", {"x": 1}), ("DELETE", "/versions", None)]:
        existing = reader(method, f"/b/{bin_id}{suffix}", body=body)
        absent = reader(method, f"/b/{missing}{suffix}", body=body)
        assert (existing.status, existing.raw, sorted(existing.headers)) == (
            absent.status,
            absent.raw,
            sorted(absent.headers),
        )


# ---- key rotation -------------------------------------------------------------------------

ALL_ROUTES = [
    ("GET", "/b/{id}", None),
    ("GET", "/b/{id}/latest", None),
    ("GET", "/b/{id}/1", None),
    ("GET", "/b/{id}/versions/count", None),
    ("PUT", "/b/{id}", {"rotated": True}),
    ("DELETE", "/b/{id}/versions", None),
    ("DELETE", "/b/{id}", None),
    ("POST", "/b", {"rotated": True}),
]


@pytest.mark.parametrize("cache_seconds", ["0", "300"], ids=["key-cache-off", "key-cache-on"])
def test_a_rotated_key_stops_at_once_on_every_route(
    ddb: Any, monkeypatch: pytest.MonkeyPatch, cache_seconds: str
) -> None:
    from binvault import admin
    from binvault.logic import auth

    monkeypatch.setenv("KEY_CACHE_SECONDS", cache_seconds)
    reset_caches()
    account = make_account()
    old = Api(account.key)
    bin_id, _ = owned_bin(account)
    # Given every route was just used with the key (so a warm container has it cached)
    for method, path, body in ALL_ROUTES[:5]:
        assert old(method, path.format(id=bin_id), body=body).status == 200
    hash_key = auth.hash_key(account.key)
    assert (hash_key in auth._cache) == (cache_seconds != "0")
    # When the key is rotated
    new_key = admin.rotate_key(account.id)["masterKey"]
    before = table_items(ddb)
    # Then the old key is refused on every route at once, charging and changing nothing
    for method, path, body in ALL_ROUTES:
        reply = old(method, path.format(id=bin_id), body=body)
        assert (reply.status, reply.body) == (401, INVALID_KEY), (method, path)
    assert table_items(ddb) == before
    # And the refusal evicted it from the cache
    assert hash_key not in auth._cache
    # And the new key works on every route
    new = Api(new_key)
    for method, path, body in ALL_ROUTES:
        assert new(method, path.format(id=bin_id), body=body).status == 200, (method, path)


def test_rotation_revokes_even_what_another_warm_container_cached(ddb: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """The cache says "hash -> account" for a long time; only the conditional decrement,
    which checks the account's current key hash, stands between a revoked key and the data."""
    from binvault import admin
    from binvault.logic import auth

    monkeypatch.setenv("KEY_CACHE_SECONDS", "86400")
    reset_caches()
    account = make_account()
    bin_id, _ = owned_bin(account)
    lookups: list[str] = []

    def record_key_lookups(params: dict[str, Any], **_: Any) -> None:
        pk = params.get("Key", {}).get("pk", {}).get("S", "")
        if pk.startswith("KEY#"):
            lookups.append(pk)

    admin.rotate_key(account.id)
    ddb.meta.events.register("before-parameter-build.dynamodb.GetItem", record_key_lookups)
    try:
        reply = Api(account.key)("GET", f"/b/{bin_id}")
    finally:
        ddb.meta.events.unregister("before-parameter-build.dynamodb.GetItem", record_key_lookups)
    assert (reply.status, reply.body) == (401, INVALID_KEY)
    assert lookups == []  # answered from the (stale) cache, refused by the decrement's condition
    assert auth.hash_key(account.key) not in auth._cache


def test_twice_rotated_keys_all_stop(ddb: Any) -> None:
    from binvault import admin

    account = make_account()
    bin_id, _ = owned_bin(account)
    first = account.key
    second = admin.rotate_key(account.id)["masterKey"]
    assert Api(second)("GET", f"/b/{bin_id}").status == 200
    third = admin.rotate_key(account.id)["masterKey"]
    assert len({first, second, third}) == 3
    for key in (first, second):
        assert Api(key)("GET", f"/b/{bin_id}").body == INVALID_KEY
    assert Api(third)("GET", f"/b/{bin_id}").status == 200


# ---- the quota under concurrency ----------------------------------------------------------
#
# Deployed, each Lambda execution environment serves one event at a time; concurrency is
# between environments, and what they share is the table. So the racing requests below
# call the use cases (``logic/``, exactly what the routes call) from threads, and the
# status is what ``handle_domain_error`` would answer: the handler module's own state
# (the resolver's current event, the metrics buffer) is per execution environment and is
# not what these tests are about.


def _status(call: Callable[[], Any]) -> int:
    from binvault.exceptions import BinvaultError

    try:
        call()
    except BinvaultError as error:
        return error.status
    return 200


def _concurrently(count: int, request: Callable[[int], Any]) -> list[int]:
    """The status of ``request(i)`` for i in range(count), all released at the same instant."""
    barrier = threading.Barrier(count)

    def run(index: int) -> int:
        barrier.wait()
        return _status(lambda: request(index))

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(run, range(count)))


@pytest.mark.parametrize(("allowed", "extra"), [(10, 5), (1, 11), (0, 6)])
def test_concurrent_reads_never_overdraw_the_quota(ddb: Any, allowed: int, extra: int) -> None:
    from binvault import admin
    from binvault.logic import bins

    # Given an account with exactly `allowed` requests left
    account = make_account()
    bin_id, _ = owned_bin(account, versions=0)
    admin.set_quota(account.id, allowed)
    # When allowed + extra reads arrive at once
    statuses = _concurrently(allowed + extra, lambda _: bins.read_bin(account.key, bin_id, "base", True))
    # Then exactly `allowed` pass and the rest are refused, and the counter ends at 0
    assert sorted(statuses) == [200] * allowed + [403] * extra
    assert remaining(ddb, account) == 0
    # And the refusal is the contract's 403 through the handler too
    assert Api(account.key)("GET", f"/b/{bin_id}").body == EXHAUSTED


def test_concurrent_writes_never_overdraw_the_quota_and_refused_writes_store_nothing(ddb: Any) -> None:
    from binvault import admin
    from binvault.logic import bins

    allowed, extra = 8, 4
    account = make_account()
    api = Api(account.key)
    bin_ids = [str(api.create({"n": i}).body["metadata"]["id"]) for i in range(allowed + extra)]
    admin.set_quota(account.id, allowed)
    # When every bin gets a versioned update at the same instant
    statuses = _concurrently(
        allowed + extra,
        lambda i: bins.update_bin(account.key, bin_ids[i], {"n": i, "updated": True}, True, None),
    )
    # Then exactly `allowed` are stored as version 1, and the refused ones stored nothing
    assert sorted(statuses) == [200] * allowed + [403] * extra
    assert remaining(ddb, account) == 0
    admin.set_quota(account.id, 1000)
    for index, status in enumerate(statuses):
        count = api("GET", f"/b/{bin_ids[index]}/versions/count").body["metadata"]["versionCount"]
        assert count == (1 if status == 200 else 0)
        latest = api("GET", f"/b/{bin_ids[index]}/latest").body["record"]
        assert latest == ({"n": index, "updated": True} if status == 200 else {"n": index})


def test_public_reads_by_anyone_never_overdraw_the_owners_quota(ddb: Any) -> None:
    from binvault import admin
    from binvault.logic import bins

    owner = make_account()
    bin_id, _ = owned_bin(owner, private=False, versions=0)
    admin.set_quota(owner.id, 5)
    statuses = _concurrently(12, lambda _: bins.read_bin(None, bin_id, "latest", True))
    assert sorted(statuses) == [200] * 5 + [403] * 7
    assert remaining(ddb, owner) == 0


# ---- keys: strong, hashed, printed once ------------------------------------------------------


def test_master_keys_are_256_bit_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    from binvault.logic import auth

    requested: list[int] = []
    original = secrets.token_urlsafe

    def token_urlsafe(nbytes: int | None = None) -> str:
        requested.append(nbytes or 0)
        return original(nbytes)

    monkeypatch.setattr(secrets, "token_urlsafe", token_urlsafe)
    keys = {auth.new_master_key() for _ in range(2000)}
    # drawn from the secrets module's CSPRNG, 32 bytes at a time
    assert requested
    assert min(requested) >= 32
    assert len(keys) == 2000
    alphabet = set(string.ascii_letters + string.digits + "-_")
    for key in list(keys)[:200]:
        assert len(key) >= 43
        assert set(key) <= alphabet
        assert len(base64.urlsafe_b64decode(key + "=" * (-len(key) % 4))) >= 32


def test_keys_are_stored_only_as_hashes_through_rotation(ddb: Any) -> None:
    from binvault import admin

    account = make_account()
    old_key = account.key
    new_key = admin.rotate_key(account.id)["masterKey"]
    dump = json.dumps(table_items(ddb))
    for key in (old_key, new_key):
        assert key not in dump
        assert key[:16] not in dump
    old_hash, new_hash = (hashlib.sha256(k.encode()).hexdigest() for k in (old_key, new_key))
    assert account_item(ddb, account)["keyHash"]["S"] == new_hash
    key_items = [i["pk"]["S"] for i in table_items(ddb) if i["pk"]["S"] in (f"KEY#{old_hash}", f"KEY#{new_hash}")]
    assert key_items == [f"KEY#{new_hash}"]  # the old key's lookup item is gone


def test_admin_cli_prints_a_key_once_and_never_again(ddb: Any, capsys: pytest.CaptureFixture[str]) -> None:
    from binvault import admin

    def run(*argv: str) -> tuple[int, str, str]:
        capsys.readouterr()  # the handler's log lines before the command are not its output
        code = admin.main(list(argv))
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    # create-account prints the key, once
    code, out, _ = run("create-account", "--requests", "50")
    created = json.loads(out)
    assert code == 0
    assert set(created) == {"accountId", "masterKey"}
    account_id, first_key = created["accountId"], created["masterKey"]
    assert Api(first_key)("POST", "/b", body={"a": 1}).status == 200
    # show-account and set-quota never print it, nor its hash
    secrets_shown: list[str] = []
    for argv in (("show-account", account_id), ("set-quota", account_id, "--requests", "40")):
        code, out, err = run(*argv)
        assert code == 0
        shown = json.loads(out)
        assert set(shown) == {"accountId", "requestsRemaining", "createdAt"}
        secrets_shown.append(out + err)
    # rotate-key prints the new key, once; the old one stops
    code, out, _ = run("rotate-key", account_id)
    rotated = json.loads(out)
    assert code == 0
    assert rotated["accountId"] == account_id
    second_key = rotated["masterKey"]
    assert second_key != first_key
    assert Api(first_key)("POST", "/b", body={"a": 1}).body == INVALID_KEY
    assert Api(second_key)("POST", "/b", body={"a": 1}).status == 200
    code, out, err = run("show-account", account_id)
    secrets_shown.append(out + err)
    assert json.loads(out)["requestsRemaining"] == 40 - 1  # the refused request cost nothing
    everything = "".join(secrets_shown)
    for key in (first_key, second_key):
        assert key not in everything
        assert hashlib.sha256(key.encode()).hexdigest() not in everything


def test_admin_cli_errors_reveal_nothing(ddb: Any, capsys: pytest.CaptureFixture[str]) -> None:
    from binvault import admin

    assert admin.main(["show-account", "no-such-account"]) == 1
    assert admin.main(["rotate-key", "no-such-account"]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert all(json.loads(line) == {"error": "account not found"} for line in captured.err.splitlines())
    assert "Traceback" not in captured.err


# ---- access keys (issue 14) ---------------------------------------------------------------

ALL_PERMISSIONS = {"bins": {"create": True, "read": True, "update": True, "delete": True}}
NO_ACCESS_KEY = {"message": "Access Key not found or it doesn't belong to your account"}
INVALID_ACCESS_KEY = {"message": "Invalid X-Access-Key provided"}


def access_key(account: Account, permissions: dict[str, Any] = ALL_PERMISSIONS) -> dict[str, Any]:
    reply = Api(account.key)("POST", "/a", headers={"X-Key-Name": "isolation"}, body=permissions)
    assert reply.status == 200, reply.raw
    return dict(reply.body)


def with_access_key(secret: str) -> Callable[..., Any]:
    def call(method: str, path: str, body: Any = None, headers: dict[str, str] | None = None) -> Any:
        return Api(None)(method, path, headers={**(headers or {}), "X-Access-Key": secret}, body=body)

    return call


@pytest.mark.parametrize(("method", "path", "body"), ALL_ROUTES[:7], ids=[f"{m} {p}" for m, p, _ in ALL_ROUTES[:7]])
def test_another_accounts_access_key_is_404_and_changes_nothing(
    ddb: Any, owner: Account, stranger: Account, method: str, path: str, body: Any
) -> None:
    # Given the owner's private bin and a stranger's access key with every permission
    bin_id, _ = owned_bin(owner)
    key = access_key(stranger)
    before = items_of(ddb, bin_id)
    owner_quota, stranger_quota = remaining(ddb, owner), remaining(ddb, stranger)
    # When the stranger's key is used on the owner's bin
    reply = with_access_key(key["accessKey"])(method, path.format(id=bin_id), body)
    # Then the same 404 as for a missing bin; nothing changed; the stranger's account paid
    assert (reply.status, reply.body) == (404, NOT_FOUND)
    assert items_of(ddb, bin_id) == before
    assert (remaining(ddb, owner), remaining(ddb, stranger)) == (owner_quota, stranger_quota - 1)


def test_bins_an_access_key_creates_belong_to_its_account(ddb: Any, owner: Account, stranger: Account) -> None:
    key = access_key(owner)
    quota = remaining(ddb, owner)
    created = with_access_key(key["accessKey"])("POST", "/b", {"made": "by a key"})
    bin_id = created.body["metadata"]["id"]
    assert remaining(ddb, owner) == quota - 1
    assert Api(owner.key)("GET", f"/b/{bin_id}").body["record"] == {"made": "by a key"}
    assert (Api(stranger.key)("GET", f"/b/{bin_id}").status, Api(stranger.key)("DELETE", f"/b/{bin_id}").status) == (
        404,
        404,
    )


def test_another_accounts_access_key_id_is_404_and_deletes_nothing(ddb: Any, owner: Account, stranger: Account) -> None:
    key = access_key(owner)
    stranger_quota = remaining(ddb, stranger)
    reply = Api(stranger.key)("DELETE", f"/a/{key['accessKeyId']}")
    assert (reply.status, reply.body) == (404, NO_ACCESS_KEY)
    assert remaining(ddb, stranger) == stranger_quota - 1
    assert Api(stranger.key)("GET", "/a").body == []
    assert [k["accessKeyId"] for k in Api(owner.key)("GET", "/a").body] == [key["accessKeyId"]]
    bin_id, _ = owned_bin(owner)
    assert with_access_key(key["accessKey"])("GET", f"/b/{bin_id}").status == 200


def test_the_master_key_wins_over_an_access_key(ddb: Any, owner: Account, stranger: Account) -> None:
    bin_id, _ = owned_bin(owner)
    owners_key = access_key(owner)["accessKey"]
    both = {"X-Access-Key": owners_key}
    assert Api(stranger.key)("GET", f"/b/{bin_id}", headers=both).body == NOT_FOUND
    assert Api("not-a-key")("GET", f"/b/{bin_id}", headers=both).body == INVALID_KEY


@pytest.mark.parametrize("cache_seconds", ["0", "300"], ids=["key-cache-off", "key-cache-on"])
def test_a_deleted_access_key_stops_at_once_on_every_route(
    ddb: Any, monkeypatch: pytest.MonkeyPatch, cache_seconds: str
) -> None:
    from binvault.logic import auth

    monkeypatch.setenv("KEY_CACHE_SECONDS", cache_seconds)
    reset_caches()
    account = make_account()
    bin_id, _ = owned_bin(account)
    key = access_key(account)
    call = with_access_key(key["accessKey"])
    # Given every route was just used with the access key (a warm container cached it)
    for method, path, body in ALL_ROUTES[:5]:
        assert call(method, path.format(id=bin_id), body).status == 200, (method, path)
    assert (auth.hash_key(key["accessKey"]) in auth._cache) == (cache_seconds != "0")
    # When the owner deletes it
    assert Api(account.key)("DELETE", f"/a/{key['accessKeyId']}").status == 200
    before = table_items(ddb)
    # Then it is refused on every route at once, charging and changing nothing
    for method, path, body in ALL_ROUTES:
        reply = call(method, path.format(id=bin_id), body)
        assert (reply.status, reply.body) == (401, INVALID_ACCESS_KEY), (method, path)
    assert table_items(ddb) == before
    # And a second delete finds nothing
    assert Api(account.key)("DELETE", f"/a/{key['accessKeyId']}").body == NO_ACCESS_KEY


def test_access_keys_are_stored_only_as_hashes(ddb: Any) -> None:
    account = make_account()
    key = access_key(account)
    bin_id, _ = owned_bin(account)
    assert with_access_key(key["accessKey"])("GET", f"/b/{bin_id}").status == 200
    stored = json.dumps(table_items(ddb))
    assert key["accessKey"] not in stored
    assert hashlib.sha256(key["accessKey"].encode()).hexdigest() in stored
    listed = Api(account.key)("GET", "/a").body
    assert [k["accessKey"] for k in listed] == ["********" + key["accessKey"][-4:]]
