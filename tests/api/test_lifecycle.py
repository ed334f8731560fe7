"""Create, update (versioned or in place), read, count and delete: the contract's table."""

from __future__ import annotations

import pytest

from tests.conftest import Api, add_versions, bin_items


def test_create_returns_record_and_metadata(api: Api) -> None:
    reply = api.create({"a": [1, 2, {"b": None}]}, X_Bin_Name="my bin")
    assert reply.status == 200
    meta = reply.body["metadata"]
    assert reply.body["record"] == {"a": [1, 2, {"b": None}]}
    assert set(meta) == {"id", "createdAt", "private", "name"}
    assert len(meta["id"]) == 24 and meta["private"] is True and meta["name"] == "my bin"
    assert meta["createdAt"].endswith("Z")
    assert reply.headers["content-type"] == "application/json; charset=utf-8"
    assert reply.headers["etag"].startswith('"')


def test_create_accepts_arrays_and_public_flag(api: Api) -> None:
    reply = api.create([1, 2, 3], X_Bin_Private="false")
    assert reply.body["record"] == [1, 2, 3]
    assert reply.body["metadata"]["private"] is False
    assert "name" not in reply.body["metadata"]


@pytest.mark.parametrize(
    ("headers", "body", "message"),
    [
        ({"Content-Type": "text/plain"}, '{"a": 1}', "You need to pass Content-Type set to application/json"),
        ({}, '{"a": 1}', "You need to pass Content-Type set to application/json"),
        ({"Content-Type": "application/json"}, "{}", "Bin cannot be blank"),
        ({"Content-Type": "application/json"}, "", "Bin cannot be blank"),
        ({"Content-Type": "application/json"}, "{not json", "Invalid JSON body"),
        (
            {"Content-Type": "application/json", "X-Bin-Private": "maybe"},
            '{"a": 1}',
            "X-Bin-Private must be true or false",
        ),
        (
            {"Content-Type": "application/json", "X-Bin-Name": "x" * 129},
            '{"a": 1}',
            "X-Bin-Name must be 1 to 128 printable characters",
        ),
    ],
)
def test_create_rejects_bad_input(api: Api, headers: dict[str, str], body: str, message: str, ddb: object) -> None:
    reply = api("POST", "/b", headers=headers, body=body)
    assert (reply.status, reply.body) == (400, {"message": message})
    assert bin_items(ddb) == []


