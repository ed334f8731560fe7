"""Exactly once under lost responses.

On AWS a DynamoDB call can be applied while its response is lost (a read timeout, a reset
connection); botocore then sends the same call again. For every DynamoDB write call of
every route, these tests let the call be applied, lose its response once, and check that:

- the client gets the same answer as without the fault,
- the table holds exactly the effect of one request (compared with a run without faults),
- the quota is charged exactly once (a refused request, not at all).

The write calls of each route are found by running it once with a recorder, so a route
that gains a write call is covered without editing this file.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from binvault.models.bins import etag_for
from tests.conftest import IDEMPOTENCY_TABLE, TABLE, Account, Api, Reply, make_account, reset_caches, table_items
from tests.support.faults import WRITE_OPERATIONS, injected_on, lose_response

QUOTA = 1000
_TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT[\d:.]+Z")
_ANY_ID = re.compile(r"\b[0-9a-f]{24}\b")  # ids made during the request (collections, schema docs)


@pytest.fixture
def ddb(moto_world: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The module's tables through the API's own client; botocore's backoff is not slept."""
    from botocore.retries import standard

    from binvault.dal.client import dynamodb

    monkeypatch.setattr(standard.ExponentialBackoff, "delay_amount", lambda self, context: 0.0)
    reset_caches()
    return dynamodb()


# ---- the routes ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scenario:
    name: str
    send: Callable[[Api, str], Reply]  # (api, the prepared bin's id) -> the reply
    versions: int = 2  # versions the prepared bin has
    public: bool = False
    quota: int = QUOTA  # requests left when the request is sent


def _put(versioning: bool, **headers: str) -> Callable[[Api, str], Reply]:
    return lambda api, bin_id: api.update(bin_id, {"v": "new"}, versioning=versioning, **headers)


def _request(method: str, path: str, key: bool = True, **headers: str) -> Callable[[Api, str], Reply]:
    def send(api: Api, bin_id: str) -> Reply:
        extra = {name.replace("_", "-"): value for name, value in headers.items()}
        return api(method, path.format(id=bin_id), headers=extra, key=True if key else None)

    return send


def _replayed_post(api: Api, bin_id: str) -> Reply:
    api("POST", "/b", headers={"Idempotency-Key": f"first-{bin_id}"}, body={"made": "once"})
    return api("POST", "/b", headers={"Idempotency-Key": f"first-{bin_id}"}, body={"made": "once"})


def _create_key(api: Api, permissions: dict[str, bool]) -> dict[str, Any]:
    reply = api("POST", "/a", headers={"X-Key-Name": "lost"}, body={"bins": permissions})
    assert reply.status == 200, reply.raw
    return dict(reply.body)


def _delete_key(api: Api, _: str) -> Reply:
    made = _create_key(api, {"read": True})
    return api("DELETE", f"/a/{made['accessKeyId']}")


def _write_with_access_key(api: Api, bin_id: str) -> Reply:
    secret = _create_key(api, {"update": True})["accessKey"]
    return api("PUT", f"/b/{bin_id}", headers={"X-Access-Key": secret}, body={"v": "by a key"}, key=None)


def _collection(api: Api, schema: dict[str, Any] | None = None) -> str:
    collection = str(api("POST", "/c", headers={"X-Collection-Name": "lost"}).body["record"])
    if schema is not None:
        doc = api("POST", "/s", headers={"X-Schema-Doc-Name": "lost"}, body=schema).body["metadata"]["id"]
        api("PUT", f"/c/{collection}/schemadoc/add", headers={"X-Schema-Doc-Id": doc})
    return collection


def _update_schema_doc(api: Api, _: str) -> Reply:
    doc = api("POST", "/s", headers={"X-Schema-Doc-Name": "lost"}, body={"type": "object"}).body["metadata"]["id"]
    return api("PUT", f"/s/{doc}", headers={"X-Schema-Doc-Name": "renamed"}, body={"type": "array"})


