"""Issue 15 over real HTTP (the local stack, `make run`): collections, schema docs that
validate bins, and listing bins page by page, with requests shaped like JSONBin's
documented samples; CORS lets a browser send the new headers."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.stack import Stack

pytestmark = pytest.mark.integration

USER = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "type": "object",
    "properties": {"username": {"type": "string"}},
    "required": ["username"],
}


def _ok(reply: Any) -> Any:
    assert reply.status == 200, reply.body
    return reply.body


def test_a_jsonbin_client_files_validates_and_lists_bins(service: Stack) -> None:
    # JSONBin's samples: POST /c with X-Collection-Name (and {}), POST /s with the schema
    collection = _ok(service.request("POST", "/c", {}, {"X-Collection-Name": "Users"}))["record"]
    doc = _ok(service.request("POST", "/s", USER, {"X-Schema-Doc-Name": "User"}))["metadata"]["id"]
    attached = _ok(service.request("PUT", f"/c/{collection}/schemadoc/add", None, {"X-Schema-Doc-Id": doc}))
    assert attached["schemaDocId"] == doc
    # A record the schema refuses: 400 naming the schema doc
    refused = service.request("POST", "/b", {"name": "no username"}, {"X-Collection-Id": collection})
    assert refused.status == 400
    assert refused.body == {
        "message": "Schema Doc Validation Mismatch: 'username' is a required property",
        "schemaDocId": doc,
        "schemaDocName": "User",
    }
    # 12 records it accepts, listed 10 at a time with the cursor, oldest first when asked
    made = [
        _ok(
            service.request("POST", "/b", {"username": f"u{n}"}, {"X-Collection-Id": collection, "X-Bin-Name": f"u{n}"})
        )
        for n in range(12)
    ]
    assert all(m["metadata"]["collectionId"] == collection for m in made)
    ascending = {"X-Sort-Order": "ascending"}
    first = _ok(service.request("GET", f"/c/{collection}/bins", headers=ascending))
    second = _ok(service.request("GET", f"/c/{collection}/bins/{first[-1]['record']}", headers=ascending))
    end = _ok(service.request("GET", f"/c/{collection}/bins/{second[-1]['record']}", headers=ascending))
    ordered = sorted(made, key=lambda m: (m["metadata"]["createdAt"], m["metadata"]["id"]))
    assert [i["record"] for i in first + second] == [m["metadata"]["id"] for m in ordered]
    assert (len(first), len(second), end) == (10, 2, [])
    assert first[0] == {
        "snippetMeta": {"name": ordered[0]["metadata"]["name"]},
        "private": True,
        "record": ordered[0]["metadata"]["id"],
        "createdAt": ordered[0]["metadata"]["createdAt"],
    }
    # Descending is the default
    newest = _ok(service.request("GET", f"/c/{collection}/bins"))
    assert newest[0]["record"] == ordered[-1]["metadata"]["id"]
    # An update of a filed bin is validated too
    target = made[0]["metadata"]["id"]
    assert service.request("PUT", f"/b/{target}", {"username": 5}).status == 400
    assert service.request("PUT", f"/b/{target}", {"username": "ok"}).status == 200
    # JSONBin's rename sample (PUT /s/{id}, {} and X-Schema-Doc-Name) keeps the schema
    renamed = _ok(service.request("PUT", f"/s/{doc}", {}, {"X-Schema-Doc-Name": "Person"}))
    assert renamed["record"] == USER and renamed["metadata"]["name"] == "Person"
    # Detached: nothing is validated
    assert _ok(service.request("PUT", f"/c/{collection}/schemadoc/remove"))["schemaDocId"] == doc
    assert service.request("POST", "/b", {"name": "free"}, {"X-Collection-Id": collection}).status == 200
    # The collection is listed with its (now absent) schema doc
    listed = {c["record"]: c for c in _ok(service.request("GET", "/c"))}
    assert listed[collection]["schemaDocId"] is None and listed[collection]["collectionMeta"] == {"name": "Users"}


def test_uncategorized_bins_and_deletes(service: Stack) -> None:
    loose = _ok(service.request("POST", "/b", {"loose": True}, {"X-Bin-Name": "loose"}))["metadata"]["id"]
    newest = _ok(service.request("GET", "/c/uncategorized/bins"))
    assert newest[0]["record"] == loose and newest[0]["snippetMeta"] == {"name": "loose"}
    _ok(service.request("DELETE", f"/b/{loose}"))
    assert loose not in [i["record"] for i in _ok(service.request("GET", "/c/uncategorized/bins"))]
    gone = service.request("GET", f"/c/uncategorized/bins/{loose}")
    assert (gone.status, gone.body) == (400, {"message": "Invalid Bin Id provided"})


def test_cors_allows_the_new_headers(service: Stack) -> None:
    headers = "X-Collection-Id, X-Collection-Name, X-Schema-Doc-Id, X-Schema-Doc-Name, X-Sort-Order"
    preflight = service.request(
        "OPTIONS",
        "/c/uncategorized/bins",
        headers={
            "Origin": "https://app.example",
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": headers,
        },
        key=False,
    )
    assert preflight.status in (200, 204)
    allowed = {h.strip().lower() for h in preflight.headers["access-control-allow-headers"].split(",")}
    assert {h.strip().lower() for h in headers.split(",")} <= allowed
    reply = service.request("GET", "/c", headers={"Origin": "https://app.example"})
    assert reply.headers["access-control-allow-origin"] == "*"
