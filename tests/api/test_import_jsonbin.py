"""binvault-admin import-jsonbin against a fake JSONBin v3 account (tests/support/fake_jsonbin):
ids, versions, names, privacy, collections, schema docs and keys arrive and work with the
source's keys; re-runs copy nothing; a killed import resumes without duplicates; the
source's quota running out exits 3 and a later run finishes; nothing is dropped silently."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from binvault import admin
from binvault.admin import source as source_client
from tests.conftest import TABLE, Account, Api, make_account, table_items
from tests.support.fake_jsonbin import FakeAccount, FakeJsonBin, fake_jsonbin

SCHEMA = {"type": "object", "required": ["name"]}


@pytest.fixture(autouse=True)
def fast_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(source_client, "BACKOFF_SECONDS", 0.001)


def a_source_account() -> FakeAccount:
    account = FakeAccount()
    people = account.add_collection("people", schema=SCHEMA, schema_name="Person")
    account.add_collection("empty")
    for n in range(12):  # more than a page of 10
        account.add_bin(
            {"name": f"p{n}"},
            versions=[{"name": f"p{n}", "v": v} for v in range(1, n % 4 + 1)],
            name=f"person {n}",
            collection_id=people,
        )
    account.add_bin({"public": True}, private=False)
    account.add_bin([1, 2, 3], versions=[[4], [5]], name="numbers")
    account.add_access_key("reader", {"create": False, "read": True, "update": False, "delete": False})
    account.add_access_key("writer", {"create": True, "read": True, "update": True, "delete": False})
    return account


@pytest.fixture
def source() -> Iterator[FakeJsonBin]:
    with fake_jsonbin(a_source_account()) as server:
        yield server


def run_import(
    capsys: pytest.CaptureFixture[str], server: FakeJsonBin, state: Path, *extra: str
) -> tuple[int, Any, str]:
    code = admin.main(
        ["--table", TABLE, "import-jsonbin", "--source-url", server.url, "--state-file", str(state), *extra]
    )
    captured = capsys.readouterr()
    return code, json.loads(captured.out.strip().splitlines()[-1]), captured.err


def assert_same_account(server: FakeJsonBin, api: Api) -> None:
    """Every bin, version, name, privacy flag and collection of the source, read through the API."""
    for found in server.account.bins.values():
        base = api("GET", f"/b/{found.id}")
        assert base.status == 200, base.raw
        assert base.body["record"] == found.record
        meta = base.body["metadata"]
        assert (meta["private"], meta.get("name"), meta["createdAt"]) == (found.private, found.name, found.created_at)
        assert meta.get("collectionId") == found.collection_id
        count = api("GET", f"/b/{found.id}/versions/count").body["metadata"]["versionCount"]
        assert count == len(found.versions)
        for number, (record, created_at) in enumerate(found.versions, start=1):
            version = api("GET", f"/b/{found.id}/{number}")
            assert version.body["record"] == record
            assert version.body["metadata"]["createdAt"] == created_at
    listed = {c["record"]: c for c in api("GET", "/c").body}
    for collection_id, collection in server.account.collections.items():
        assert listed[collection_id]["collectionMeta"]["name"] == collection["name"]
        assert listed[collection_id]["schemaDocId"] == collection["schemaDocId"]
        bins = api("GET", f"/c/{collection_id}/bins", headers={"X-Sort-Order": "ascending"}).body
        expected = sorted(
            (b for b in server.account.bins.values() if b.collection_id == collection_id), key=lambda b: b.created_at
        )[:10]
        assert [b["record"] for b in bins] == [b.id for b in expected]


def test_a_whole_account_arrives_and_works_with_the_source_keys(
    ddb: Any, capsys: pytest.CaptureFixture[str], source: FakeJsonBin, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a JSONBin account, its key in the environment (as make passes it, unexpanded)
    monkeypatch.setenv("JSONBIN_MASTER_KEY", source.account.master_key)
    # When it is imported into a new account keeping its master key
    code, summary, err = run_import(
        capsys, source, tmp_path / "state", "--create-account", "--requests", "1000", "--keep-master-key", "--verify"
    )
    # Then everything arrives, and the app changes nothing but its base URL
    assert code == 0, (summary, err)
    bins = source.account.bins.values()
    versions = sum(len(b.versions) for b in bins)
    assert summary["bins"] == {"copied": len(bins), "skipped": 0, "failed": 0}
    assert summary["versions"] == versions and summary["failures"] == []
    assert (summary["collections"], summary["schemaDocs"], summary["accessKeys"]) == (2, 1, 2)
    assert summary["verified"] == len(bins) + versions
    assert summary["sourceRequests"] == source.requests
    assert "masterKey" not in summary
    assert "bins 14/14" in err and "source requests" in err
    api = Api(source.account.master_key)
    assert_same_account(source, api)
    doc_id = next(c["schemaDocId"] for c in source.account.collections.values() if c["schemaDocId"])
    doc = api("GET", f"/s/{doc_id}").body
    assert (doc["record"], doc["metadata"]["name"]) == (SCHEMA, "Person")
    people = next(cid for cid, c in source.account.collections.items() if c["schemaDocId"])
    refused = api("POST", "/b", headers={"X-Collection-Id": people}, body={"no": "name"})
    assert refused.status == 400  # the schema doc still validates the collection
    # the access keys work with the same secrets and the same permissions
    reader, writer = source.account.access_keys
    some_bin = next(iter(bins)).id
    assert Api()("GET", f"/b/{some_bin}", headers={"X-Access-Key": reader["accessKey"]}).status == 200
    assert Api()("PUT", f"/b/{some_bin}", headers={"X-Access-Key": reader["accessKey"]}, body={"x": 1}).status == 403
    assert (
        Api()("PUT", f"/b/{some_bin}", headers={"X-Access-Key": writer["accessKey"]}, body={"name": "x"}).status == 200
    )
    listed = {k["accessKeyId"]: k["metadata"]["name"] for k in api("GET", "/a").body}
    assert listed == {reader["accessKeyId"]: "reader", writer["accessKeyId"]: "writer"}
    # keys are stored only as hashes
    stored = str(table_items(ddb))
    assert source.account.master_key not in stored and reader["accessKey"] not in stored


def test_a_second_run_copies_nothing(
    ddb: Any, capsys: pytest.CaptureFixture[str], source: FakeJsonBin, tmp_path: Path, account: Account
) -> None:
    args = ("--source-master-key", source.account.master_key, "--account", account.id)
    assert run_import(capsys, source, tmp_path / "state", *args)[0] == 0
    before = table_items(ddb)
    code, summary, _ = run_import(capsys, source, tmp_path / "state", *args)
    assert code == 0
    assert summary["bins"] == {"copied": 0, "skipped": 14, "failed": 0}
    assert (summary["versions"], summary["collections"], summary["schemaDocs"], summary["accessKeys"]) == (0, 0, 0, 0)
    assert table_items(ddb) == before
    # with a new state file too: the target itself says what is there
    code, summary, _ = run_import(capsys, source, tmp_path / "other-state", *args)
    assert summary["bins"]["skipped"] == 14 and table_items(ddb) == before


def test_a_bin_changed_on_the_source_is_reimported_whole(
    ddb: Any, capsys: pytest.CaptureFixture[str], source: FakeJsonBin, tmp_path: Path, account: Account, purge: Any
) -> None:
    args = ("--source-master-key", source.account.master_key, "--account", account.id)
    assert run_import(capsys, source, tmp_path / "state", *args)[0] == 0
    changed = next(b for b in source.account.bins.values() if len(b.versions) == 3)
    changed.versions = [({"rewritten": n}, source.account.now()) for n in range(2)]  # deleted, then 2 new ones
    changed.name = "renamed"
    code, summary, _ = run_import(capsys, source, tmp_path / "state", *args)
    assert code == 0 and summary["bins"]["copied"] == 1 and summary["versions"] == 2
    api = Api(account.key)
    assert api("GET", f"/b/{changed.id}/latest").body["record"] == {"rewritten": 1}
    assert api("GET", f"/b/{changed.id}/3").status == 404
    assert api("GET", f"/b/{changed.id}").body["metadata"]["name"] == "renamed"
    # a non-versioned update on the source (the latest record replaced in place, same count)
    in_place = next(b for b in source.account.bins.values() if not b.versions)
    in_place.record = {"replaced": True}
    code, summary, _ = run_import(capsys, source, tmp_path / "state", *args)
    assert code == 0 and summary["bins"] == {"copied": 1, "skipped": 13, "failed": 0}
    assert api("GET", f"/b/{in_place.id}").body["record"] == {"replaced": True}
    purge.drain()  # the old generation goes as after a delete-versions
    versions = [i for i in table_items(ddb) if i["pk"]["S"] == f"BIN#{changed.id}" and i["sk"]["S"].startswith("V#")]
    assert len(versions) == 2


class Killed(BaseException):
    """The process dies here (not an error any handler catches)."""


def test_an_import_killed_at_random_points_resumes_complete_without_duplicates(
    ddb: Any,
    capsys: pytest.CaptureFixture[str],
    source: FakeJsonBin,
    tmp_path: Path,
    account: Account,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from binvault.dal import imports

    rng = random.Random(21)
    calls = {"n": 0, "die_at": 0}
    originals = {name: getattr(imports, name) for name in ("put_versions", "create", "replace")}

    def dying(name: str) -> Any:
        def call(*args: Any, **kwargs: Any) -> Any:
            calls["n"] += 1
            if calls["n"] == calls["die_at"]:
                raise Killed()
            return originals[name](*args, **kwargs)

        return call

    for name in originals:
        monkeypatch.setattr(imports, name, dying(name))
    args = ("--source-master-key", source.account.master_key, "--account", account.id)
    kills = 0
    for _ in range(40):
        calls["n"], calls["die_at"] = 0, rng.randint(1, 8)
        try:
            code, summary, _ = run_import(capsys, source, tmp_path / "state", *args)
        except Killed:
            kills += 1
            capsys.readouterr()
            # never a partly copied bin: every readable bin is whole
            api = Api(account.key)
            for found in source.account.bins.values():
                reply = api("GET", f"/b/{found.id}/versions/count")
                if reply.status == 200:
                    assert reply.body["metadata"]["versionCount"] == len(found.versions)
            continue
        break
    assert kills >= 3 and code == 0, summary
    assert_same_account(source, Api(account.key))
    listing = [i for i in table_items(ddb) if i["pk"]["S"].startswith("LIST#")]
    assert len(listing) == len(source.account.bins)  # one listing item a bin, no duplicate
    assert len(Api(account.key)("GET", "/a").body) == 2


def test_an_exhausted_source_exits_3_and_a_later_run_finishes(
    ddb: Any, capsys: pytest.CaptureFixture[str], tmp_path: Path, account: Account
) -> None:
    with fake_jsonbin(a_source_account(), budget=20) as server:
        args = ("--source-master-key", server.account.master_key, "--account", account.id)
        code, summary, err = run_import(capsys, server, tmp_path / "state", *args)
        assert code == 3
        assert "Run the same command again" in err and str(tmp_path / "state") in err
        assert summary["sourceRequests"] == 21  # stopped at the first 403, never retried
        done = summary["bins"]["copied"]
        server.budget = None  # the plan was topped up
        requests_before = server.requests
        code, summary, _ = run_import(capsys, server, tmp_path / "state", *args)
        assert code == 0 and summary["bins"]["copied"] == len(server.account.bins) - done
        assert summary["bins"]["skipped"] == done
        # the resumed run did not read again the bins the first one copied
        assert server.requests - requests_before < 60
        assert_same_account(server, Api(account.key))


def test_transient_source_faults_are_retried(
    ddb: Any, capsys: pytest.CaptureFixture[str], source: FakeJsonBin, tmp_path: Path, account: Account
) -> None:
    source.fail_next(500, 2)  # five in a row: one short of the client's six attempts
    source.fail_next(429)
    source.fail_next("network", 2)
    code, summary, _ = run_import(
        capsys, source, tmp_path / "state", "--source-master-key", source.account.master_key, "--account", account.id
    )
    assert code == 0 and summary["bins"]["copied"] == 14
    assert_same_account(source, Api(account.key))
    assert summary["sourceRequests"] == source.requests  # the retries are counted too


def test_a_source_that_keeps_failing_stops_cleanly(
    ddb: Any, capsys: pytest.CaptureFixture[str], source: FakeJsonBin, tmp_path: Path, account: Account
) -> None:
    source.fail_next(503, source_client.ATTEMPTS)
    code, summary, err = run_import(
        capsys, source, tmp_path / "state", "--source-master-key", source.account.master_key, "--account", account.id
    )
    assert code == 1 and "503" in err and source.requests == source_client.ATTEMPTS
    assert summary["bins"]["copied"] == 0


def test_oversized_collided_and_refused_bins_are_listed_not_lost_not_overwritten(
    ddb: Any,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    account: Account,
    other_account: Account,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MAX_BIN_BYTES", "2000")
    theirs = Api(other_account.key).create({"mine": True}).body["metadata"]["id"]
    fake = FakeAccount()
    big = fake.add_bin({"small": 1}, versions=[{"big": "x" * 3000}])
    collided = fake.add_bin({"theirs?": True})
    del fake.bins[collided.id]
    collided.id = theirs
    fake.bins[theirs] = collided
    refused = fake.add_bin({"refused": True})
    fine = fake.add_bin({"fine": True})
    with fake_jsonbin(fake) as server:
        server.refuse(refused.id, 404, "Bin not found or it doesn't belong to your account")
        code, summary, _ = run_import(
            capsys, server, tmp_path / "state", "--source-master-key", fake.master_key, "--account", account.id
        )
    assert code == 1
    reasons = {f["binId"]: f["reason"] for f in summary["failures"]}
    assert set(reasons) == {big.id, theirs, refused.id}
    assert "MAX_BIN_BYTES" in reasons[big.id] and "another account" in reasons[theirs]
    assert "404" in reasons[refused.id]
    assert summary["bins"] == {"copied": 1, "skipped": 0, "failed": 3}
    api = Api(account.key)
    assert api("GET", f"/b/{fine.id}").status == 200
    assert api("GET", f"/b/{big.id}").status == 404  # nothing half-copied is readable
    assert Api(other_account.key)("GET", f"/b/{theirs}").body["record"] == {"mine": True}


def test_a_1mb_record_and_a_bin_of_1000_versions_come_across(
    ddb: Any, capsys: pytest.CaptureFixture[str], tmp_path: Path, account: Account
) -> None:
    fake = FakeAccount()
    large = {"blob": "".join(random.Random(1).choice("abcdefghij") for _ in range(1_000_000))}
    big = fake.add_bin(large, versions=[large, {"small": True}])
    many = fake.add_bin({"v": 0}, versions=[{"v": n} for n in range(1, 1001)])
    with fake_jsonbin(fake) as server:
        code, summary, _ = run_import(
            capsys,
            server,
            tmp_path / "state",
            "--source-master-key",
            fake.master_key,
            "--account",
            account.id,
            "--verify",
        )
        assert code == 0, summary
        assert summary["versions"] == 1002
        assert server.requests == 1 + 1 + 1 + (2 + 1) + (1000 + 1)  # /c, /a, a page, each bin's N + 1
    api = Api(account.key)
    assert api("GET", f"/b/{big.id}").body["record"] == large
    assert api("GET", f"/b/{big.id}/1").body["record"] == large
    assert api("GET", f"/b/{many.id}/versions/count").body["metadata"]["versionCount"] == 1000
    assert api("GET", f"/b/{many.id}/437").body["record"] == {"v": 437}


def test_a_dry_run_reads_only_the_listings_and_estimates_the_cost(
    ddb: Any, capsys: pytest.CaptureFixture[str], source: FakeJsonBin, tmp_path: Path
) -> None:
    key = ("--source-master-key", source.account.master_key)
    code, summary, _ = run_import(capsys, source, tmp_path / "state", *key, "--create-account", "--dry-run")
    assert code == 0
    assert all(not p.startswith("/v3/b/") for p in source.paths)
    # /c, then collections of 12, 0 and uncategorized 2 bins: 2 + 1 + 1 pages
    assert summary["sourceRequests"] == 5 and summary["bins"] == 14
    assert table_items(ddb) == []  # nothing written, no account created
    versions = sum(len(b.versions) for b in source.account.bins.values())
    code, exact, _ = run_import(
        capsys, source, tmp_path / "state", *key, "--create-account", "--dry-run", "--count-versions"
    )
    assert exact["versions"] == versions and exact["estimate"]["exact"]
    requests = source.requests
    code, summary, _ = run_import(capsys, source, tmp_path / "state", *key, "--create-account", "--requests", "5")
    assert source.requests - requests == exact["estimate"]["sourceRequests"]
    assert "masterKey" in summary  # a new key, printed once
    assert Api(summary["masterKey"])("GET", "/c").status == 200


def test_keys_already_held_elsewhere_are_refused(
    ddb: Any, capsys: pytest.CaptureFixture[str], tmp_path: Path, account: Account
) -> None:
    fake = FakeAccount(master_key=account.key)
    fake.add_bin({"a": 1})
    with fake_jsonbin(fake) as server:
        code, _, err = run_import(
            capsys,
            server,
            tmp_path / "state",
            f"--source-master-key={account.key}",  # a binvault key may start with "-"
            "--create-account",
            "--requests",
            "5",
            "--keep-master-key",
        )
    assert code == 1 and "another account" in err
    other = make_account()
    assert Api(other.key)("GET", "/c").status == 200


def test_no_key_is_a_usage_error(
    ddb: Any, capsys: pytest.CaptureFixture[str], source: FakeJsonBin, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("JSONBIN_MASTER_KEY", raising=False)
    code = admin.main(
        [
            "--table",
            TABLE,
            "import-jsonbin",
            "--source-url",
            source.url,
            "--create-account",
            "--requests",
            "5",
            "--state-file",
            str(tmp_path / "s"),
        ]
    )
    assert code == 2 and "JSONBIN_MASTER_KEY" in capsys.readouterr().err
    assert source.requests == 0


def test_requests_per_minute_spaces_the_source_calls(
    ddb: Any,
    capsys: pytest.CaptureFixture[str],
    source: FakeJsonBin,
    tmp_path: Path,
    account: Account,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Pacing on a fake clock (the test asserts the waits asked for, never wall time)."""
    clock = {"now": 1000.0}
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        clock["now"] += seconds

    monkeypatch.setattr(source_client.time, "monotonic", lambda: clock["now"])
    monkeypatch.setattr(source_client.time, "sleep", sleep)
    code, summary, _ = run_import(
        capsys,
        source,
        tmp_path / "state",
        "--source-master-key",
        source.account.master_key,
        "--account",
        account.id,
        "--requests-per-minute",
        "120",
    )
    assert code == 0
    # every call after the first waited for its half-second slot: N calls take (N - 1) / 2 s
    assert len(waits) == summary["sourceRequests"] - 1
    assert sum(waits) == pytest.approx((summary["sourceRequests"] - 1) * 0.5)


