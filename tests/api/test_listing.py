"""Listing bins: GET /v3/c/{collectionId}/bins[/{lastBinId}] and /v3/c/uncategorized/bins.

Pages of 10 in creation order (ties by id), one DynamoDB Query per page, and correct while
bins are created and deleted: a bin's listing item is written and deleted in the bin's own
transaction (dal/listing.py).
"""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from tests.conftest import Account, Api, CallCounter, table_items

SORTS = ["ascending", "descending"]


def _collection(api: Api, name: str = "things") -> str:
    reply = api("POST", "/c", headers={"X-Collection-Name": name})
    assert reply.status == 200, reply.raw
    return str(reply.body["record"])


def _create(api: Api, collection: str | None, n: int) -> dict[str, Any]:
    headers = {"X-Bin-Name": f"bin {n}"}
    if collection is not None:
        headers["X-Collection-Id"] = collection
    reply = api("POST", "/b", headers=headers, body={"n": n})
    assert reply.status == 200, reply.raw
    return dict(reply.body["metadata"])


def _order(created: list[dict[str, Any]], order: str) -> list[str]:
    ordered = sorted(created, key=lambda m: (m["createdAt"], m["id"]))
    ids = [m["id"] for m in ordered]
    return ids if order == "ascending" else ids[::-1]


def _all_pages(api: Api, base: str, order: str) -> list[list[dict[str, Any]]]:
    pages: list[list[dict[str, Any]]] = []
    path = base
    while True:
        reply = api("GET", path, headers={"X-Sort-Order": order})
        assert reply.status == 200, reply.raw
        pages.append(reply.body)
        if not reply.body:
            return pages
        path = f"{base}/{reply.body[-1]['record']}"


@pytest.mark.parametrize("order", SORTS)
def test_paging_through_25_bins_with_a_cursor(api: Api, order: str) -> None:
    # Given 25 bins in a collection and 3 elsewhere
    collection = _collection(api)
    created = [_create(api, collection, n) for n in range(25)]
    for n in range(3):
        _create(api, None, 100 + n)
    # When the client pages through the collection
    pages = _all_pages(api, f"/c/{collection}/bins", order)
    # Then 10, 10, 5, then [] at the end, in creation order, each bin once
    assert [len(page) for page in pages] == [10, 10, 5, 0]
    listed = [item["record"] for page in pages for item in page]
    assert listed == _order(created, order)
    by_id = {m["id"]: m for m in created}
    for item in pages[0]:
        meta = by_id[item["record"]]
        assert item == {
            "snippetMeta": {"name": meta["name"]},
            "private": True,
            "record": meta["id"],
            "createdAt": meta["createdAt"],
        }


def test_descending_is_the_default_and_the_sort_order_is_case_insensitive(api: Api) -> None:
    collection = _collection(api)
    created = [_create(api, collection, n) for n in range(3)]
    default = [i["record"] for i in api("GET", f"/c/{collection}/bins").body]
    assert default == _order(created, "descending")
    shouted = api("GET", f"/c/{collection}/bins", headers={"X-Sort-Order": "ASCENDING"}).body
    assert [i["record"] for i in shouted] == _order(created, "ascending")


def test_a_bin_deleted_between_two_pages_is_not_listed_and_nothing_is_skipped(api: Api) -> None:
    collection = _collection(api)
    created = [_create(api, collection, n) for n in range(25)]
    expected = _order(created, "ascending")
    first = api("GET", f"/c/{collection}/bins", headers={"X-Sort-Order": "ascending"}).body
    assert [i["record"] for i in first] == expected[:10]
    # When a bin of the next page and one already seen are deleted
    gone = {expected[12], expected[3]}
    for bin_id in gone:
        assert api("DELETE", f"/b/{bin_id}").status == 200
    after = f"/c/{collection}/bins/{first[-1]['record']}"
    second = api("GET", after, headers={"X-Sort-Order": "ascending"}).body
    third = api("GET", f"/c/{collection}/bins/{second[-1]['record']}", headers={"X-Sort-Order": "ascending"}).body
    # Then the rest follows without the deleted bin, none skipped, none twice
    assert [i["record"] for i in second + third] == [b for b in expected[10:] if b not in gone]
    # And a deleted bin is no cursor any more
    assert api("GET", f"/c/{collection}/bins/{expected[3]}").message == "Invalid Bin Id provided"


