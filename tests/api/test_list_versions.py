"""GET /v3/b/{binId}/versions (a binvault extension): a bin's versions newest first, paged,
with the auth, quota, access key and error rules of the other reads; one Query a page."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from tests.conftest import Account, Api, CallCounter, add_versions, make_account, seed_versions


def _pages(api: Api, bin_id: str) -> list[list[int]]:
    pages, before = [], None
    while True:
        reply = api("GET", f"/b/{bin_id}/versions", query=None if before is None else {"before": str(before)})
        assert reply.status == 200, reply.raw
        pages.append([version["version"] for version in reply.body["versions"]])
        before = reply.body["next"]
        if before is None:
            return pages


def test_lists_versions_newest_first_with_time_and_size(api: Api, new_bin: str) -> None:
    # Given a bin with three versions
    add_versions(api, new_bin, 3)
    # When its versions are listed
    reply = api("GET", f"/b/{new_bin}/versions")
    # Then they come newest first, each with its time and stored size, and the bin's ETag
    assert reply.status == 200, reply.raw
    assert reply.body["metadata"] == {"id": new_bin, "versionCount": 3, "private": True}
    assert [v["version"] for v in reply.body["versions"]] == [3, 2, 1]
    assert reply.body["next"] is None
    for listed in reply.body["versions"]:
        assert set(listed) == {"version", "createdAt", "storedBytes"}
        assert listed["createdAt"].endswith("Z")
        assert listed["storedBytes"] == len(f'{{"v":{listed["version"]}}}')
    assert reply.headers["etag"] == api("GET", f"/b/{new_bin}/versions/count").headers["etag"]


def test_a_bin_without_versions_lists_none(api: Api, new_bin: str) -> None:
    reply = api("GET", f"/b/{new_bin}/versions")
    assert reply.status == 200
    assert reply.body["versions"] == [] and reply.body["next"] is None


def test_pages_cover_every_version_once(api: Api, new_bin: str) -> None:
    seed_versions(new_bin, 250)
    pages = _pages(api, new_bin)
    assert [len(page) for page in pages] == [100, 100, 50]
    assert [n for page in pages for n in page] == list(range(250, 0, -1))


def test_before_lists_the_versions_below_it(api: Api, new_bin: str) -> None:
    add_versions(api, new_bin, 5)
    below = api("GET", f"/b/{new_bin}/versions", query={"before": "3"}).body
    assert [v["version"] for v in below["versions"]] == [2, 1] and below["next"] is None
    above = api("GET", f"/b/{new_bin}/versions", query={"before": "99"}).body
    assert [v["version"] for v in above["versions"]] == [5, 4, 3, 2, 1]
    assert api("GET", f"/b/{new_bin}/versions", query={"before": "1"}).body["versions"] == []


def test_a_large_record_shows_its_stored_size(api: Api, new_bin: str) -> None:
    import random

    from binvault.dal import keys

    # Random digits compress poorly: the record's stored form passes INLINE_MAX_BYTES (S3).
    noise = "".join(random.choice("0123456789") for _ in range(keys.INLINE_MAX_BYTES * 3))
    assert api.update(new_bin, {"noise": noise}).status == 200
    (listed,) = api("GET", f"/b/{new_bin}/versions").body["versions"]
    assert keys.INLINE_MAX_BYTES < listed["storedBytes"] < len(noise)


def test_deleted_versions_are_not_listed(api: Api, new_bin: str) -> None:
    add_versions(api, new_bin, 3)
    assert api("DELETE", f"/b/{new_bin}/versions").status == 200
    add_versions(api, new_bin, 1, start=10)
    assert [v["version"] for v in api("GET", f"/b/{new_bin}/versions").body["versions"]] == [1]


@pytest.mark.parametrize("count", [0, 1, 100, 250])
def test_one_query_a_page(api: Api, new_bin: str, dynamodb_calls: CallCounter, count: int) -> None:
    seed_versions(new_bin, count) if count else None
    api("GET", f"/b/{new_bin}/versions/count")  # a warm key cache
    dynamodb_calls.reset()
    assert api("GET", f"/b/{new_bin}/versions").status == 200
    # auth + quota, the base read, and the page's one Query (none when there is nothing to list)
    assert dynamodb_calls.calls == Counter({"TransactWriteItems": 1, "GetItem": 1, **({"Query": 1} if count else {})})
    if count > 100:
        dynamodb_calls.reset()
        assert len(api("GET", f"/b/{new_bin}/versions", query={"before": "101"}).body["versions"]) == 100
        assert dynamodb_calls.calls == Counter({"TransactWriteItems": 1, "GetItem": 1, "Query": 1})


@pytest.mark.parametrize("before", ["0", "-1", "x", "1.5", "", "1" * 13, " 2"])
def test_a_bad_cursor_answers_400_and_costs_nothing(
    api: Api, new_bin: str, dynamodb_calls: CallCounter, before: str
) -> None:
    dynamodb_calls.reset()
    reply = api("GET", f"/b/{new_bin}/versions", query={"before": before})
    assert (reply.status, reply.body) == (400, {"message": "before must be a version number of 1 or more"})
    assert dynamodb_calls.total == 0


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/b/not-a-bin/versions", "Invalid Bin Id provided"),
        ("/b/0123456789abcdef01234567/versions", "Bin not found or it doesn't belong to your account"),
    ],
)
def test_read_errors(api: Api, path: str, message: str) -> None:
    assert api("GET", path).message == message


def test_a_body_is_refused(api: Api, new_bin: str) -> None:
    reply = api("GET", f"/b/{new_bin}/versions", body="{}", headers={"Content-Type": "application/json"})
    assert (reply.status, reply.message) == (400, "This route does not take a request body")


def test_keys_and_privacy(api: Api, new_bin: str, ddb: Any) -> None:
    add_versions(api, new_bin, 1)
    path = f"/b/{new_bin}/versions"
    assert api(path=path, method="GET", key=None).status == 401
    assert api(path=path, method="GET", key="wrong-key").status == 401
    stranger: Account = make_account()
    assert Api(stranger.key)("GET", path).status == 404
    # a public bin is listed without a key, as its records are read
    assert api("PUT", f"/b/{new_bin}/meta/privacy", headers={"X-Bin-Private": "false"}).status == 200
    public = api("GET", path, key=None)
    assert public.status == 200 and public.body["metadata"]["private"] is False


def test_access_keys_need_read(api: Api, new_bin: str) -> None:
    def access_key(name: str, permissions: dict[str, bool]) -> str:
        reply = api("POST", "/a", headers={"X-Key-Name": name}, body={"bins": permissions})
        assert reply.status == 200, reply.raw
        return str(reply.body["accessKey"])

    reader = access_key("reader", {"read": True})
    writer = access_key("writer", {"update": True})
    path = f"/b/{new_bin}/versions"
    assert api("GET", path, headers={"X-Access-Key": reader}, key=None).status == 200
    refused = api("GET", path, headers={"X-Access-Key": writer}, key=None)
    assert (refused.status, refused.message) == (403, "X-Access-Key does not have the permission to read bins")


def test_quota_is_charged_one_request_a_page(ddb: Any) -> None:
    account = make_account(requests=3)
    api = Api(account.key)
    bin_id = api.create({"v": 0}).body["metadata"]["id"]  # 1
    assert api("GET", f"/b/{bin_id}/versions").status == 200  # 2
    assert api("GET", f"/b/{bin_id}/versions").status == 200  # 3
    exhausted = api("GET", f"/b/{bin_id}/versions")
    assert exhausted.status == 403 and exhausted.message.startswith("Requests exhausted")


def test_cors_and_other_methods(api: Api, new_bin: str) -> None:
    reply = api("GET", f"/b/{new_bin}/versions", headers={"Origin": "https://app.example"})
    assert reply.headers["access-control-allow-origin"] == "*"
    refused = api("POST", f"/b/{new_bin}/versions")
    assert refused.status == 405 and refused.headers["allow"] == "DELETE, GET"