def test_oversized_record_is_413(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    from binvault.models.settings import get_settings

    monkeypatch.setenv("MAX_BIN_BYTES", "1000")
    get_settings.cache_clear()
    reply = api.create({"x": "y" * 1000})
    assert (reply.status, reply.body) == (413, {"message": "Bin size exceeds the limit of 1000 bytes"})
    assert api.create({"x": "y" * 900}).status == 200


def test_default_limit_is_1_mb_and_large_records_round_trip(api: Api) -> None:
    big = {"data": "z" * (1024 * 1024 - 20)}
    reply = api.create(big)
    assert reply.status == 200
    assert api("GET", f"/b/{reply.body['metadata']['id']}").body["record"] == big
    assert api.create({"data": "z" * (1024 * 1024)}).status == 413


def test_versioned_update_appends_and_unversioned_replaces_latest(api: Api, new_bin: str) -> None:
    first = api.update(new_bin, {"v": 1})
    assert first.body == {
        "record": {"v": 1},
        "metadata": {"parentId": new_bin, "private": True, "version": 1},
    }
    in_place = api.update(new_bin, {"v": "1b"}, versioning=False)
    assert in_place.body == {"record": {"v": "1b"}, "metadata": {"parentId": new_bin, "private": True}}
    assert api("GET", f"/b/{new_bin}/1").body["record"] == {"v": "1b"}
    assert api("GET", f"/b/{new_bin}").body["record"] == {"v": 0}
    assert api("GET", f"/b/{new_bin}/versions/count").body["metadata"]["versionCount"] == 1


def test_unversioned_update_without_versions_replaces_the_base(api: Api, new_bin: str) -> None:
    reply = api("PUT", f"/b/{new_bin}", headers={"Content-Type": "application/json"}, body='{"v": "new"}')
    assert reply.status == 200
    assert api("GET", f"/b/{new_bin}").body["record"] == {"v": "new"}
    assert api("GET", f"/b/{new_bin}/versions/count").body["metadata"]["versionCount"] == 0


def test_read_latest_and_versions(api: Api, new_bin: str) -> None:
    add_versions(api, new_bin, 3)
    latest = api("GET", f"/b/{new_bin}/latest").body
    assert latest["record"] == {"v": 3}
    assert latest["metadata"]["version"] == 3
    assert latest["metadata"]["id"] == new_bin
    assert api("GET", f"/b/{new_bin}/2").body["record"] == {"v": 2}
    assert api("GET", f"/b/{new_bin}/002").body["record"] == {"v": 2}
    assert api("GET", f"/b/{new_bin}/4").body == {"message": "Bin version not found"}
    assert api("GET", f"/b/{new_bin}/0").status == 404


@pytest.mark.parametrize("version", ["-1", "1.5", "abc", "1e3", "%20"])
def test_non_integer_version_is_400(api: Api, new_bin: str, version: str) -> None:
    reply = api("GET", f"/b/{new_bin}/{version}")
    assert (reply.status, reply.body) == (400, {"message": "Invalid Bin Version provided"})


@pytest.mark.parametrize(("header", "query"), [({"X-Bin-Meta": "false"}, None), ({}, {"meta": "false"})])
def test_meta_false_returns_the_bare_record(
    api: Api, new_bin: str, header: dict[str, str], query: dict[str, str] | None
) -> None:
    add_versions(api, new_bin, 1)
    assert api("GET", f"/b/{new_bin}", headers=header, query=query).body == {"v": 0}
    assert api("GET", f"/b/{new_bin}/latest", headers=header, query=query).body == {"v": 1}


def test_count_shape(api: Api, new_bin: str) -> None:
    add_versions(api, new_bin, 2)
    reply = api("GET", f"/b/{new_bin}/versions/count")
    assert reply.body == {"metadata": {"id": new_bin, "versionCount": 2, "private": True}}


def test_delete_bin_removes_it_and_its_versions(api: Api, new_bin: str, ddb: object, purge: object) -> None:
    add_versions(api, new_bin, 30)
    reply = api("DELETE", f"/b/{new_bin}")
    assert reply.body == {
        "metadata": {"id": new_bin, "versionsDeleted": 30},
        "message": "Bin deleted successfully",
    }
    assert api("GET", f"/b/{new_bin}").status == 404
    assert api("GET", f"/b/{new_bin}/3").status == 404
    assert api("DELETE", f"/b/{new_bin}").status == 404
    purge.drain()  # type: ignore[attr-defined]
    assert bin_items(ddb) == []


def test_cors_preflight(api: Api, new_bin: str) -> None:
    reply = api(
        "OPTIONS",
        f"/b/{new_bin}",
        headers={"Origin": "https://app.example", "Access-Control-Request-Method": "PUT"},
        key=None,
    )
    assert reply.status == 204
    assert "X-Master-Key" in reply.headers["access-control-allow-headers"]


@pytest.mark.parametrize(
    ("path", "method", "headers"),
    [
        ("/a", "POST", {"X-Master-Key", "X-Key-Name", "Content-Type"}),
        ("/a/0123456789abcdef01234567", "DELETE", {"X-Master-Key"}),
        ("/b/{id}/meta/name", "PUT", {"X-Master-Key", "X-Bin-Name", "If-Match"}),
        ("/b/{id}/meta/privacy", "PUT", {"X-Master-Key", "X-Bin-Private", "If-Match"}),
        ("/b/{id}/latest", "GET", {"X-Access-Key", "X-JSON-Path", "X-Bin-Meta"}),
        ("/b", "POST", {"X-Access-Key", "Content-Type"}),
    ],
)
def test_cors_preflight_allows_the_issue_14_headers(
    api: Api, new_bin: str, path: str, method: str, headers: set[str]
) -> None:
    """A browser app may send X-Access-Key, X-JSON-Path and X-Key-Name (and reach the new routes)."""
    reply = api(
        "OPTIONS",
        path.format(id=new_bin),
        headers={"Origin": "https://app.example", "Access-Control-Request-Method": method},
        key=None,
    )
    assert reply.status == 204
    assert reply.headers["access-control-allow-origin"] == "*"
    allowed = {name.strip() for name in reply.headers["access-control-allow-headers"].split(",")}
    assert headers <= allowed
