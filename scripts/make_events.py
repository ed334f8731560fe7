"""Regenerate events/*.json: API Gateway REST proxy events (payload v1) for every route and
the main error cases, plus a DynamoDB Stream event for the purge function.

    python scripts/make_events.py

They use a fixed demo bin id and master key; tests/api/test_events.py seeds exactly
those and replays every file through the real handlers.
"""

from __future__ import annotations

import json
from pathlib import Path

from binvault.local.events import rest_event

EVENTS = Path(__file__).resolve().parents[1] / "events"
BIN = "65f0c0de0123456789abcdef"
KEY = "demo-master-key-for-sample-events-only"
JSON = ("Content-Type", "application/json")
AUTH = ("X-Master-Key", KEY)
ACCESS_KEY = "demo-access-key-for-sample-events-only"  # read permission only
ACCESS_KEY_ID = "65f0c0de0123456789abc0de"
ACCESS = ("X-Access-Key", ACCESS_KEY)
COLLECTION = "65f0c0de0123456789abc011"  # has the schema doc SCHEMA_DOC attached
SCHEMA_DOC = "65f0c0de0123456789abc5d0"  # {"type": "object", "required": ["greeting"]}

REST = {
    "create-bin": ("POST", "/b", [JSON, AUTH, ("X-Bin-Name", "sample")], '{"greeting": "hello"}'),
    "update-bin-versioned": (
        "PUT",
        f"/b/{BIN}",
        [JSON, AUTH, ("X-Bin-Versioning", "true")],
        '{"greeting": "v1"}',
    ),
    "update-bin-in-place": ("PUT", f"/b/{BIN}", [JSON, AUTH], '{"greeting": "in place"}'),
    "read-bin": ("GET", f"/b/{BIN}", [AUTH], None),
    "read-bin-no-meta": ("GET", f"/b/{BIN}", [AUTH, ("X-Bin-Meta", "false")], None),
    "read-latest": ("GET", f"/b/{BIN}/latest", [AUTH], None),
    "read-version": ("GET", f"/b/{BIN}/1", [AUTH], None),
    "count-versions": ("GET", f"/b/{BIN}/versions/count", [AUTH], None),
    "delete-versions": ("DELETE", f"/b/{BIN}/versions", [AUTH], None),
    "delete-versions-preserve": ("DELETE", f"/b/{BIN}/versions", [AUTH, ("X-Preserve-Latest", "true")], None),
    "delete-bin": ("DELETE", f"/b/{BIN}", [AUTH], None),
    "read-bin-json-path": ("GET", f"/b/{BIN}/latest", [AUTH, ("X-JSON-Path", "$.greeting")], None),
    "read-bin-access-key": ("GET", f"/b/{BIN}", [ACCESS], None),
    "rename-bin": ("PUT", f"/b/{BIN}/meta/name", [JSON, AUTH, ("X-Bin-Name", "renamed")], "{}"),
    "set-bin-privacy": ("PUT", f"/b/{BIN}/meta/privacy", [JSON, AUTH, ("X-Bin-Private", "false")], "{}"),
    "create-access-key": (
        "POST",
        "/a",
        [JSON, AUTH, ("X-Key-Name", "front end")],
        '{"bins": {"create": false, "read": true, "update": false, "delete": false}}',
    ),
    "list-access-keys": ("GET", "/a", [AUTH], None),
    "delete-access-key": ("DELETE", f"/a/{ACCESS_KEY_ID}", [AUTH], None),
    "error-route-not-found": ("GET", "/nothing-here", [AUTH], None),
    "error-method-not-allowed": ("PATCH", f"/b/{BIN}", [AUTH], None),
    "error-invalid-bin-id": ("GET", "/b/not-a-bin-id", [AUTH], None),
    "error-missing-key": ("DELETE", f"/b/{BIN}/versions", [], None),
    "error-invalid-key": ("DELETE", f"/b/{BIN}/versions", [("X-Master-Key", "wrong")], None),
    "error-bad-preserve-latest": (
        "DELETE",
        f"/b/{BIN}/versions",
        [AUTH, ("X-Preserve-Latest", "maybe")],
        None,
    ),
    "error-bin-not-found": ("GET", "/b/0123456789abcdef01234567", [AUTH], None),
    "error-version-not-found": ("GET", f"/b/{BIN}/999", [AUTH], None),
    "error-invalid-version": ("GET", f"/b/{BIN}/one", [AUTH], None),
    "error-blank-bin": ("POST", "/b", [JSON, AUTH], "{}"),
    "error-invalid-json": ("POST", "/b", [JSON, AUTH], "{not json"),
    "error-content-type": ("POST", "/b", [("Content-Type", "text/plain"), AUTH], '{"a": 1}'),
    "error-stale-if-match": ("PUT", f"/b/{BIN}", [JSON, AUTH, ("If-Match", '"stale"')], '{"a": 1}'),
    "error-access-key-forbidden": ("PUT", f"/b/{BIN}", [JSON, ACCESS], '{"a": 1}'),
    "error-invalid-access-key": ("GET", f"/b/{BIN}", [("X-Access-Key", "wrong")], None),
    "error-invalid-access-key-id": ("DELETE", "/a/not-an-id", [AUTH], None),
    "error-invalid-json-path": ("GET", f"/b/{BIN}", [AUTH, ("X-JSON-Path", "$[")], None),
    "error-missing-bin-name": ("PUT", f"/b/{BIN}/meta/name", [AUTH], None),
    # issue 15: collections, listing bins, schema docs
    "create-collection": ("POST", "/c", [AUTH, ("X-Collection-Name", "greetings")], None),
    "list-collections": ("GET", "/c", [AUTH], None),
    "rename-collection": ("PUT", f"/c/{COLLECTION}/meta/name", [AUTH, ("X-Collection-Name", "hellos")], "{}"),
    "attach-schema-doc": ("PUT", f"/c/{COLLECTION}/schemadoc/add", [AUTH, ("X-Schema-Doc-Id", SCHEMA_DOC)], None),
    "detach-schema-doc": ("PUT", f"/c/{COLLECTION}/schemadoc/remove", [AUTH], None),
    "create-bin-in-collection": (
        "POST",
        "/b",
        [JSON, AUTH, ("X-Collection-Id", COLLECTION)],
        '{"greeting": "filed"}',
    ),
    "list-collection-bins": ("GET", f"/c/{COLLECTION}/bins", [AUTH, ("X-Sort-Order", "ascending")], None),
    "list-uncategorized-bins": ("GET", "/c/uncategorized/bins", [AUTH], None),
    "list-uncategorized-bins-after": ("GET", f"/c/uncategorized/bins/{BIN}", [AUTH], None),
    "create-schema-doc": (
        "POST",
        "/s",
        [JSON, AUTH, ("X-Schema-Doc-Name", "Greeting")],
        '{"$schema": "http://json-schema.org/draft-07/schema#", "type": "object", "required": ["greeting"]}',
    ),
    "read-schema-doc": ("GET", f"/s/{SCHEMA_DOC}", [AUTH], None),
    "update-schema-doc": ("PUT", f"/s/{SCHEMA_DOC}", [JSON, AUTH], '{"type": "object", "required": ["hello"]}'),
    "rename-schema-doc": ("PUT", f"/s/{SCHEMA_DOC}/meta/name", [AUTH, ("X-Schema-Doc-Name", "Hello")], None),
    "error-schema-doc-mismatch": ("POST", "/b", [JSON, AUTH, ("X-Collection-Id", COLLECTION)], '{"other": 1}'),
    "error-invalid-sort-order": ("GET", "/c/uncategorized/bins", [AUTH, ("X-Sort-Order", "random")], None),
    "error-collection-not-found": ("GET", "/c/0123456789abcdef01234567/bins", [AUTH], None),
}


