"""Validation moved from pure-Python jsonschema to jsonschema-rs (logic/schema_docs.py): the
message a refused record gets stays jsonschema's (its ``best_match``, after its
``json_path``) for the keywords clients meet, which this compares case by case with
jsonschema itself (a dev dependency now, the bench's baseline)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from binvault.exceptions import SchemaDocValidationMismatch
from binvault.logic import schema_docs
from binvault.models.bins import SchemaDoc
from binvault.models.ids import new_id

DRAFT_7 = "http://json-schema.org/draft-07/schema#"
USERS = {
    "type": "object",
    "required": ["users"],
    "properties": {
        "users": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["id", "name"],
                "additionalProperties": False,
                "properties": {
                    "id": {"type": "integer", "minimum": 1},
                    "name": {"type": "string", "minLength": 1, "maxLength": 8},
                    "role": {"enum": ["admin", "user"]},
                    "tags": {"type": "array", "uniqueItems": True, "maxItems": 2},
                    "score": {"type": ["number", "null"], "multipleOf": 0.5, "exclusiveMaximum": 10},
                    "my key": {"const": 1},
                    "code": {"type": "string", "pattern": "^[A-Z]{3}$"},
                },
            },
        }
    },
}
CASES: list[tuple[dict[str, Any], Any]] = [
    (USERS, {}),
    (USERS, {"users": "x"}),
    (USERS, {"users": [{"id": 0, "name": "ann"}]}),
    (USERS, {"users": [{"id": 1}]}),
    (USERS, {"users": [{"id": 1, "name": ""}]}),
    (USERS, {"users": [{"id": 1, "name": "a" * 9}]}),
    (USERS, {"users": [{"id": 1, "name": "a", "role": "root"}]}),
    (USERS, {"users": [{"id": 1, "name": "a", "tags": [1, 1]}]}),
    (USERS, {"users": [{"id": 1, "name": "a", "tags": [1, 2, 3]}]}),
    (USERS, {"users": [{"id": 1, "name": "a", "score": 0.3}]}),
    (USERS, {"users": [{"id": 1, "name": "a", "score": 10}]}),
    (USERS, {"users": [{"id": 1, "name": "a", "score": "x"}]}),
    (USERS, {"users": [{"id": 1, "name": "a", "my key": 2}]}),
    (USERS, {"users": [{"id": 1, "name": "a", "code": "abc"}]}),
    (USERS, {"users": [{"id": 1, "name": "a", "extra": 1}]}),
    (USERS, {"users": [{"id": 1, "name": "a", "x": 1, "y": 2}]}),
    (USERS, {"users": [{"id": "1", "name": 2}]}),
    ({"type": "object", "minProperties": 1}, {}),
    ({"type": "object", "maxProperties": 1}, {"a": 1, "b": 2}),
    ({"type": "array", "minItems": 2}, [1]),
    ({"maximum": 3, "minimum": 1}, 4),
    ({"exclusiveMinimum": 3}, 3),
    ({"anyOf": [{"type": "string"}, {"type": "integer"}]}, 1.5),
    ({"oneOf": [{"type": "string"}, {"type": "integer"}]}, 1.5),
    ({"not": {"type": "string"}}, "x"),
    ({"type": "string"}, {"long": "z" * 500}),
    ({"$schema": "https://json-schema.org/draft/2020-12/schema", "prefixItems": [{"type": "string"}]}, [1]),
]


def _jsonschema_says(schema: dict[str, Any], record: Any) -> str:
    from jsonschema import exceptions, validators

    cls = validators.validator_for(schema, default=validators.Draft6Validator)
    error = exceptions.best_match(cls(schema).iter_errors(record))
    assert error is not None
    where = "" if error.json_path == "$" else f"{error.json_path}: "
    return schema_docs._short(where + error.message)


def _binvault_says(schema: dict[str, Any], record: Any) -> str:
    doc = SchemaDoc(new_id(), "account", "doc", "2026-01-01T00:00:00.000Z", json.dumps(schema), 1)
    with pytest.raises(SchemaDocValidationMismatch) as refused:
        schema_docs.validate(doc, record)
    return str(refused.value.message).removeprefix("Schema Doc Validation Mismatch: ")


@pytest.mark.parametrize(("schema", "record"), CASES, ids=[json.dumps(r)[:40] for _, r in CASES])
def test_a_refused_record_gets_jsonschemas_message(schema: dict[str, Any], record: Any) -> None:
    assert _binvault_says(schema, record) == _jsonschema_says(schema, record)


@pytest.mark.parametrize(
    ("schema", "reason"),
    [
        ({"type": "foo"}, "$.type: 'foo' is not valid under any of the given schemas"),
        ({"pattern": "("}, "$.pattern: '(' is not a 'regex'"),
        ({"minLength": -1}, "$.minLength: -1 is less than the minimum of 0"),
        ({"required": "a"}, "$.required: 'a' is not of type 'array'"),
    ],
)
def test_an_invalid_schema_gets_jsonschemas_reason(schema: dict[str, Any], reason: str) -> None:
    from jsonschema import exceptions, validators

    with pytest.raises(exceptions.SchemaError) as theirs:
        validators.Draft6Validator.check_schema(schema)
    where = "" if theirs.value.json_path == "$" else f"{theirs.value.json_path}: "
    assert where + theirs.value.message == reason
    with pytest.raises(schema_docs.InvalidSchemaDoc) as ours:
        schema_docs.check(schema)
    assert ours.value.reason == reason


def test_a_false_subschema_names_where_unlike_jsonschema() -> None:
    # jsonschema leaves the path out of a false subschema's error; it is kept here (docs/schema-validation.md)
    assert _jsonschema_says({"properties": {"a": False}}, {"a": 1}) == "False schema does not allow 1"
    assert _binvault_says({"properties": {"a": False}}, {"a": 1}) == "$.a: False schema does not allow 1"


def test_a_long_instance_is_quoted_only_as_far_as_the_message_goes() -> None:
    record = {"users": [{"id": n, "name": "n" * 50} for n in range(20_000)]}
    message = _binvault_says({"type": "string"}, record)
    assert len(message) == schema_docs.MAX_ERROR_CHARS
    assert message[:-3] == repr(record)[: schema_docs.MAX_ERROR_CHARS - 3]
