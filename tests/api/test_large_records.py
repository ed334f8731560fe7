"""Records up to MAX_BIN_BYTES (issue 16): large ones in S3, every record out of the base item
unless small, and the purge leaving nothing behind.

Layout under test (src/binvault/dal/keys.py): the base item holds a base record of at most
BASE_INLINE_BYTES stored, else ``recordAt`` names the item that holds it; a version or
record item holds its record inline up to INLINE_MAX_BYTES stored, else an S3 key (``blob``).
"""

from __future__ import annotations

import random
import re
from collections import Counter
from datetime import UTC
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Api, CallCounter, bin_items

MB = 1024 * 1024
ROOT = Path(__file__).resolve().parents[2]


def big_record(size: int, seed: int = 0) -> dict[str, Any]:
    """A JSON object of about ``size`` bytes that compresses only ~2x (hex digits), so its
    stored form is far above INLINE_MAX_BYTES and it goes to S3."""
    rng = random.Random(seed)
    chunk = 1000
    return {"seed": seed, "rows": [rng.randbytes(chunk // 2).hex() for _ in range(size // (chunk + 3))]}


def medium_record(seed: int = 0) -> dict[str, Any]:
    """About 20 KB that compresses to ~10 KB: too big for the base item, inline in its own."""
    rng = random.Random(seed)
    return {"seed": seed, "rows": [rng.randbytes(50).hex() for _ in range(200)]}


def objects(s3: Any) -> set[str]:
    from binvault.models.settings import get_settings

    listed = s3.list_objects_v2(Bucket=get_settings().bucket_name).get("Contents", [])
    return {entry["Key"] for entry in listed}


def pointed(ddb: Any) -> set[str]:
    """Every S3 key an item points to."""
    return {item["blob"]["S"] for item in bin_items(ddb) if "blob" in item}


def items_by_sk(ddb: Any, bin_id: str) -> dict[str, dict[str, Any]]:
    return {i["sk"]["S"]: i for i in bin_items(ddb) if i["pk"]["S"] == f"BIN#{bin_id}"}


@pytest.fixture
def s3(ddb: Any) -> Any:
    from binvault.dal.blobs import s3

    return s3()


def test_a_1_mb_record_round_trips_through_its_whole_life(api: Api, ddb: Any, s3: Any, purge: Any) -> None:
    # Given a bin created with a 1 MB record
    first, second, third = big_record(MB - 4096, 1), big_record(MB - 4096, 2), big_record(MB - 4096, 3)
    created = api.create(first)
    assert created.status == 200, created.raw
    bin_id = created.body["metadata"]["id"]
    # Then the base item holds only a pointer, its record item an S3 key, and the object exists
    items = items_by_sk(ddb, bin_id)
    base = items["BIN"]
    assert "record" not in base and base["recordAt"]["S"].startswith("R#")
    assert set(items[base["recordAt"]["S"]]) >= {"blob"}
    assert objects(s3) == pointed(ddb) == {items[base["recordAt"]["S"]]["blob"]["S"]}
    # When it gets two versioned updates of 1 MB
    assert api.update(bin_id, second).body["metadata"]["version"] == 1
    assert api.update(bin_id, third).body["metadata"]["version"] == 2
    # Then every version reads back whole, /latest too, the base is unchanged, and ETags agree
    for path, record in ((f"/b/{bin_id}", first), (f"/b/{bin_id}/1", second), (f"/b/{bin_id}/2", third)):
        reply = api("GET", path)
        assert reply.status == 200 and reply.body["record"] == record, path
    latest = api("GET", f"/b/{bin_id}/latest")
    assert latest.body["record"] == third and latest.body["metadata"]["version"] == 2
    assert latest.headers["etag"] == api("GET", f"/b/{bin_id}").headers["etag"]
    assert api("GET", f"/b/{bin_id}/latest", headers={"X-JSON-Path": "$.seed"}).body["record"] == [3]
    assert api("GET", f"/b/{bin_id}/1", headers={"X-Bin-Meta": "false"}).body == second
    assert len(objects(s3)) == 3 and objects(s3) == pointed(ddb)
    # When every version is deleted, keeping the latest
    deleted = api("DELETE", f"/b/{bin_id}/versions", headers={"X-Preserve-Latest": "true"})
    assert deleted.body["metadata"]["versionsDeleted"] == 2
    # Then the base record is the latest version's at once, before any purge
    assert api("GET", f"/b/{bin_id}").body["record"] == third
    assert api("GET", f"/b/{bin_id}/1").status == 404
    # And once purged, what remains is what the base points to: the kept version and its object
    purge.drain()
    items = items_by_sk(ddb, bin_id)
    assert sorted(items) == ["BIN", items["BIN"]["recordAt"]["S"]]
    assert items["BIN"]["recordAt"]["S"].startswith("V#")
    assert objects(s3) == pointed(ddb) and len(objects(s3)) == 1
    assert api("GET", f"/b/{bin_id}/latest").body["record"] == third
    # And a new series starts at version 1 while the base keeps its record
    assert api.update(bin_id, first).body["metadata"]["version"] == 1
    assert api("GET", f"/b/{bin_id}").body["record"] == third
    # When the bin is deleted, then the purge leaves no item and no object behind
    assert api("DELETE", f"/b/{bin_id}").status == 200
    purge.drain()
    assert items_by_sk(ddb, bin_id) == {}
    assert objects(s3) == set()
    assert purge.dead_letters == []


def test_delete_versions_without_preserving_keeps_the_base_record_and_purges_the_rest(
    api: Api, ddb: Any, s3: Any, purge: Any
) -> None:
    bin_id = api.create(big_record(300_000, 1)).body["metadata"]["id"]
    for n in range(2, 5):
        api.update(bin_id, big_record(300_000, n))
    assert api("DELETE", f"/b/{bin_id}/versions").body["metadata"]["versionsDeleted"] == 3
    purge.drain()
    assert api("GET", f"/b/{bin_id}").body["record"] == big_record(300_000, 1)
    assert len(objects(s3)) == 1 and objects(s3) == pointed(ddb)
    assert sorted(items_by_sk(ddb, bin_id))[0] == "BIN" and len(items_by_sk(ddb, bin_id)) == 2


def test_preserve_latest_twice_drops_the_first_kept_version(api: Api, ddb: Any, s3: Any, purge: Any) -> None:
    # Given a base pointing at an old generation's version (an earlier preserve-latest)
    bin_id = api.create({"small": True}).body["metadata"]["id"]
    api.update(bin_id, big_record(200_000, 1))
    api("DELETE", f"/b/{bin_id}/versions", headers={"X-Preserve-Latest": "true"})
    purge.drain()
    # When a new series is cut over with preserve-latest again
    api.update(bin_id, big_record(200_000, 2))
    api("DELETE", f"/b/{bin_id}/versions", headers={"X-Preserve-Latest": "true"})
    purge.drain()
    # Then only the newest kept version and its object remain
    assert api("GET", f"/b/{bin_id}").body["record"] == big_record(200_000, 2)
    assert len(items_by_sk(ddb, bin_id)) == 2
    assert len(objects(s3)) == 1 and objects(s3) == pointed(ddb)


@pytest.mark.parametrize("make", [lambda n: big_record(200_000, n), medium_record], ids=["s3", "own-item"])
def test_in_place_updates_drop_what_they_replace(api: Api, ddb: Any, s3: Any, purge: Any, make: Any) -> None:
    # Given a bin without versions whose base record lives out of the base item
    bin_id = api.create(make(1)).body["metadata"]["id"]
    # When it is replaced in place twice, and then a version is replaced in place twice
    api.update(bin_id, make(2), versioning=False)
    api.update(bin_id, make(3), versioning=False)
    api.update(bin_id, make(4))
    api.update(bin_id, make(5), versioning=False)
    api.update(bin_id, make(6), versioning=False)
    purge.drain()
    # Then each read answers the newest record, and nothing replaced is left behind
    assert api("GET", f"/b/{bin_id}").body["record"] == make(3)
    assert api("GET", f"/b/{bin_id}/1").body["record"] == make(6)
    items = items_by_sk(ddb, bin_id)
    assert sorted(items) == sorted(["BIN", items["BIN"]["recordAt"]["S"], "V#0000000000#000001"])
    assert objects(s3) == pointed(ddb)
    # And a small record moves back into the base item, dropping the record item
    api.update(bin_id, {"small": 1}, versioning=False)
    api("DELETE", f"/b/{bin_id}/versions")
    api.update(bin_id, {"small": 2}, versioning=False)
    purge.drain()
    assert sorted(items_by_sk(ddb, bin_id)) == ["BIN"]
    assert objects(s3) == set()


def test_a_medium_record_lives_in_its_own_item_not_the_base(api: Api, ddb: Any, s3: Any) -> None:
    from binvault.dal import keys

    record = medium_record(1)
    bin_id = api.create(record).body["metadata"]["id"]
    items = items_by_sk(ddb, bin_id)
    holder = items[items["BIN"]["recordAt"]["S"]]
    assert keys.BASE_INLINE_BYTES < len(holder["record"]["B"]) <= keys.INLINE_MAX_BYTES
    assert objects(s3) == set()
    assert api("GET", f"/b/{bin_id}/latest").body["record"] == record


def test_small_records_never_build_an_s3_client(api: Api, new_bin: str) -> None:
    from binvault.dal import blobs

    blobs.s3.cache_clear()  # the fixture built one to create the bucket
    api.update(new_bin, {"v": 1})
    api.update(new_bin, {"v": 2}, versioning=False)
    api("GET", f"/b/{new_bin}/latest")
    api("DELETE", f"/b/{new_bin}/versions", headers={"X-Preserve-Latest": "true"})
    assert blobs._create_client.cache_info().currsize == 0


def test_limits_the_1_mb_default_and_up_to_5_mb(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    from binvault.models.settings import get_settings

    assert api.create(big_record(MB + 10_000)).body == {"message": "Bin size exceeds the limit of 1048576 bytes"}
    monkeypatch.setenv("MAX_BIN_BYTES", str(5 * MB))
    get_settings.cache_clear()
    five = big_record(5 * MB - 10_000, 5)
    created = api.create(five)
    assert created.status == 200
    assert api("GET", f"/b/{created.body['metadata']['id']}").body["record"] == five


def test_a_record_whose_response_would_not_fit_lambda_is_refused(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given the highest MAX_BIN_BYTES allowed
    from binvault.models.settings import MAX_BIN_BYTES_CEILING, get_settings

    monkeypatch.setenv("MAX_BIN_BYTES", str(MAX_BIN_BYTES_CEILING))
    get_settings.cache_clear()
    # When a record under it would be escaped past Lambda's 6 MB response (quotes double)
    quotes = ['"' * 1000] * 1750  # 3.5 MB of escaped quotes: 7 MB once escaped again
    reply = api.create(quotes)
    # Then it is refused before anything is stored, with the 413 and the limit it would exceed
    assert reply.status == 413
    assert reply.body == {
        "message": "Bin is too large to be returned: its response would exceed Lambda's 6291456 bytes"
    }


@pytest.mark.parametrize("preserve", [False, True])
def test_delete_versions_is_one_write_at_1_mb_records(
    api: Api, ddb: Any, dynamodb_calls: CallCounter, preserve: bool
) -> None:
    from binvault.dal.blobs import s3

    bin_id = api.create(big_record(MB - 4096, 0)).body["metadata"]["id"]
    for n in range(1, 4):
        api.update(bin_id, big_record(MB - 4096, n))
    s3_calls = CallCounter()
    s3().meta.events.register("before-call.s3", s3_calls)
    dynamodb_calls.reset()
    headers = {"X-Preserve-Latest": "true" if preserve else "false"}
    assert api("DELETE", f"/b/{bin_id}/versions", headers=headers).status == 200
    s3().meta.events.unregister("before-call.s3", s3_calls)
    # the same calls as for small records: auth, base read, [latest version read], one write
    assert dynamodb_calls.calls == Counter({"TransactWriteItems": 1, "UpdateItem": 1, "GetItem": 2 if preserve else 1})
    assert s3_calls.total == 0


def test_the_orphan_sweep_deletes_only_old_objects_nothing_points_to(api: Api, ddb: Any, s3: Any) -> None:
    from datetime import datetime, timedelta

    from binvault.dal import blobs, keys
    from binvault.dal.purge import sweep_orphans

    # Given a bin with a large record, an orphan of that bin, and an orphan of a bin that is gone
    bin_id = api.create(big_record(200_000)).body["metadata"]["id"]
    kept = pointed(ddb)
    blobs.put(keys.blob_key(bin_id, "orphan"), b"x")
    blobs.put(keys.blob_key("f" * 24, "orphan"), b"x")
    # When the sweep runs within the grace period, then it deletes nothing
    assert sweep_orphans(grace_seconds=3600)["deleted"] == 0
    assert len(objects(s3)) == 3
    # When it runs after it, then it deletes the orphans and keeps what an item points to
    later = datetime.now(UTC) + timedelta(hours=2)
    assert sweep_orphans(grace_seconds=3600, now=later) == {"objects": 3, "deleted": 2}
    assert objects(s3) == kept
    assert api("GET", f"/b/{bin_id}").body["record"] == big_record(200_000)


def test_the_sweep_runs_from_the_admin_cli_and_the_schedule(api: Api, ddb: Any, s3: Any, capsys: Any) -> None:
    from binvault import admin
    from binvault.dal import blobs, keys
    from binvault.handlers import purge
    from binvault.local.events import LocalContext

    blobs.put(keys.blob_key("e" * 24, "orphan"), b"x")
    assert admin.main(["sweep-orphans", "--grace-seconds", "3600"]) == 0
    assert '"deleted": 0' in capsys.readouterr().out
    assert admin.main(["sweep-orphans", "--grace-seconds", "-7200"]) == 0
    assert objects(s3) == set()
    blobs.put(keys.blob_key("e" * 24, "orphan2"), b"x")
    assert purge.lambda_handler({"sweep": True}, LocalContext()) == {"objects": 1, "deleted": 0}


# ---- the template grants exactly the S3 calls each function's code makes ----------------------


def _s3_actions(source: str) -> set[str]:
    methods = set(re.findall(r"s3\(\)\.(\w+)", source))
    iam = {
        "put_object": "s3:PutObject",
        "get_object": "s3:GetObject",
        "delete_objects": "s3:DeleteObject",
        "list_objects_v2": "s3:ListBucket",
        "head_bucket": "s3:ListBucket",
        "create_bucket": "s3:CreateBucket",
        "generate_presigned_url": "s3:GetObject",  # signs a GetObject: the URL's caller gets it
    }
    return {iam[m] for m in methods}


def _granted_s3(function: str) -> set[str]:
    from tests.unit.test_template import FUNCTIONS, _as_list, _statements

    return {a for s in _statements(FUNCTIONS[function]) for a in _as_list(s["Action"]) if a.startswith("s3:")}


def _functions(path: str) -> dict[str, str]:
    source = (ROOT / path).read_text()
    return {name: body for name, body in re.findall(r"\ndef (\w+)\((.*?)(?=\n\ndef |\Z)", source, re.S)}


def test_the_template_grants_exactly_the_s3_calls_each_function_makes() -> None:
    blobs = _functions("src/binvault/dal/blobs.py")
    logs = _functions("src/binvault/dal/usage_logs.py")
    # the API: large records, and the usage logs it lists, reads, zips and presigns (issue 24)
    api = _s3_actions(
        blobs["put"] + blobs["get"] + logs["days"] + blobs["listing"] + logs["put_export"] + logs["presigned_url"]
    )
    purge = _s3_actions(blobs["delete"] + blobs["listing"])
    shipper = _s3_actions(logs["put_batch"])
    assert api == _granted_s3("ApiFunction") == {"s3:PutObject", "s3:GetObject", "s3:ListBucket"}
    assert purge == _granted_s3("PurgeFunction") == {"s3:DeleteObject", "s3:ListBucket"}
    assert shipper == _granted_s3("UsageLogsFunction") == {"s3:PutObject"}
    # ensure_bucket is the local stack's and the tests': never granted
    granted = _granted_s3("ApiFunction") | _granted_s3("PurgeFunction") | _granted_s3("UsageLogsFunction")
    assert "s3:CreateBucket" not in granted


def test_the_bucket_is_private_encrypted_unversioned_and_tls_only() -> None:
    from tests.unit.test_template import RESOURCES

    bucket = RESOURCES["RecordsBucket"]["Properties"]
    assert all(bucket["PublicAccessBlockConfiguration"].values())
    assert bucket["OwnershipControls"]["Rules"] == [{"ObjectOwnership": "BucketOwnerEnforced"}]
    rule = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
    assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] in {"AES256", "aws:kms"}
    assert "VersioningConfiguration" not in bucket
    policy = RESOURCES["RecordsBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert any(s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}} for s in policy)


def swept_after_grace() -> dict[str, int]:
    from datetime import UTC, datetime, timedelta

    from binvault.dal.purge import sweep_orphans

    return sweep_orphans(grace_seconds=3600, now=datetime.now(UTC) + timedelta(hours=2))


def test_admin_purge_re_drives_a_dead_lettered_drop_and_cut_over(api: Api, ddb: Any, s3: Any) -> None:
    from binvault.admin import maintenance as admin  # `binvault-admin purge` (admin/ is a package now)

    # Given writes whose purges never ran (the stream records ended in the dead-letter queue)
    bin_id = api.create(big_record(200_000, 1)).body["metadata"]["id"]
    api.update(bin_id, big_record(200_000, 2), versioning=False)  # drops the first record
    api.update(bin_id, big_record(200_000, 3))
    api("DELETE", f"/b/{bin_id}/versions")
    assert len(objects(s3)) == 3
    # When the operator re-drives the purge
    assert admin.purge(bin_id)["deleted"] == 2  # version 1, and the replaced record item
    # Then only what the base points to is left, objects included, and it reads back
    assert objects(s3) == pointed(ddb) and len(objects(s3)) == 1
    assert swept_after_grace()["deleted"] == 0
    assert api("GET", f"/b/{bin_id}").body["record"] == big_record(200_000, 2)
    assert admin.purge(bin_id)["deleted"] == 0


@pytest.mark.parametrize(
    ("image", "wanted"),
    [
        ({"drop": {"S": "R#abc b/0123456789abcdef01234567/def"}, "rev": {"N": "5"}}, True),
        ({"purgeBelow": {"N": "2"}, "recordAt": {"S": "V#0000000001#000003"}, "drop": {"S": "R#x"}}, True),
        ({"recordAt": {"S": "R#abc"}, "rev": {"N": "5"}}, False),
    ],
    ids=["dropped", "cut-over-dropping", "pointer-only"],
)
def test_the_stream_filter_wakes_the_purge_for_drops_as_purge_target_does(image: dict[str, Any], wanted: bool) -> None:
    import json

    from binvault.handlers.purge import purge_target
    from tests.unit.test_template import _matches, _record, _stream_events

    record = _record("MODIFY", "BIN", image)
    (stream,) = _stream_events()
    patterns = [json.loads(f["Pattern"]) for f in stream["FilterCriteria"]["Filters"]]
    assert any(_matches(p, record) for p in patterns) is wanted
    target = purge_target(record)
    assert (target is not None) is wanted
    if target is not None:
        assert target.dropped == image["drop"]["S"].split()
        assert target.keep == image.get("recordAt", {}).get("S")
