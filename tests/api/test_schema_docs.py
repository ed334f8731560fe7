"""Schema docs (POST /v3/s, GET/PUT /v3/s/{id}, PUT /v3/s/{id}/meta/name), attaching them to
collections, and validating the bins of those collections (JSONBIN-PARITY.md section 5)."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest

from tests.conftest import Account, Api, CallCounter, table_items
from tests.support.inproc import in_fresh_process

USER = {"type": "object", "required": ["username"], "properties": {"username": {"type": "string"}}}
MISSING_USERNAME = "Schema Doc Validation Mismatch: 'username' is a required property"
OTHER_ID = "0123456789abcdef01234567"


def _schema_doc(api: Api, schema: Any = None, name: str = "User") -> str:
    reply = api("POST", "/s", headers={"X-Schema-Doc-Name": name}, body=USER if schema is None else schema)
    assert reply.status == 200, reply.raw
    return str(reply.body["metadata"]["id"])


def _collection(api: Api, schema_doc: str | None = None) -> str:
    collection = str(api("POST", "/c", headers={"X-Collection-Name": "users"}).body["record"])
    if schema_doc is not None:
        reply = api("PUT", f"/c/{collection}/schemadoc/add", headers={"X-Schema-Doc-Id": schema_doc})
        assert reply.status == 200, reply.raw
    return collection


def _bin_items(ddb: Any) -> list[dict[str, Any]]:
    return [i for i in table_items(ddb) if i["pk"]["S"].startswith(("BIN#", "LIST#"))]


def test_create_read_update_and_rename_answer_the_documented_shapes(api: Api) -> None:
    made = api("POST", "/s", headers={"X-Schema-Doc-Name": "User Validation"}, body=USER)
    doc = made.body["metadata"]["id"]
    assert made.body["record"] == USER
    assert set(made.body["metadata"]) == {"id", "name", "createdAt"}
    read = api("GET", f"/s/{doc}")
    assert read.body == made.body
    replaced = {"type": "array"}
    updated = api("PUT", f"/s/{doc}", body=replaced)
    assert updated.body == {"record": replaced, "metadata": made.body["metadata"]}
    renamed = api("PUT", f"/s/{doc}/meta/name", headers={"X-Schema-Doc-Name": "Users"})
    assert renamed.body == {"record": replaced, "metadata": {**made.body["metadata"], "name": "Users"}}
    assert api("GET", f"/s/{doc}").body == renamed.body


def test_put_with_an_empty_object_and_a_name_renames_without_wiping_the_schema(api: Api) -> None:
    doc = _schema_doc(api)
    reply = api("PUT", f"/s/{doc}", headers={"X-Schema-Doc-Name": "Renamed"}, body={})
    assert reply.body["record"] == USER and reply.body["metadata"]["name"] == "Renamed"
    both = api("PUT", f"/s/{doc}", headers={"X-Schema-Doc-Name": "Both"}, body={"type": "object"})
    assert both.body["record"] == {"type": "object"} and both.body["metadata"]["name"] == "Both"
    assert api("PUT", f"/s/{doc}", body={}).body == {"message": "Schema Doc cannot be blank"}


def test_attach_validate_detach_and_validate_nothing(api: Api, ddb: Any) -> None:
    doc = _schema_doc(api)
    collection = _collection(api)
    attached = api("PUT", f"/c/{collection}/schemadoc/add", headers={"X-Schema-Doc-Id": doc})
    assert attached.body["schemaDocId"] == doc and attached.body["collectionName"] == "users"
    assert attached.body["metadata"]["id"] == collection
    assert api("GET", "/c").body[0]["schemaDocId"] == doc
    # A record the schema refuses: 400 naming the schema doc, nothing stored
    before = _bin_items(ddb)
    refused = api("POST", "/b", headers={"X-Collection-Id": collection}, body={"name": "x"})
    assert (refused.status, refused.body) == (
        400,
        {"message": MISSING_USERNAME, "schemaDocId": doc, "schemaDocName": "User"},
    )
    assert _bin_items(ddb) == before
    # A record it accepts is stored; an update it refuses stores nothing and adds no version
    made = api("POST", "/b", headers={"X-Collection-Id": collection}, body={"username": "ann"})
    bin_id = made.body["metadata"]["id"]
    before = _bin_items(ddb)
    for versioning in (True, False):
        bad = api.update(bin_id, {"username": 7}, versioning=versioning)
        assert bad.status == 400
        assert bad.body["message"] == "Schema Doc Validation Mismatch: $.username: 7 is not of type 'string'"
    assert _bin_items(ddb) == before
    assert api.update(bin_id, {"username": "bob"}).body["metadata"]["version"] == 1
    # Detached: nothing is validated any more, and stored bins were never re-validated
    detached = api("PUT", f"/c/{collection}/schemadoc/remove")
    assert detached.body["schemaDocId"] == doc
    assert api("POST", "/b", headers={"X-Collection-Id": collection}, body={"name": "x"}).status == 200
    assert api.update(bin_id, {"anything": True}).status == 200
    again = api("PUT", f"/c/{collection}/schemadoc/remove")
    assert again.body["schemaDocId"] is None
    assert api("GET", "/c").body[0]["schemaDocId"] is None


def test_a_schema_update_applies_to_the_next_write_only(api: Api) -> None:
    doc = _schema_doc(api)
    collection = _collection(api, doc)
    bin_id = api("POST", "/b", headers={"X-Collection-Id": collection}, body={"username": "a"}).body["metadata"]["id"]
    api("PUT", f"/s/{doc}", body={"type": "object", "required": ["email"]})
    assert api("GET", f"/b/{bin_id}").status == 200  # not re-validated
    refused = api.update(bin_id, {"username": "a"})
    assert refused.body["message"] == "Schema Doc Validation Mismatch: 'email' is a required property"
    assert api.update(bin_id, {"email": "a@example.com"}).status == 200


def test_attaching_another_schema_doc_replaces_the_first(api: Api) -> None:
    first = _schema_doc(api)
    second = _schema_doc(api, {"type": "object", "required": ["id"]}, name="Ids")
    collection = _collection(api, first)
    api("PUT", f"/c/{collection}/schemadoc/add", headers={"X-Schema-Doc-Id": second})
    refused = api("POST", "/b", headers={"X-Collection-Id": collection}, body={"username": "a"})
    assert refused.body == {
        "message": "Schema Doc Validation Mismatch: 'id' is a required property",
        "schemaDocId": second,
        "schemaDocName": "Ids",
    }
    wrong = api("PUT", f"/c/{collection}/schemadoc/remove", headers={"X-Schema-Doc-Id": first})
    assert (wrong.status, wrong.message) == (400, "Invalid Schema Id provided")
    assert api("PUT", f"/c/{collection}/schemadoc/remove", headers={"X-Schema-Doc-Id": second}).status == 200


@pytest.mark.parametrize(
    ("declared", "record", "passes"),
    [
        # Draft 6 when $schema is absent: exclusiveMinimum is a number (Draft 4 had a boolean)
        (None, {"n": 5}, False),
        ("http://json-schema.org/draft-04/schema#", {"n": 5}, None),
        ("http://json-schema.org/draft-06/schema#", {"n": 5}, False),
        ("http://json-schema.org/draft-07/schema#", {"n": 6}, True),
        ("https://json-schema.org/draft/2019-09/schema", {"n": 6}, True),
        ("https://json-schema.org/draft/2020-12/schema", {"n": 5}, False),
    ],
)
def test_the_draft_is_chosen_by_dollar_schema(api: Api, declared: str | None, record: Any, passes: bool | None) -> None:
    schema: dict[str, Any] = {"properties": {"n": {"exclusiveMinimum": 5}}}
    if declared is not None:
        schema["$schema"] = declared
    reply = api("POST", "/s", headers={"X-Schema-Doc-Name": "n"}, body=schema)
    if passes is None:  # Draft 4's exclusiveMinimum must be a boolean: not a valid Draft 4 schema
        assert reply.status == 400 and reply.message.startswith("Schema Doc is not a valid JSON Schema: ")
        return
    collection = _collection(api, reply.body["metadata"]["id"])
    created = api("POST", "/b", headers={"X-Collection-Id": collection}, body=record)
    assert created.status == (200 if passes else 400)


def test_draft_2020_12_keywords_apply(api: Api) -> None:
    schema = {"$schema": "https://json-schema.org/draft/2020-12/schema", "prefixItems": [{"type": "string"}]}
    collection = _collection(api, _schema_doc(api, schema))
    assert api("POST", "/b", headers={"X-Collection-Id": collection}, body=["a", 1]).status == 200
    assert api("POST", "/b", headers={"X-Collection-Id": collection}, body=[1]).status == 400


@pytest.mark.parametrize(
    ("method", "path", "headers", "body", "status", "message"),
    [
        ("POST", "/s", {}, USER, 400, "You need to pass X-Schema-Doc-Name header to set a name for the Schema Doc"),
        ("POST", "/s", {"X-Schema-Doc-Name": " "}, USER, 400, "X-Schema-Doc-Name cannot be blank"),
        (
            "POST",
            "/s",
            {"X-Schema-Doc-Name": "x" * 33},
            USER,
            400,
            "Name of the Schema Doc cannot be above 32 characters",
        ),
        ("POST", "/s", {"X-Schema-Doc-Name": "a\nb"}, USER, 400, "X-Schema-Doc-Name must be printable characters"),
        ("POST", "/s", {"X-Schema-Doc-Name": "n"}, {}, 400, "Schema Doc cannot be blank"),
        ("POST", "/s", {"X-Schema-Doc-Name": "n"}, "", 400, "Schema Doc cannot be blank"),
        ("POST", "/s", {"X-Schema-Doc-Name": "n"}, "{nope", 400, "Invalid JSON body"),
        (
            "POST",
            "/s",
            {"X-Schema-Doc-Name": "n"},
            [1],
            400,
            "Schema Doc is not a valid JSON Schema: a Schema Doc must be a JSON object",
        ),
        (
            "POST",
            "/s",
            {"X-Schema-Doc-Name": "n"},
            {"type": "foo"},
            400,
            "Schema Doc is not a valid JSON Schema: $.type: 'foo' is not valid under any of the given schemas",
        ),
        (
            "POST",
            "/s",
            {"X-Schema-Doc-Name": "n"},
            {"$schema": "http://example.com/my-draft", "type": "object"},
            400,
            "Schema Doc is not a valid JSON Schema: $schema must name draft 4, 6, 7, 2019-09 or 2020-12 of JSON Schema",
        ),
        (
            "POST",
            "/s",
            {"X-Schema-Doc-Name": "n"},
            {"pattern": "("},
            400,
            "Schema Doc is not a valid JSON Schema: $.pattern: '(' is not a 'regex'",
        ),
        ("GET", "/s/nope", {}, None, 400, "Invalid Schema Id provided"),
        ("GET", f"/s/{OTHER_ID}", {}, None, 404, "Schema Doc not found"),
        ("PUT", f"/s/{OTHER_ID}", {}, USER, 404, "Schema Doc not found"),
        (
            "PUT",
            "/s/{s}",
            {},
            {"type": 1},
            400,
            "Schema Doc is not a valid JSON Schema: $.type: 1 is not valid under any of the given schemas",
        ),
        (
            "PUT",
            "/s/{s}/meta/name",
            {},
            None,
            400,
            "You need to pass X-Schema-Doc-Name header to set a name for the Schema Doc",
        ),
        ("PUT", f"/s/{OTHER_ID}/meta/name", {"X-Schema-Doc-Name": "n"}, None, 404, "Schema Doc not found"),
        ("PUT", "/c/{c}/schemadoc/add", {}, None, 400, "You need to pass X-Schema-Doc-Id in the header"),
        ("PUT", "/c/{c}/schemadoc/add", {"X-Schema-Doc-Id": "nope"}, None, 400, "Invalid Schema Id provided"),
        ("PUT", "/c/{c}/schemadoc/add", {"X-Schema-Doc-Id": OTHER_ID}, None, 400, "Invalid Schema Id provided"),
        ("PUT", "/c/nope/schemadoc/add", {"X-Schema-Doc-Id": OTHER_ID}, None, 400, "Invalid Collection Id provided"),
        ("PUT", f"/c/{OTHER_ID}/schemadoc/add", {"X-Schema-Doc-Id": "{s}"}, None, 404, "Collection not found"),
        ("PUT", "/c/{c}/schemadoc/remove", {"X-Schema-Doc-Id": "nope"}, None, 400, "Invalid Schema Id provided"),
        ("PUT", "/c/{c}/schemadoc/remove", {"X-Schema-Doc-Id": "{s}"}, None, 400, "Invalid Schema Id provided"),
    ],
)
def test_schema_doc_errors(
    api: Api, method: str, path: str, headers: dict[str, str], body: Any, status: int, message: str
) -> None:
    doc, collection = _schema_doc(api), _collection(api)
    fill = {"s": doc, "c": collection}
    headers = {name: value.format(**fill) for name, value in headers.items()}
    raw = body if isinstance(body, str) or body is None else json.dumps(body)
    if raw is not None:
        headers.setdefault("Content-Type", "application/json")
    reply = api(method, path.format(**fill), headers=headers, body=raw)
    assert (reply.status, reply.body) == (status, {"message": message})


def test_a_schema_doc_needs_content_type_and_a_bounded_size(api: Api) -> None:
    plain = api("POST", "/s", headers={"X-Schema-Doc-Name": "n", "Content-Type": "text/plain"}, body=json.dumps(USER))
    assert plain.message == "You need to pass Content-Type set to application/json"
    huge = {"type": "object", "description": "x" * (100 * 1024)}
    reply = api("POST", "/s", headers={"X-Schema-Doc-Name": "n"}, body=huge)
    assert (reply.status, reply.message) == (413, "Schema Doc size exceeds the limit of 102400 bytes")
    deep: dict[str, Any] = {"type": "object"}
    for _ in range(40):
        deep = {"properties": {"a": deep}}
    assert api("POST", "/s", headers={"X-Schema-Doc-Name": "n"}, body=deep).status == 400


def test_hostile_schemas_and_records_answer_400_never_500(api: Api) -> None:
    unresolvable = {"$ref": "http://example.invalid/schema.json"}
    collection = _collection(api, _schema_doc(api, unresolvable))
    reply = api("POST", "/b", headers={"X-Collection-Id": collection}, body={"a": 1})
    assert reply.status == 400 and "cannot be resolved" in reply.message
    recursive = {"type": "array", "items": {"$ref": "#"}}
    collection = _collection(api, _schema_doc(api, recursive))
    deep: Any = []
    for _ in range(500):
        deep = [deep]
    assert api("POST", "/b", headers={"X-Collection-Id": collection}, body=deep).status in (200, 400)
    long_value = {"username": 1, "pad": "y" * 5000}
    collection = _collection(api, _schema_doc(api))
    refused = api("POST", "/b", headers={"X-Collection-Id": collection}, body={"username": ["z" * 5000]})
    assert refused.status == 400 and len(refused.message) <= 400
    assert api("POST", "/b", headers={"X-Collection-Id": collection}, body=long_value).status == 400


def test_another_accounts_schema_doc_answers_like_a_missing_one(api: Api, other_account: Account) -> None:
    theirs = _schema_doc(Api(other_account.key))
    mine = _collection(api)
    for doc in (theirs, OTHER_ID):
        assert api("GET", f"/s/{doc}").body == {"message": "Schema Doc not found"}
        assert api("PUT", f"/s/{doc}", body=USER).body == {"message": "Schema Doc not found"}
        assert api("PUT", f"/s/{doc}/meta/name", headers={"X-Schema-Doc-Name": "n"}).body == {
            "message": "Schema Doc not found"
        }
        attach = api("PUT", f"/c/{mine}/schemadoc/add", headers={"X-Schema-Doc-Id": doc})
        assert attach.body == {"message": "Invalid Schema Id provided"}
    assert Api(other_account.key)("GET", f"/s/{theirs}").body["record"] == USER


def test_validation_adds_reads_only_for_filed_bins(api: Api, dynamodb_calls: CallCounter) -> None:
    collection = _collection(api, _schema_doc(api))
    plain_collection = _collection(api)
    filed = api("POST", "/b", headers={"X-Collection-Id": collection}, body={"username": "a"}).body["metadata"]["id"]
    api("GET", "/c")  # a warm key cache
    cases = [
        ("POST", "/b", {}, {"TransactWriteItems": 2}),
        ("POST", "/b", {"X-Collection-Id": plain_collection}, {"TransactWriteItems": 2, "GetItem": 1}),
        ("POST", "/b", {"X-Collection-Id": collection}, {"TransactWriteItems": 2, "GetItem": 2}),
        ("PUT", f"/b/{filed}", {}, {"TransactWriteItems": 1, "UpdateItem": 1, "GetItem": 3}),
    ]
    for method, path, headers, expected in cases:
        dynamodb_calls.reset()
        assert api(method, path, headers=headers, body={"username": "b"}).status == 200
        assert dynamodb_calls.calls == Counter(expected), (method, path, headers)


def test_compiled_validators_are_cached_per_revision(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    from binvault.logic import schema_docs

    doc = _schema_doc(api)
    collection = _collection(api, doc)
    compiled: list[Any] = []
    original = schema_docs.check
    monkeypatch.setattr(schema_docs, "check", lambda schema: compiled.append(schema) or original(schema))
    for n in range(3):
        api("POST", "/b", headers={"X-Collection-Id": collection}, body={"username": str(n)})
    assert len(compiled) == 1
    api("PUT", f"/s/{doc}", body={"type": "object"})  # checked once as the new body, once when first used
    api("POST", "/b", headers={"X-Collection-Id": collection}, body={"username": "x"})
    api("POST", "/b", headers={"X-Collection-Id": collection}, body={"username": "y"})
    assert len(compiled) == 3


def test_plain_bin_requests_never_import_a_schema_validator() -> None:
    result = in_fresh_process(
        """
        collection = call("POST", "/c", {**key, "X-Collection-Name": "plain"})["record"]
        bin_id = call("POST", "/b", key, '{"a": 1}')["metadata"]["id"]
        filed = call("POST", "/b", {**key, "X-Collection-Id": collection}, '{"a": 1}')["metadata"]["id"]
        call("PUT", f"/b/{filed}", key, '{"a": 2}')
        call("GET", f"/b/{bin_id}", key)
        call("GET", f"/c/{collection}/bins", key)
        report["before"] = sorted(m for m in sys.modules if m.startswith("jsonschema"))
        call("POST", "/s", {**key, "X-Schema-Doc-Name": "s"}, '{"type": "object"}')
        """
    )
    assert result["statuses"] == [200] * 7
    assert result["before"] == [], "a plain bin request imported a schema validator"
    assert "jsonschema_rs" in result["modules"], "a schema doc is checked with jsonschema-rs"
    assert "jsonschema" not in result["modules"], "pure-Python jsonschema is no longer used"
