"""Collections: POST /v3/c, GET /v3/c, PUT /v3/c/{id}/meta/name, and X-Collection-Id on
POST /v3/b (JSONBIN-PARITY.md section 4); the per-account limit under concurrency."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from tests.conftest import Account, Api, table_items

OTHER_ID = "0123456789abcdef01234567"


def _collection(api: Api, name: str = "things") -> str:
    reply = api("POST", "/c", headers={"X-Collection-Name": name})
    assert reply.status == 200, reply.raw
    return str(reply.body["record"])


def test_create_answers_the_documented_shape(api: Api) -> None:
    reply = api("POST", "/c", headers={"X-Collection-Name": "My Collection"}, body="{}")
    assert reply.status == 200
    assert set(reply.body) == {"record", "metadata"}
    assert reply.body["metadata"]["name"] == "My Collection"
    assert reply.body["metadata"]["createdAt"].endswith("Z")
    assert len(reply.body["record"]) == 24


def test_list_rename_and_file_a_bin(api: Api) -> None:
    first = _collection(api, "first")
    second = _collection(api, "second")
    renamed = api("PUT", f"/c/{first}/meta/name", headers={"X-Collection-Name": "renamed"})
    assert renamed.body == {"record": first, "metadata": {"name": "renamed"}}
    listed = api("GET", "/c").body
    assert [(c["record"], c["collectionMeta"], c["schemaDocId"]) for c in listed] == [
        (first, {"name": "renamed"}, None),
        (second, {"name": "second"}, None),
    ]
    made = api("POST", "/b", headers={"X-Collection-Id": second}, body={"a": 1})
    assert made.body["metadata"]["collectionId"] == second
    read = api("GET", f"/b/{made.body['metadata']['id']}")
    assert read.body["metadata"]["collectionId"] == second
    plain = api("POST", "/b", body={"a": 1})
    assert "collectionId" not in plain.body["metadata"]
    assert "collectionId" not in api("GET", f"/b/{plain.body['metadata']['id']}").body["metadata"]


@pytest.mark.parametrize(
    ("method", "path", "headers", "status", "message"),
    [
        (
            "POST",
            "/c",
            {},
            400,
            "You need to pass X-Collection-Name header to set a name for the Schema Doc",
        ),
        ("POST", "/c", {"X-Collection-Name": "  "}, 400, "X-Collection-Name cannot be blank"),
        ("POST", "/c", {"X-Collection-Name": "x" * 33}, 400, "Name of the Collection cannot be above 32 characters"),
        ("POST", "/c", {"X-Collection-Name": "a\x07b"}, 400, "X-Collection-Name must be printable characters"),
        ("PUT", "/c/nope/meta/name", {"X-Collection-Name": "n"}, 400, "Invalid Collection Id provided"),
        ("PUT", "/c/uncategorized/meta/name", {"X-Collection-Name": "n"}, 400, "Invalid Collection Id provided"),
        (
            "PUT",
            "/c/{c}/meta/name",
            {},
            400,
            "You need to pass X-Collection-Name header to set a name for the Schema Doc",
        ),
        ("PUT", "/c/{c}/meta/name", {"X-Collection-Name": ""}, 400, "X-Collection-Name cannot be blank"),
        ("PUT", f"/c/{OTHER_ID}/meta/name", {"X-Collection-Name": "n"}, 404, "Collection not found"),
        ("GET", "/c", {}, 200, None),
    ],
)
def test_collection_errors(
    api: Api, method: str, path: str, headers: dict[str, str], status: int, message: str | None
) -> None:
    collection = _collection(api)
    reply = api(method, path.format(c=collection), headers=headers)
    assert reply.status == status
    if message is not None:
        assert reply.body == {"message": message}


@pytest.mark.parametrize("value", ["nope", OTHER_ID, "uncategorized"])
def test_filing_in_a_collection_that_is_not_the_callers_is_refused_and_stores_nothing(
    api: Api, ddb: Any, value: str
) -> None:
    before = table_items(ddb)
    reply = api("POST", "/b", headers={"X-Collection-Id": value}, body={"a": 1})
    assert (reply.status, reply.body) == (400, {"message": "Invalid Collection Id provided"})
    assert [i for i in table_items(ddb) if not i["pk"]["S"].startswith("ACCOUNT#")] == [
        i for i in before if not i["pk"]["S"].startswith("ACCOUNT#")
    ]


def test_the_master_key_is_required(api: Api) -> None:
    collection = _collection(api)
    assert api("POST", "/c", headers={"X-Collection-Name": "n"}, key=None).status == 401
    assert api("GET", "/c", key="wrong").message == "Invalid X-Master-Key provided"
    secret = api("POST", "/a", headers={"X-Key-Name": "k"}, body={"bins": {"create": True}}).body["accessKey"]
    refused = api(
        "PUT", f"/c/{collection}/meta/name", headers={"X-Collection-Name": "n", "X-Access-Key": secret}, key=None
    )
    assert (refused.status, refused.message) == (401, "You need to pass X-Master-Key in the header")
    # An access key may still file the bins it creates in the account's collections
    filed = api("POST", "/b", headers={"X-Access-Key": secret, "X-Collection-Id": collection}, body={"a": 1}, key=None)
    assert filed.body["metadata"]["collectionId"] == collection


@pytest.mark.parametrize(
    ("path", "headers", "body"),
    [("/c", {"X-Collection-Name": "second"}, None), ("/s", {"X-Schema-Doc-Name": "second"}, {"type": "object"})],
)
def test_an_id_collision_draws_another_id_and_counts_once(
    api: Api, ddb: Any, monkeypatch: pytest.MonkeyPatch, path: str, headers: dict[str, str], body: Any
) -> None:
    from binvault.logic import collections, schema_docs

    first = api("POST", path, headers={k: "first" for k in headers}, body=body)
    assert first.status == 200, first.raw
    taken = first.body["metadata"]["id"] if path == "/s" else first.body["record"]
    drawn = iter([taken, OTHER_ID])
    for module in (collections, schema_docs):
        monkeypatch.setattr(module, "new_id", lambda: next(drawn))
    second = api("POST", path, headers=headers, body=body)
    assert second.status == 200, second.raw
    assert (second.body["metadata"]["id"] if path == "/s" else second.body["record"]) == OTHER_ID
    # the first is untouched, and the counter moved once for each
    counters = [i for i in table_items(ddb) if i["sk"]["S"] in ("COLLECTIONS", "SCHEMADOCS")]
    assert [c["count"]["N"] for c in counters] == ["2"]


def test_the_collection_limit(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    from binvault.models.settings import get_settings

    monkeypatch.setenv("MAX_COLLECTIONS", "2")
    get_settings.cache_clear()
    _collection(api)
    _collection(api)
    refused = api("POST", "/c", headers={"X-Collection-Name": "third"})
    assert (refused.status, refused.body) == (403, {"message": "You can create up to 2 Collections"})
    assert len(api("GET", "/c").body) == 2


def test_the_collection_limit_holds_under_concurrent_creates(
    account: Account, api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    from binvault.exceptions import TooManyCollections
    from binvault.logic import collections
    from binvault.models.bins import Credentials
    from binvault.models.settings import get_settings

    monkeypatch.setenv("MAX_COLLECTIONS", "5")
    get_settings.cache_clear()

    def create(n: int) -> str:
        try:
            collections.create(Credentials(master_key=account.key), f"c{n}")
        except TooManyCollections:
            return "refused"
        return "created"

    with ThreadPoolExecutor(max_workers=12) as pool:
        outcomes = list(pool.map(create, range(12)))
    assert outcomes.count("created") == 5 and outcomes.count("refused") == 7
    assert len(api("GET", "/c").body) == 5


def test_another_accounts_collection_answers_like_a_missing_one(api: Api, other_account: Account) -> None:
    theirs = _collection(Api(other_account.key), "theirs")
    missing = OTHER_ID
    for collection in (theirs, missing):
        assert api("PUT", f"/c/{collection}/meta/name", headers={"X-Collection-Name": "x"}).body == {
            "message": "Collection not found"
        }
        assert api("GET", f"/c/{collection}/bins").body == {"message": "Collection not found"}
        assert api("PUT", f"/c/{collection}/schemadoc/remove").body == {"message": "Collection not found"}
        assert api("POST", "/b", headers={"X-Collection-Id": collection}, body={"a": 1}).body == {
            "message": "Invalid Collection Id provided"
        }
    assert api("GET", "/c").body == []
    assert [c["collectionMeta"]["name"] for c in Api(other_account.key)("GET", "/c").body] == ["theirs"]


def test_a_transaction_conflict_on_the_counter_is_retried(api: Api, ddb: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """On AWS, concurrent creates of one account's collections can cancel each other's
    transaction (TransactionConflict): nothing was applied, so the create tries again."""
    from binvault.dal import capped
    from tests.support.faults import CONFLICT, injected_on, on_bin_write

    monkeypatch.setattr(capped.time, "sleep", lambda seconds: None)
    with injected_on(ddb) as faults:
        # on the create's transaction, not the request's quota charge
        conflict = faults.inject("TransactWriteItems", times=2, when=on_bin_write, response=CONFLICT)
        reply = api("POST", "/c", headers={"X-Collection-Name": "contended"})
    assert reply.status == 200 and conflict.injected == 2
    assert [c["collectionMeta"]["name"] for c in api("GET", "/c").body] == ["contended"]
