"""DELETE /v3/b/{binId}/versions: the product's core, row by row of the contract."""

from __future__ import annotations

import pytest

from tests.conftest import Api, add_versions, bin_items, seed_versions

MESSAGE = "Versions for the Bin are deleted successfully"


@pytest.mark.parametrize("count", [0, 1, 99, 100, 101])
def test_deletes_every_version_and_reports_how_many(api: Api, new_bin: str, count: int) -> None:
    # Given a bin with `count` versions
    add_versions(api, new_bin, count)
    # When its versions are deleted
    reply = api("DELETE", f"/b/{new_bin}/versions")
    # Then the contract's body comes back and no version is left
    assert reply.status == 200
    assert reply.body == {"metadata": {"id": new_bin, "versionsDeleted": count}, "message": MESSAGE}
    assert api("GET", f"/b/{new_bin}/versions/count").body["metadata"]["versionCount"] == 0
    assert api("GET", f"/b/{new_bin}").body["record"] == {"v": 0}
    latest = api("GET", f"/b/{new_bin}/latest").body
    assert latest["record"] == {"v": 0}
    assert latest["metadata"]["version"] == 0
    if count:
        assert api("GET", f"/b/{new_bin}/1").message == "Bin version not found"
        assert api("GET", f"/b/{new_bin}/{count}").status == 404


def test_thousand_versions_cap_and_beyond(api: Api, new_bin: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a bin at the 1000-version cap, its last version written by the API (999 seeded in
    # the API's own layout first: 999 API updates cost 3 minutes of a loaded `make test`),
    # and one more update, stored in place
    seed_versions(new_bin, 999)
    last = api.update(new_bin, {"v": 1000})
    assert last.status == 200 and last.body["metadata"]["version"] == 1000, last.raw
    assert api("GET", f"/b/{new_bin}/999").body["record"] == {"v": 999}
    capped = api.update(new_bin, {"v": "over the cap"})
    assert capped.status == 200
    assert capped.body["metadata"]["versioning"] is False
    assert api("GET", f"/b/{new_bin}/versions/count").body["metadata"]["versionCount"] == 1000
    assert api("GET", f"/b/{new_bin}/latest").body["record"] == {"v": "over the cap"}
    # When every version is deleted, preserving the latest
    reply = api("DELETE", f"/b/{new_bin}/versions", headers={"X-Preserve-Latest": "true"})
    # Then all 1000 are gone at once and the latest record became the base record
    assert reply.body["metadata"]["versionsDeleted"] == 1000
    assert api("GET", f"/b/{new_bin}").body["record"] == {"v": "over the cap"}
    assert api("GET", f"/b/{new_bin}/1000").status == 404
    # And the next versioned update starts a new series at 1
    assert api.update(new_bin, {"v": "fresh"}).body["metadata"]["version"] == 1


def test_without_preserve_the_base_record_is_left_as_it_was(api: Api, new_bin: str) -> None:
    add_versions(api, new_bin, 3)
    api("DELETE", f"/b/{new_bin}/versions", headers={"X-Preserve-Latest": "false"})
    assert api("GET", f"/b/{new_bin}").body["record"] == {"v": 0}


@pytest.mark.parametrize("value", ["true", "TRUE", "True", "tRuE"])
def test_preserve_latest_copies_the_latest_onto_the_base(api: Api, new_bin: str, value: str) -> None:
    add_versions(api, new_bin, 3)
    reply = api("DELETE", f"/b/{new_bin}/versions", headers={"X-Preserve-Latest": value})
    assert reply.body["metadata"]["versionsDeleted"] == 3
    assert api("GET", f"/b/{new_bin}").body["record"] == {"v": 3}
    assert api("GET", f"/b/{new_bin}/latest").body == {
        "record": {"v": 3},
        "metadata": {**api("GET", f"/b/{new_bin}").body["metadata"], "version": 0},
    }


def test_repeat_call_is_idempotent(api: Api, new_bin: str) -> None:
    add_versions(api, new_bin, 2)
    first = api("DELETE", f"/b/{new_bin}/versions", headers={"X-Preserve-Latest": "true"})
    second = api("DELETE", f"/b/{new_bin}/versions", headers={"X-Preserve-Latest": "true"})
    assert first.body["metadata"]["versionsDeleted"] == 2
    assert second.status == 200
    assert second.body["metadata"]["versionsDeleted"] == 0
    assert api("GET", f"/b/{new_bin}").body["record"] == {"v": 2}


def test_next_versioned_update_is_version_one(api: Api, new_bin: str) -> None:
    add_versions(api, new_bin, 5)
    api("DELETE", f"/b/{new_bin}/versions")
    reply = api.update(new_bin, {"v": "new"})
    assert reply.body["metadata"]["version"] == 1
    assert api("GET", f"/b/{new_bin}/1").body["record"] == {"v": "new"}
    assert api("GET", f"/b/{new_bin}/2").status == 404


@pytest.mark.parametrize("value", ["yes", "1", "", " ", "truee", "null"])
def test_bad_preserve_header_is_400_and_changes_nothing(api: Api, new_bin: str, value: str, ddb: object) -> None:
    add_versions(api, new_bin, 2)
    before = bin_items(ddb)
    reply = api("DELETE", f"/b/{new_bin}/versions", headers={"X-Preserve-Latest": value})
    assert reply.status == 400
    assert reply.body == {"message": "X-Preserve-Latest must be true or false"}
    assert bin_items(ddb) == before


def test_old_versions_are_purged_from_the_table(api: Api, new_bin: str, ddb: object, purge: object) -> None:
    # Given 120 versions, deleted (more than one transaction or batch could hold)
    add_versions(api, new_bin, 120)
    api("DELETE", f"/b/{new_bin}/versions", headers={"X-Preserve-Latest": "true"})
    api.update(new_bin, {"v": "survivor"})
    # When the stream reaches the purge worker
    purge.drain()  # type: ignore[attr-defined]
    # Then only the base item and the new series' version remain
    sort_keys = [item["sk"]["S"] for item in bin_items(ddb)]
    assert sort_keys == ["BIN", "V#0000000001#000001"]