def _create_filed(api: Api, _: str) -> Reply:
    collection = _collection(api, {"type": "object", "required": ["username"]})
    return api("POST", "/b", headers={"X-Collection-Id": collection}, body={"username": "ann"})


def _delete_filed(api: Api, _: str) -> Reply:
    collection = _collection(api)
    filed = api("POST", "/b", headers={"X-Collection-Id": collection}, body={"a": 1}).body["metadata"]["id"]
    return api("DELETE", f"/b/{filed}")


def _detach(api: Api, _: str) -> Reply:
    collection = _collection(api, {"type": "object"})
    return api("PUT", f"/c/{collection}/schemadoc/remove")


SCENARIOS = [
    Scenario("create", lambda api, _: api("POST", "/b", body={"created": True})),
    Scenario(
        "create-idempotent",
        lambda api, _: api("POST", "/b", headers={"Idempotency-Key": "c-1", "X-Bin-Name": "n"}, body={"c": 1}),
    ),
    Scenario("create-replayed", _replayed_post),
    Scenario("update-versioned", _put(True)),
    Scenario("update-versioned-idempotent", _put(True, Idempotency_Key="u-1")),
    Scenario("update-in-place-base", _put(False), versions=0),
    Scenario("update-in-place-base-idempotent", _put(False, Idempotency_Key="u-2"), versions=0),
    Scenario("update-in-place-latest", _put(False)),
    Scenario("update-stale-if-match", _put(True, If_Match='"stale"')),
    Scenario("delete-versions", _request("DELETE", "/b/{id}/versions")),
    Scenario("delete-versions-preserve", _request("DELETE", "/b/{id}/versions", X_Preserve_Latest="true")),
    Scenario("delete-versions-none", _request("DELETE", "/b/{id}/versions"), versions=0),
    Scenario("delete-bin", _request("DELETE", "/b/{id}")),
    Scenario("read", _request("GET", "/b/{id}/latest")),
    Scenario("read-public-without-key", _request("GET", "/b/{id}", key=False), public=True),
    Scenario("last-request-of-the-quota", _request("GET", "/b/{id}/versions/count"), quota=1),
    Scenario("quota-exhausted", _request("GET", "/b/{id}"), quota=0),
    # issue 14: the Access Keys API, the meta routes, a write with an access key
    Scenario("create-access-key", lambda api, _: api("POST", "/a", headers={"X-Key-Name": "k"}, body={"bins": {}})),
    Scenario("delete-access-key", _delete_key),
    Scenario("rename-bin", _request("PUT", "/b/{id}/meta/name", X_Bin_Name="renamed")),
    Scenario("set-bin-privacy", _request("PUT", "/b/{id}/meta/privacy", X_Bin_Private="false")),
    Scenario("update-with-access-key", _write_with_access_key),
    # issue 15: collections, schema docs, filed bins
    Scenario("create-collection", lambda api, _: api("POST", "/c", headers={"X-Collection-Name": "c"})),
    Scenario(
        "rename-collection",
        lambda api, _: api("PUT", f"/c/{_collection(api)}/meta/name", headers={"X-Collection-Name": "r"}),
    ),
    Scenario("detach-schema-doc", _detach),
    Scenario(
        "create-schema-doc",
        lambda api, _: api("POST", "/s", headers={"X-Schema-Doc-Name": "s"}, body={"type": "object"}),
    ),
    Scenario("update-schema-doc", _update_schema_doc),
    Scenario("create-filed-bin", _create_filed),
    Scenario("delete-filed-bin", _delete_filed),
]


# ---- what a request did ----------------------------------------------------------------------


def _normal(value: Any, ids: dict[str, str]) -> Any:
    """``value`` with bin ids and timestamps replaced, so two runs compare equal."""
    if isinstance(value, dict):
        return {k: _normal(v, ids) for k, v in value.items()}
    if isinstance(value, list):
        return [_normal(v, ids) for v in value]
    if isinstance(value, str):
        for bin_id, alias in ids.items():
            value = value.replace(bin_id, alias)
        return _ANY_ID.sub("<id>", _TIMESTAMP.sub("<time>", value))
    return value