def stream_event() -> dict[str, object]:
    """What the purge function receives after a delete-versions cut-over (filtered stream)."""
    return {
        "Records": [
            {
                "eventID": "c81e728d9d4c2f636f067f89cc14862c",
                "eventName": "MODIFY",
                "eventVersion": "1.1",
                "eventSource": "aws:dynamodb",
                "awsRegion": "us-east-1",
                "dynamodb": {
                    "ApproximateCreationDateTime": 1764460800,
                    "Keys": {"pk": {"S": f"BIN#{BIN}"}, "sk": {"S": "BIN"}},
                    "NewImage": {
                        "pk": {"S": f"BIN#{BIN}"},
                        "sk": {"S": "BIN"},
                        "generation": {"N": "1"},
                        "versionCount": {"N": "0"},
                        "purgeBelow": {"N": "1"},
                    },
                    "SequenceNumber": "111100000000001234567890",
                    "SizeBytes": 120,
                    "StreamViewType": "NEW_IMAGE",
                },
                "eventSourceARN": "arn:aws:dynamodb:us-east-1:123456789012:table/binvault/stream/2026-11-30T00:00:00.000",  # noqa: E501
            }
        ]
    }


def main() -> None:
    EVENTS.mkdir(exist_ok=True)
    for name, (method, path, headers, body) in REST.items():
        event = rest_event(method, path, headers, body)
        event["requestContext"]["requestId"] = f"sample-{name}"
        event["requestContext"]["requestTime"] = "30/Nov/2026:00:00:00 +0000"
        event["requestContext"]["requestTimeEpoch"] = 1764460800000
        (EVENTS / f"{name}.json").write_text(json.dumps(event, indent=2) + "\n")
    (EVENTS / "stream-purge-versions.json").write_text(json.dumps(stream_event(), indent=2) + "\n")


if __name__ == "__main__":
    main()