def test_a_rename_and_a_privacy_change_show_in_the_listing(api: Api) -> None:
    collection = _collection(api)
    made = _create(api, collection, 1)
    assert api("PUT", f"/b/{made['id']}/meta/name", headers={"X-Bin-Name": "renamed"}).status == 200
    assert api("PUT", f"/b/{made['id']}/meta/privacy", headers={"X-Bin-Private": "false"}).status == 200
    (item,) = api("GET", f"/c/{collection}/bins").body
    assert item["snippetMeta"] == {"name": "renamed"} and item["private"] is False
    unnamed = api("POST", "/b", headers={"X-Collection-Id": collection}, body={"a": 1}).body["metadata"]["id"]
    shown = {i["record"]: i["snippetMeta"] for i in api("GET", f"/c/{collection}/bins").body}
    assert shown[unnamed] == {}


def test_uncategorized_lists_only_the_bins_in_no_collection(api: Api) -> None:
    collection = _collection(api)
    loose = [_create(api, None, n) for n in range(12)]
    _create(api, collection, 99)
    pages = _all_pages(api, "/c/uncategorized/bins", "ascending")
    assert [len(page) for page in pages] == [10, 2, 0]
    assert [i["record"] for page in pages for i in page] == _order(loose, "ascending")
    # A cursor from another listing is refused
    filed = api("GET", f"/c/{collection}/bins").body[0]["record"]
    assert api("GET", f"/c/uncategorized/bins/{filed}").message == "Invalid Bin Id provided"
    assert api("GET", f"/c/{collection}/bins/{loose[0]['id']}").message == "Invalid Bin Id provided"


def test_an_empty_listing_is_an_empty_page(api: Api) -> None:
    assert api("GET", "/c/uncategorized/bins").body == []
    assert api("GET", f"/c/{_collection(api)}/bins").body == []


def test_twenty_concurrent_creates_into_one_collection_are_each_listed_once(api: Api, account: Account) -> None:
    from binvault.logic import bins

    collection = _collection(api)

    def create(n: int) -> str:
        outcome = bins.create_bin(account.key, {"n": n}, True, None, collection_id=collection)
        return str(outcome.body["metadata"]["id"])

    with ThreadPoolExecutor(max_workers=20) as pool:
        made = list(pool.map(create, range(20)))
    listed = [i["record"] for page in _all_pages(api, f"/c/{collection}/bins", "descending") for i in page]
    assert sorted(listed) == sorted(made) and len(set(listed)) == 20


def test_concurrent_creates_and_deletes_leave_exactly_the_live_bins_listed(api: Api, account: Account) -> None:
    from binvault.logic import bins

    collection = _collection(api)
    doomed = [_create(api, collection, n)["id"] for n in range(10)]

    def work(n: int) -> str | None:
        if n < 10:
            bins.delete_bin(account.key, doomed[n], None)
            return None
        return str(bins.create_bin(account.key, {"n": n}, True, None, collection_id=collection).body["metadata"]["id"])

    with ThreadPoolExecutor(max_workers=8) as pool:
        live = {bin_id for bin_id in pool.map(work, range(20)) if bin_id}
    listed = [i["record"] for page in _all_pages(api, f"/c/{collection}/bins", "ascending") for i in page]
    assert sorted(listed) == sorted(live)


def test_each_page_is_one_query(api: Api, dynamodb_calls: CallCounter) -> None:
    collection = _collection(api)
    created = [_create(api, collection, n) for n in range(12)]
    cursor = _order(created, "descending")[9]
    loose = _create(api, None, 1)["id"]
    api("GET", "/c")  # warm the key cache, as a warm container has it
    cases = [
        (f"/c/{collection}/bins", {"TransactWriteItems": 1, "GetItem": 1, "Query": 1}),  # + the collection
        (f"/c/{collection}/bins/{cursor}", {"TransactWriteItems": 1, "GetItem": 1, "Query": 1}),  # + the cursor bin
        ("/c/uncategorized/bins", {"TransactWriteItems": 1, "Query": 1}),
        (f"/c/uncategorized/bins/{loose}", {"TransactWriteItems": 1, "GetItem": 1, "Query": 1}),
    ]
    for path, expected in cases:
        dynamodb_calls.reset()
        assert api("GET", path).status == 200
        assert dynamodb_calls.calls == Counter(expected), path