def _record(attribute: dict[str, Any]) -> Any:
    from binvault.dal import records

    return records.decode(attribute)


def account_state(ddb: Any, account: Account) -> dict[str, Any]:
    """Everything the account owns, as a comparable value: its quota, its bins (record,
    flags, generation, count, rev) with every stored version, in a stable order."""
    items = table_items(ddb)
    owned = {i["pk"]["S"] for i in items if i.get("owner", {}).get("S") == account.id}
    mine = f"ACCOUNT#{account.id}"
    listed = [i for i in items if i["pk"]["S"].startswith(f"LIST#{account.id}#")]
    bins = []
    for pk in owned:
        base = next(i for i in items if i["pk"]["S"] == pk and i["sk"]["S"] == "BIN")
        versions = sorted((i["sk"]["S"], _record(i["record"])) for i in items if i["pk"]["S"] == pk and i is not base)
        bins.append(
            {
                "record": _record(base["record"]),
                "private": base["private"]["BOOL"],
                "name": base.get("name", {}).get("S"),
                "generation": base["generation"]["N"],
                "versionCount": base["versionCount"]["N"],
                "rev": base["rev"]["N"],
                "purgeBelow": base.get("purgeBelow", {}).get("N"),
                "filed": "collectionId" in base,
                "versions": versions,
            }
        )
    account_item = next(i for i in items if i["pk"]["S"] == f"ACCOUNT#{account.id}" and i["sk"]["S"] == "ACCOUNT")
    entries = account_item.get("accessKeys", {}).get("M", {}).values()
    return {
        "charged": QUOTA
        - sum(  # the account's quota shards
            int(i["requestsRemaining"]["N"])
            for i in items
            if i["pk"]["S"] == f"ACCOUNT#{account.id}" and i["sk"]["S"].startswith("QUOTA#")
        ),
        "bins": sorted(bins, key=lambda b: json.dumps(b, sort_keys=True)),
        "accessKeys": sorted(json.dumps([e["M"]["name"], e["M"]["permissions"]], sort_keys=True) for e in entries),
        "accessKeyItems": sum(1 for i in items if "accessKeyId" in i and i.get("accountId", {}).get("S") == account.id),
        "listing": sorted(
            (i["pk"]["S"].endswith("#uncategorized"), i.get("name", {}).get("S", ""), i["private"]["BOOL"])
            for i in listed
        ),
        "collections": sorted(
            (i["name"]["S"], "schemaDocId" in i, i["rev"]["N"])
            for i in items
            if i["pk"]["S"] == mine and i["sk"]["S"].startswith("COLL#")
        ),
        "collectionCount": [i["count"]["N"] for i in items if i["pk"]["S"] == mine and i["sk"]["S"] == "COLLECTIONS"],
        "schemaDocs": sorted(
            (i["name"]["S"], i["schema"]["S"], i["rev"]["N"])
            for i in items
            if i["pk"]["S"] == mine and i["sk"]["S"].startswith("SCHEMA#")
        ),
    }


def idempotency_records(ddb: Any) -> dict[str, dict[str, Any]]:
    return {i["id"]["S"]: i for i in table_items(ddb, IDEMPOTENCY_TABLE)}


@dataclass
class Run:
    reply: Any
    state: dict[str, Any]
    remembered: list[Any]  # the idempotency records the request left
    writes: int  # write calls the request made
    operations: set[str]  # which kinds


def _wipe(ddb: Any) -> None:
    """Empty both tables: each run starts from nothing, so that its scans read its own items
    only (a module's runs left ~10k items behind, and every scan read them all)."""
    for table, key in ((TABLE, ("pk", "sk")), (IDEMPOTENCY_TABLE, ("id",))):
        items = table_items(ddb, table)
        for start in range(0, len(items), 25):
            deletes = [{"DeleteRequest": {"Key": {k: i[k] for k in key}}} for i in items[start : start + 25]]
            ddb.batch_write_item(RequestItems={table: deletes})