def test_a_bad_source_url_or_account_is_a_clean_error(
    ddb: Any, capsys: pytest.CaptureFixture[str], source: FakeJsonBin, tmp_path: Path, account: Account
) -> None:
    key = ("--source-master-key", source.account.master_key, "--state-file", str(tmp_path / "s"))
    assert (
        admin.main(["--table", TABLE, "import-jsonbin", "--source-url", "file:///etc", *key, "--account", account.id])
        == 1
    )
    assert "http" in capsys.readouterr().err
    assert admin.main(["--table", TABLE, "import-jsonbin", "--source-url", source.url, *key, "--account", "nope"]) == 1
    assert "account not found" in capsys.readouterr().err
    assert source.requests == 0


def test_a_long_bin_stopped_midway_resumes_where_it_stopped(
    ddb: Any, capsys: pytest.CaptureFixture[str], tmp_path: Path, account: Account
) -> None:
    fake = FakeAccount()
    long = fake.add_bin({"v": 0}, versions=[{"v": n} for n in range(1, 301)])
    # /c, /a, one page, /latest, the base, then versions 1..130: the quota ends in version 131
    with fake_jsonbin(fake, budget=5 + 130) as server:
        args = ("--source-master-key", fake.master_key, "--account", account.id, "--verify")
        code, summary, _ = run_import(capsys, server, tmp_path / "state", *args)
        assert code == 3
        assert Api(account.key)("GET", f"/b/{long.id}").status == 404  # not readable until whole
        server.budget = None
        before = server.requests
        code, summary, _ = run_import(capsys, server, tmp_path / "state", *args)
        assert code == 0 and summary["bins"]["copied"] == 1 and summary["verified"] == 301
        # 125 versions (five batches of 25) were stored: this run read versions 126..299 and the rest
        assert server.requests - before == 5 + (299 - 125)
    api = Api(account.key)
    assert api("GET", f"/b/{long.id}/versions/count").body["metadata"]["versionCount"] == 300
    assert [api("GET", f"/b/{long.id}/{n}").body["record"]["v"] for n in (1, 125, 126, 300)] == [1, 125, 126, 300]