def test_listing_items_follow_their_bins(api: Api, ddb: Any) -> None:
    """One listing item per live bin, in its collection's partition, and none left behind."""
    collection = _collection(api)
    kept = _create(api, collection, 1)["id"]
    gone = _create(api, None, 2)["id"]
    api("DELETE", f"/b/{gone}")
    listing = [i for i in table_items(ddb) if i["pk"]["S"].startswith("LIST#")]
    assert [(i["pk"]["S"].rsplit("#", 1)[-1], i["binId"]["S"]) for i in listing] == [(collection, kept)]


@pytest.mark.parametrize(
    ("path", "headers", "status", "message"),
    [
        ("/c/not-an-id/bins", {}, 400, "Invalid Collection Id provided"),
        ("/c/{c}/bins/not-a-bin", {}, 400, "Invalid Bin Id provided"),
        ("/c/uncategorized/bins/not-a-bin", {}, 400, "Invalid Bin Id provided"),
        ("/c/{c}/bins", {"X-Sort-Order": "sideways"}, 400, "X-Sort-Order must be ascending or descending"),
        ("/c/0123456789abcdef01234567/bins", {}, 404, "Collection not found"),
        ("/c/0123456789abcdef01234567/bins/0123456789abcdef01234567", {}, 404, "Collection not found"),
        ("/c/{c}/bins/0123456789abcdef01234567", {}, 400, "Invalid Bin Id provided"),
    ],
)
def test_listing_errors(api: Api, path: str, headers: dict[str, str], status: int, message: str) -> None:
    collection = _collection(api)
    reply = api("GET", path.format(c=collection), headers=headers)
    assert (reply.status, reply.body) == (status, {"message": message})


def test_listing_needs_the_master_key(api: Api) -> None:
    collection = _collection(api)
    assert api("GET", f"/c/{collection}/bins", key=None).message == "You need to pass X-Master-Key in the header"
    assert api("GET", "/c/uncategorized/bins", key="wrong").message == "Invalid X-Master-Key provided"
    made = api("POST", "/a", headers={"X-Key-Name": "reader"}, body={"bins": {"read": True}}).body["accessKey"]
    refused = api("GET", "/c/uncategorized/bins", headers={"X-Access-Key": made}, key=None)
    assert (refused.status, refused.message) == (401, "You need to pass X-Master-Key in the header")


def test_backfill_lists_bins_stored_before_listings_existed(api: Api, ddb: Any) -> None:
    from binvault import admin
    from binvault.dal import keys

    # Given two bins whose listing items are missing (as for bins stored before issue 15)
    older = [_create(api, None, n)["id"] for n in range(2)]
    for item in table_items(ddb):
        if item["pk"]["S"].startswith("LIST#"):
            ddb.delete_item(TableName="binvault-test", Key={"pk": item["pk"], "sk": item["sk"]})
    assert api("GET", "/c/uncategorized/bins").body == []
    api("PUT", f"/b/{older[1]}/meta/name", headers={"X-Bin-Name": "renamed"})  # a rename writes it back
    # When the operator backfills, twice
    assert admin.main(["backfill-listing"]) == 0
    assert admin.main(["backfill-listing"]) == 0
    # Then every bin is listed once, with its current name
    listed = api("GET", "/c/uncategorized/bins", headers={"X-Sort-Order": "ascending"}).body
    assert [i["record"] for i in listed] == older
    assert listed[1]["snippetMeta"] == {"name": "renamed"}
    assert len([i for i in table_items(ddb) if i["pk"]["S"].startswith(keys.LIST_PREFIX)]) == 2