def run(ddb: Any, scenario: Scenario, lose: int | None = None) -> Run:
    """Prepare a fresh account and bin in empty tables, send the request (losing the
    response of write call ``lose``, if given), and describe what it did."""
    from binvault import admin
    from binvault.dal import accounts
    from binvault.logic import auth, quota

    _wipe(ddb)
    auth.clear_cache()  # the keys cached for accounts the wipe removed
    account = make_account()
    api = Api(account.key)
    created = api("POST", "/b", headers={"X-Bin-Private": "false" if scenario.public else "true"}, body={"v": 0})
    bin_id = created.body["metadata"]["id"]
    for n in range(1, scenario.versions + 1):
        assert api.update(bin_id, {"v": n}).status == 200
    admin.set_quota(account.id, scenario.quota)
    # the request comes to a new container: with leases, it takes one rather than spend the
    # lease the preparation left behind
    quota.BOOK = quota.LeaseBook()
    before = idempotency_records(ddb)
    # the shards the charge picks, the same in every run: which one is random, and a charge
    # that meets an empty shard makes more write calls than one that does not
    with pytest.MonkeyPatch.context() as patch, injected_on(ddb) as faults:
        patch.setattr(accounts, "random", random.Random(scenario.name))
        fault = lose_response(faults, lose) if lose is not None else None
        reply = scenario.send(api, bin_id)
    if fault is not None:
        assert fault.injected == 1, f"{scenario.name}: write call {lose} was never made"
    ids = {bin_id: "<bin>"}
    if isinstance(reply.body, dict) and "accessKey" in reply.body:  # a new access key: random
        ids |= {reply.body["accessKey"]: "<access key>", reply.body["accessKeyId"]: "<access key id>"}
    if isinstance(reply.body, dict) and "id" in reply.body.get("metadata", {}):
        ids[reply.body["metadata"]["id"]] = "<bin>" if reply.body["metadata"]["id"] == bin_id else "<new>"
    metadata = reply.body.get("metadata", {}) if isinstance(reply.body, dict) else {}
    if "etag" in reply.headers:
        _check_etag(ddb, metadata.get("id") or metadata.get("parentId") or reply.body["record"], reply.headers["etag"])
    state = account_state(ddb, account)
    state["charged"] -= QUOTA - scenario.quota
    after = idempotency_records(ddb)
    remembered = [_remembered(after[i], reply, ids) for i in sorted(set(after) - set(before))]
    writes = {op: n for op, n in faults.calls.items() if op in WRITE_OPERATIONS}
    return Run(_normal([reply.status, reply.body], ids), state, remembered, sum(writes.values()), set(writes))


def _remembered(item: dict[str, Any], reply: Reply, ids: dict[str, str]) -> Any:
    """An idempotency record, less its per-attempt parts; its ETag must be the reply's."""
    kept = {k: v for k, v in item.items() if k not in {"id", "token", "expiration", "lockedUntil", "result"}}
    if "result" in item:
        result = json.loads(item["result"]["S"])
        kept["result"] = {**result, "etag": result["etag"] == reply.headers.get("etag")}
    return _normal(kept, ids)


def _check_etag(ddb: Any, bin_id: str, etag: str) -> None:
    """A reply's ETag is the ETag of the state the bin is in now."""
    from binvault.dal import keys

    item = ddb.get_item(TableName=TABLE, Key=keys.bin_key(bin_id), ConsistentRead=True).get("Item")
    if item is not None:
        assert etag == etag_for(bin_id, int(item["rev"]["N"]))


# ---- the tests -------------------------------------------------------------------------------


