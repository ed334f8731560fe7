"""Every JSON file in events/ replays through the real handlers with the expected answer
(the same files work with `sam local invoke -e` and `make invoke EVENT=...`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from binvault.local.events import LocalContext
from tests.conftest import add_versions

EVENTS = Path(__file__).resolve().parents[2] / "events"
BIN = "65f0c0de0123456789abcdef"
KEY = "demo-master-key-for-sample-events-only"
ACCESS_KEY = "demo-access-key-for-sample-events-only"
ACCESS_KEY_ID = "65f0c0de0123456789abc0de"

EXPECTED = {
    "create-bin": 200,
    "update-bin-versioned": 200,
    "update-bin-in-place": 200,
    "read-bin": 200,
    "read-bin-no-meta": 200,
    "read-latest": 200,
    "read-version": 200,
    "count-versions": 200,
    "list-versions": 200,
    "list-versions-before": 200,
    "error-invalid-version-cursor": 400,
    "delete-versions": 200,
    "delete-versions-preserve": 200,
    "delete-bin": 200,
    "error-route-not-found": 404,
    "error-method-not-allowed": 405,
    "error-invalid-bin-id": 400,
    "error-missing-key": 401,
    "error-invalid-key": 401,
    "error-bad-preserve-latest": 400,
    "error-bin-not-found": 404,
    "error-version-not-found": 404,
    "error-invalid-version": 400,
    "error-blank-bin": 400,
    "error-invalid-json": 400,
    "error-content-type": 400,
    "error-stale-if-match": 412,
    "read-bin-json-path": 200,
    "read-bin-access-key": 200,
    "rename-bin": 200,
    "set-bin-privacy": 200,
    "create-access-key": 200,
    "list-access-keys": 200,
    "delete-access-key": 200,
    "error-access-key-forbidden": 403,
    "error-invalid-access-key": 401,
    "error-invalid-access-key-id": 400,
    "error-invalid-json-path": 400,
    "error-missing-bin-name": 400,
    "create-collection": 200,
    "list-collections": 200,
    "rename-collection": 200,
    "attach-schema-doc": 200,
    "detach-schema-doc": 200,
    "create-bin-in-collection": 200,
    "list-collection-bins": 200,
    "list-uncategorized-bins": 200,
    "list-uncategorized-bins-after": 200,
    "create-schema-doc": 200,
    "read-schema-doc": 200,
    "update-schema-doc": 200,
    "rename-schema-doc": 200,
    "error-schema-doc-mismatch": 400,
    "error-invalid-sort-order": 400,
    "error-collection-not-found": 404,
    "list-usage-logs": 200,
    "download-usage-log": 200,
    "error-usage-log-not-found": 404,
    "error-invalid-log-date": 400,
}
COLLECTION = "65f0c0de0123456789abc011"
SCHEMA_DOC = "65f0c0de0123456789abc5d0"


@pytest.fixture
def sample_bin(ddb: Any) -> None:
    """The account, its read-only access key and the bin (with two versions) that the
    sample events refer to."""
    from binvault.dal import access_keys, accounts, bins, records
    from binvault.logic.auth import hash_key
    from binvault.models.bins import AccessKey, Bin, StoredRecord
    from tests.conftest import Api

    accounts.create_account("sample-account", hash_key(KEY), 1000, "2026-11-30T00:00:00.000Z")
    record = StoredRecord(records.encode({"greeting": "hello"}))
    bins.put_new_bin(Bin(BIN, "sample-account", True, "sample", "2026-11-30T00:00:00.000Z", record, 0, 0, 1))
    add_versions(Api(KEY), BIN, 2)
    key = AccessKey(ACCESS_KEY_ID, "sample", frozenset({"read"}), "2026-11-30T00:00:00.000Z", ACCESS_KEY[-4:])
    access_keys.create("sample-account", hash_key(ACCESS_KEY), key, 4)
    from binvault.dal import collections, schema_docs
    from binvault.models.bins import Collection, SchemaDoc

    at = "2026-11-30T00:00:00.000Z"
    schema_docs.create(SchemaDoc(SCHEMA_DOC, "sample-account", "Greeting", at, '{"required":["greeting"]}', 1), 100)
    collections.create(Collection(COLLECTION, "sample-account", "greetings", at, None, 1), 10)
    collections.set_schema_doc(Collection(COLLECTION, "sample-account", "greetings", at, None, 1), SCHEMA_DOC)
    # the sample account's usage log of 30-11-2026, as the subscription event delivers it
    from binvault.dal import blobs
    from binvault.handlers import usage_logs

    blobs.ensure_bucket()
    usage_logs.lambda_handler(json.loads((EVENTS / "cloudwatch-logs-usage.json").read_text()), LocalContext())


def test_every_event_file_is_covered() -> None:
    names = {path.stem for path in EVENTS.glob("*.json")}
    assert names == {*EXPECTED, "stream-purge-versions", "cloudwatch-logs-usage"}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_rest_event_replays(name: str, sample_bin: None) -> None:
    from binvault.handlers.api import lambda_handler
    from binvault.local.events import LocalContext

    event = json.loads((EVENTS / f"{name}.json").read_text())
    assert event["requestContext"]["stage"] == "v3" and "multiValueHeaders" in event  # REST v1
    response = lambda_handler(event, LocalContext())
    assert response["statusCode"] == EXPECTED[name], response["body"]
    if response["isBase64Encoded"]:  # a day's usage log: a zip of the sample's three lines
        assert response["multiValueHeaders"]["Content-Type"] == ["application/zip"]
        assert len(day_lines(response)) == 3
        return
    body = json.loads(response["body"])
    if EXPECTED[name] >= 400:  # a schema doc mismatch also names the schema doc
        assert list(body) == ["message"] + (["schemaDocId", "schemaDocName"] if "mismatch" in name else [])


def test_stream_event_purges_the_old_generation(sample_bin: None, ddb: Any) -> None:
    from binvault.dal import keys
    from binvault.handlers.purge import lambda_handler
    from binvault.local.events import LocalContext
    from tests.conftest import bin_items

    assert len(bin_items(ddb)) == 3  # base + versions 1 and 2 of generation 0
    event = json.loads((EVENTS / "stream-purge-versions.json").read_text())
    assert lambda_handler(event, LocalContext()) == {"batchItemFailures": []}
    assert [item["sk"]["S"] for item in bin_items(ddb)] == [keys.BIN_SK]


def day_lines(response: dict[str, Any]) -> list[dict[str, Any]]:
    import base64
    import io
    import zipfile

    with zipfile.ZipFile(io.BytesIO(base64.b64decode(response["body"]))) as archive:
        (name,) = archive.namelist()
        return [json.loads(line) for line in archive.read(name).decode().splitlines()]


def test_the_subscription_event_is_stored_as_the_local_path_stores_it(sample_bin: None) -> None:
    """The CloudWatch Logs event of events/ and the local stack's shipper fed the same log
    lines reach the same handler and leave the same objects' content."""
    import gzip

    from binvault.dal import blobs
    from binvault.local.usage_logs import Shipper
    from binvault.logic import usage_logs

    event = json.loads((EVENTS / "cloudwatch-logs-usage.json").read_text())
    deployed = {key: gzip.decompress(blobs.get(key) or b"") for key, _ in blobs.listing("logs/")}
    assert len(deployed) == 1 and next(iter(deployed)).startswith("logs/sample-account/2026-11-30/")
    for key in deployed:
        blobs.delete([key])
    shipper = Shipper()
    for log_event in usage_logs.decode_subscription_event(event)["logEvents"]:
        assert shipper.feed(log_event["message"] + "\n")
    assert not shipper.feed('{"level":"INFO","message":"request refused","service":"binvault"}')
    assert shipper.flush() == 3
    local = {key: gzip.decompress(blobs.get(key) or b"") for key, _ in blobs.listing("logs/")}
    assert list(local.values()) == list(deployed.values())
    assert [key.rsplit("/", 1)[0] for key in local] == [key.rsplit("/", 1)[0] for key in deployed]
