"""The request path's DynamoDB calls are a constant, whatever the number of versions.

Counted through botocore's event hooks (never timed): delete-versions is auth+quota, the
base read, the latest-version read when preserving, and one conditional write. The quota
charge (auth+quota) is one TransactWriteItems of one quota shard, with a ClientRequestToken
for exactly-once (docs/quota.md); it was an UpdateItem of the account item before shards.
"""

from __future__ import annotations

from collections import Counter

import pytest

from tests.conftest import Api, CallCounter, seed_versions

SIZES = [0, 1, 99, 100, 1000]


def _warm(api: Api, bin_id: str) -> None:
    api("GET", f"/b/{bin_id}/versions/count")  # fills the key cache, as a warm container has


@pytest.mark.parametrize("count", SIZES)
def test_delete_versions_calls_are_constant(api: Api, new_bin: str, dynamodb_calls: CallCounter, count: int) -> None:
    seed_versions(new_bin, count) if count else None
    _warm(api, new_bin)
    dynamodb_calls.reset()
    reply = api("DELETE", f"/b/{new_bin}/versions")
    assert reply.body["metadata"]["versionsDeleted"] == count
    expected = (
        Counter({"TransactWriteItems": 1, "UpdateItem": 1, "GetItem": 1})
        if count
        else Counter({"TransactWriteItems": 1, "GetItem": 1})
    )
    assert dynamodb_calls.calls == expected


@pytest.mark.parametrize("count", SIZES)
def test_delete_versions_preserving_calls_are_constant(
    api: Api, new_bin: str, dynamodb_calls: CallCounter, count: int
) -> None:
    seed_versions(new_bin, count) if count else None
    _warm(api, new_bin)
    dynamodb_calls.reset()
    reply = api("DELETE", f"/b/{new_bin}/versions", headers={"X-Preserve-Latest": "true"})
    calls = Counter(dynamodb_calls.calls)
    assert reply.body["metadata"]["versionsDeleted"] == count
    if count:
        assert calls == Counter({"TransactWriteItems": 1, "UpdateItem": 1, "GetItem": 2})  # + the latest version's read
        assert api("GET", f"/b/{new_bin}").body["record"] == {"v": count}
    else:
        assert calls == Counter({"TransactWriteItems": 1, "GetItem": 1})


@pytest.mark.parametrize("count", SIZES)
def test_delete_bin_calls_are_constant(api: Api, new_bin: str, dynamodb_calls: CallCounter, count: int) -> None:
    seed_versions(new_bin, count) if count else None
    _warm(api, new_bin)
    dynamodb_calls.reset()
    assert api("DELETE", f"/b/{new_bin}").body["metadata"]["versionsDeleted"] == count
    # the base item and its listing item go in one transaction (dal/listing.py)
    assert dynamodb_calls.calls == Counter({"TransactWriteItems": 2, "GetItem": 1})


def test_cold_key_cache_adds_one_lookup(api: Api, new_bin: str, dynamodb_calls: CallCounter) -> None:
    from binvault.logic import auth

    auth.clear_cache()
    dynamodb_calls.reset()
    api("GET", f"/b/{new_bin}")
    assert dynamodb_calls.calls == Counter({"TransactWriteItems": 1, "GetItem": 2})


@pytest.mark.parametrize(
    ("method", "path", "body", "headers", "expected"),
    [
        ("GET", "/b/{id}", None, {}, {"TransactWriteItems": 1, "GetItem": 1}),
        ("GET", "/b/{id}/latest", None, {}, {"TransactWriteItems": 1, "GetItem": 2}),
        ("GET", "/b/{id}/1", None, {}, {"TransactWriteItems": 1, "GetItem": 2}),
        ("GET", "/b/{id}/versions/count", None, {}, {"TransactWriteItems": 1, "GetItem": 1}),
        (
            "PUT",
            "/b/{id}",
            {"a": 1},
            {"X-Bin-Versioning": "true"},
            {"TransactWriteItems": 2, "GetItem": 1},
        ),
        ("PUT", "/b/{id}", {"a": 1}, {}, {"TransactWriteItems": 2, "GetItem": 1}),
        ("POST", "/b", {"a": 1}, {}, {"TransactWriteItems": 2}),  # the bin + its listing item
    ],
)
def test_route_call_counts(
    api: Api,
    new_bin: str,
    dynamodb_calls: CallCounter,
    method: str,
    path: str,
    body: object,
    headers: dict[str, str],
    expected: dict[str, int],
) -> None:
    api.update(new_bin, {"v": 1})
    _warm(api, new_bin)
    dynamodb_calls.reset()
    assert api(method, path.format(id=new_bin), headers=headers, body=body).status == 200
    assert dynamodb_calls.calls == Counter(expected)


def test_rejected_input_makes_no_call(api: Api, new_bin: str, dynamodb_calls: CallCounter) -> None:
    dynamodb_calls.reset()
    api("DELETE", f"/b/{new_bin}/versions", headers={"X-Preserve-Latest": "perhaps"})
    api("PUT", f"/b/{new_bin}", headers={"Content-Type": "application/json"}, body="{}")
    api("GET", "/b/not-an-id")
    assert dynamodb_calls.total == 0