@pytest.fixture(params=[1, 10], ids=["exact", "leases"])
def lease_size(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> int:
    """Quota charging: exact (one decrement a request) or from leases of 10 (logic/quota.py)."""
    from binvault.logic import quota
    from binvault.models.settings import get_settings

    monkeypatch.setenv("QUOTA_LEASE_SIZE", str(request.param))
    get_settings.cache_clear()
    monkeypatch.setattr(quota, "BOOK", quota.LeaseBook())
    return int(request.param)


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.name)
def test_every_write_call_of_the_route_survives_a_lost_response(ddb: Any, scenario: Scenario, lease_size: int) -> None:
    # Given what the route does when nothing goes wrong
    clean = run(ddb, scenario)
    assert clean.writes >= 1, f"{scenario.name} makes no write call (the quota is one)"
    for lost in range(clean.writes):
        # When DynamoDB applies that write call and its response is lost
        faulty = run(ddb, scenario, lose=lost)
        where = f"{scenario.name}, write call {lost} of {clean.writes}"
        # Then the client gets the same answer
        assert faulty.reply == clean.reply, where
        # And the table holds the effect of exactly one request, charged exactly once
        assert faulty.state == clean.state, where
        assert faulty.remembered == clean.remembered, where


def test_the_scenarios_cover_every_kind_of_write(ddb: Any) -> None:
    """The routes above together make every kind of write call the API makes."""
    made = set().union(*(run(ddb, scenario).operations for scenario in SCENARIOS))
    # (no DeleteItem since issue 15: a bin is deleted with its listing item, in one transaction)
    assert made == {"PutItem", "UpdateItem", "TransactWriteItems"}


def test_a_refused_request_is_never_charged_by_its_retry(ddb: Any) -> None:
    # Given an account with one request left, whose charge is applied but its response lost
    last = next(s for s in SCENARIOS if s.name == "last-request-of-the-quota")
    clean = run(ddb, last)
    faulty = run(ddb, last, lose=0)
    # Then the request was allowed once and charged once: not refused *and* charged
    assert faulty.reply[0] == clean.reply[0] == 200
    assert faulty.state["charged"] == clean.state["charged"] == 1


# ---- the operator CLI's writes -----------------------------------------------------------------


def _accounts_and_keys(ddb: Any) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    items = table_items(ddb)
    return [i for i in items if i["sk"]["S"] == "ACCOUNT"], [i for i in items if i["sk"]["S"] == "KEY"]


def test_create_account_survives_a_lost_response(ddb: Any) -> None:
    from binvault import admin

    accounts_before, keys_before = _accounts_and_keys(ddb)
    with injected_on(ddb) as faults:
        fault = lose_response(faults, 0)
        created = admin.create_account(7)
    assert fault.injected == 1
    accounts, keys = _accounts_and_keys(ddb)
    assert (len(accounts), len(keys)) == (len(accounts_before) + 1, len(keys_before) + 1)
    assert Api(created["masterKey"])("GET", "/b/" + "0" * 24).status == 404  # the printed key works
    assert admin.show_account(created["accountId"])["requestsRemaining"] == 6


def test_rotate_key_survives_a_lost_response(ddb: Any) -> None:
    from binvault import admin

    account = make_account()
    with injected_on(ddb) as faults:
        fault = lose_response(faults, 0)
        rotated = admin.rotate_key(account.id)
    assert fault.injected == 1
    assert Api(account.key)("GET", "/b/" + "0" * 24).status == 401
    assert Api(rotated["masterKey"])("GET", "/b/" + "0" * 24).status == 404
    keys = [i for i in _accounts_and_keys(ddb)[1] if i["accountId"]["S"] == account.id]
    assert len(keys) == 1  # the old key's item is gone, the new one stored once


def test_set_quota_survives_a_lost_response(ddb: Any) -> None:
    from binvault import admin

    account = make_account()
    with injected_on(ddb) as faults:
        fault = lose_response(faults, 0)
        shown = admin.set_quota(account.id, 50)
    assert fault.injected == 1
    assert shown["requestsRemaining"] == 50
    Api(account.key)("GET", "/b/" + "0" * 24)
    assert admin.show_account(account.id)["requestsRemaining"] == 49
