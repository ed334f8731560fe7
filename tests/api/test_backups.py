"""binvault-admin export / import-backup: an account made through the API, exported, restored
into an empty stack and exported again gives the same content checksums; the restore works
with the same keys, is idempotent, resumable and atomic per bin, and lists what it cannot
restore."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

import pytest

from binvault import admin
from tests.conftest import IDEMPOTENCY_TABLE, TABLE, Account, Api, table_items
from tests.support.inproc import reset_caches

EMPTY = "binvault-empty"  # a second, empty stack: its own table and records bucket


def cli(capsys: pytest.CaptureFixture[str], table: str, *argv: str) -> tuple[int, Any]:
    code = admin.main(["--table", table, *argv])
    out = capsys.readouterr().out.strip().splitlines()
    return code, json.loads(out[-1]) if out else None


def switch_to(table: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TABLE_NAME", table)
    reset_caches()


@pytest.fixture
def empty_stack(ddb: Any, monkeypatch: pytest.MonkeyPatch) -> str:
    from binvault.local.template_tables import create_tables

    switch_to(EMPTY, monkeypatch)
    create_tables(ddb, EMPTY, IDEMPOTENCY_TABLE + "-empty")
    switch_to(TABLE, monkeypatch)
    return EMPTY


def an_account(api: Api) -> dict[str, Any]:
    """Bins of every kind: versioned, named, public, filed, large (S3), and keys."""
    doc = api("POST", "/s", headers={"X-Schema-Doc-Name": "Person"}, body={"type": "object", "required": ["name"]})
    people = api("POST", "/c", headers={"X-Collection-Name": "people"}).body["record"]
    api("PUT", f"/c/{people}/schemadoc/add", headers={"X-Schema-Doc-Id": doc.body["metadata"]["id"]})
    filed = api.create({"name": "ann"}, X_Collection_Id=people, X_Bin_Name="ann").body["metadata"]["id"]
    for n in range(1, 4):
        assert api.update(filed, {"name": "ann", "v": n}).status == 200
    public = api.create({"public": 1}, X_Bin_Private="false").body["metadata"]["id"]
    large = api.create({"blob": "x" * 200_000}).body["metadata"]["id"]
    api.update(large, {"blob": "y" * 300_000})
    key = api("POST", "/a", headers={"X-Key-Name": "reader"}, body={"bins": {"read": True}}).body["accessKey"]
    return {"filed": filed, "public": public, "large": large, "accessKey": key, "people": people}


def test_export_import_export_round_trips(
    ddb: Any,
    capsys: pytest.CaptureFixture[str],
    account: Account,
    api: Api,
    empty_stack: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    made = an_account(api)
    code, exported = cli(capsys, TABLE, "export", account.id, "--out", str(tmp_path / "a.zip"))
    assert code == 0
    assert exported["counts"] == {"bins": 3, "versions": 4, "collections": 1, "schemaDocs": 1, "accessKeys": 1}
    with zipfile.ZipFile(tmp_path / "a.zip") as archive:
        assert account.key not in str([archive.read(n) for n in archive.namelist()])
        assert made["accessKey"] not in str([archive.read(n) for n in archive.namelist()])

    # restored into an empty stack, under its own id and with its own keys
    switch_to(empty_stack, monkeypatch)
    code, restored = cli(capsys, empty_stack, "import-backup", str(tmp_path / "a.zip"), "--verify")
    assert code == 0, restored
    assert restored["bins"] == {"copied": 3, "skipped": 0, "failed": 0}
    assert restored["versions"] == 4 and restored["verified"] == 3 + 4
    there = Api(account.key)
    assert there("GET", f"/b/{made['filed']}/3").body["record"] == {"name": "ann", "v": 3}
    assert there("GET", f"/b/{made['large']}/1").body["record"] == {"blob": "y" * 300_000}
    assert Api()("GET", f"/b/{made['public']}").status == 200
    assert Api()("GET", f"/b/{made['filed']}", headers={"X-Access-Key": made["accessKey"]}).status == 200
    refused = there("POST", "/b", headers={"X-Collection-Id": made["people"]}, body={"no": "name"})
    assert refused.status == 400

    code, again = cli(capsys, empty_stack, "export", account.id, "--out", str(tmp_path / "b.zip"))
    assert again["contentChecksum"] == exported["contentChecksum"]

    # a second restore changes nothing
    before = table_items(ddb, empty_stack)
    code, second = cli(
        capsys, empty_stack, "import-backup", str(tmp_path / "a.zip"), "--state-file", str(tmp_path / "s")
    )
    assert code == 0 and second["bins"] == {"copied": 0, "skipped": 3, "failed": 0}
    assert table_items(ddb, empty_stack) == before


def test_a_restore_into_another_account_keeps_its_key_and_lists_collisions(
    ddb: Any,
    capsys: pytest.CaptureFixture[str],
    account: Account,
    api: Api,
    other_account: Account,
    tmp_path: Path,
) -> None:
    made = an_account(api)
    cli(capsys, TABLE, "export", account.id, "--out", str(tmp_path / "a.zip"))
    # the same stack: every bin id is held by the first account, the access key too
    code, restored = cli(capsys, TABLE, "import-backup", str(tmp_path / "a.zip"), "--account", other_account.id)
    assert code == 1
    assert {f["binId"] for f in restored["failures"]} == {made["filed"], made["public"], made["large"]}
    assert all("another account" in f["reason"] for f in restored["failures"])
    assert restored["accessKeysNotCopied"]
    assert Api(account.key)("GET", f"/b/{made['filed']}/3").body["record"] == {"name": "ann", "v": 3}  # not overwritten
    assert Api(other_account.key)("GET", "/c").status == 200  # its own key still works


def test_a_damaged_entry_is_listed_and_not_restored(
    ddb: Any,
    capsys: pytest.CaptureFixture[str],
    account: Account,
    api: Api,
    empty_stack: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    made = an_account(api)
    cli(capsys, TABLE, "export", account.id, "--out", str(tmp_path / "a.zip"))
    damaged = tmp_path / "damaged.zip"
    with zipfile.ZipFile(tmp_path / "a.zip") as source, zipfile.ZipFile(damaged, "w") as target:
        for name in source.namelist():
            data = source.read(name)
            if name == f"bins/{made['public']}.jsonl":
                data = data.replace(b'"public":1', b'"public":2')
            target.writestr(name, data)
    switch_to(empty_stack, monkeypatch)
    code, restored = cli(capsys, empty_stack, "import-backup", str(damaged))
    assert code == 1
    assert restored["failures"] == [
        {"binId": made["public"], "reason": "the entry does not match the manifest's checksum: the file is damaged"}
    ]
    assert Api(account.key)("GET", f"/b/{made['public']}").status == 404
    assert restored["bins"]["copied"] == 2


def test_export_memory_does_not_grow_with_the_account(ddb: Any, account: Account, api: Api, tmp_path: Path) -> None:
    """The export holds one version page at a time: exporting 10x the versions does not take
    10x the memory (counted in allocations, not time)."""
    import io
    import tracemalloc

    from binvault.admin import backups

    def peak(versions: int, bin_id: str) -> int:
        for n in range(versions):
            assert api.update(bin_id, {**record, "n": n}).status == 200
        tracemalloc.start()
        backups.export(account.id, tmp_path / f"{versions}.zip", stream=io.StringIO())
        _, top = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        return top

    record = {"payload": "z" * 20_000}  # 20 versions: 400 KB; 200 versions: 4 MB
    first = api.create(record).body["metadata"]["id"]
    small = peak(20, first)
    second = api.create(record).body["metadata"]["id"]
    large = peak(180, second)
    assert large < small * 3


class Killed(BaseException):
    """The process dies here (not an error any handler catches)."""


def test_a_restore_killed_midway_resumes_to_the_same_content(
    ddb: Any,
    capsys: pytest.CaptureFixture[str],
    account: Account,
    api: Api,
    empty_stack: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from binvault.dal import imports

    an_account(api)
    code, exported = cli(capsys, TABLE, "export", account.id, "--out", str(tmp_path / "a.zip"))
    switch_to(empty_stack, monkeypatch)
    calls = {"n": 0}
    original = imports.put_versions

    def dying(*args: Any) -> None:
        calls["n"] += 1
        if calls["n"] in (2, 4):  # in the second bin, then in the third
            raise Killed()
        original(*args)

    monkeypatch.setattr(imports, "put_versions", dying)
    for _ in range(2):
        with pytest.raises(Killed):
            cli(capsys, empty_stack, "import-backup", str(tmp_path / "a.zip"))
    code, restored = cli(capsys, empty_stack, "import-backup", str(tmp_path / "a.zip"), "--verify")
    assert code == 0 and restored["bins"]["skipped"] == 2 and restored["bins"]["copied"] == 1
    code, again = cli(capsys, empty_stack, "export", account.id, "--out", str(tmp_path / "b.zip"))
    assert again["contentChecksum"] == exported["contentChecksum"]
