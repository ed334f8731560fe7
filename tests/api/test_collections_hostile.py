"""Hostile and malformed requests on the collection, listing and schema doc routes (the
pattern of test_hostile_input.py): each gets its 4xx ``{"message"}``, never a 5xx, and
leaves every stored item as it was; only a request refused after the key check is charged,
exactly one request."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests.conftest import TABLE, Account, Api, make_account, module_moto_world, table_items
from tests.support.quota import apart_from_quota

COLL = "{coll}"  # the stored collection's id
DOC = "{doc}"  # the stored schema doc's id
BIN = "{bin}"  # a stored bin filed in the collection
JSON = [("Content-Type", "application/json")]
BAD_COLLECTION = "Invalid Collection Id provided"
BAD_DOC = "Invalid Schema Id provided"
BAD_BIN = "Invalid Bin Id provided"
NO_BODY = "This route does not take a request body"
BAD_NAME = "X-Collection-Name must be printable characters"
BAD_DOC_NAME = "X-Schema-Doc-Name must be printable characters"
BAD_SORT = "X-Sort-Order must be ascending or descending"
BAD_JSON = "Invalid JSON body"
SCHEMA = "Schema Doc is not a valid JSON Schema: "
OTHER = "0123456789abcdef01234567"


@dataclass(frozen=True)
class Case:
    name: str
    method: str
    path: str
    status: int
    message: str
    headers: tuple[tuple[str, str], ...] = ()
    body: str | None = None
    charged: bool = False
    prefix: bool = False  # the message is a prefix (it quotes jsonschema's reason)


def _cases() -> list[Case]:
    cases: list[Case] = []
    bad_ids = ["..", "%2e%2e%2f", "\x00", "0123456789abcdef0123456", "0123456789abcdeF01234567", "\U0001f600" * 24]
    for index, bad in enumerate(bad_ids):
        cases += [
            Case(f"collection-id-{index}-rename", "PUT", f"/c/{bad}/meta/name", 400, BAD_COLLECTION),
            Case(f"collection-id-{index}-add", "PUT", f"/c/{bad}/schemadoc/add", 400, BAD_COLLECTION),
            Case(f"collection-id-{index}-remove", "PUT", f"/c/{bad}/schemadoc/remove", 400, BAD_COLLECTION),
            Case(f"collection-id-{index}-bins", "GET", f"/c/{bad}/bins", 400, BAD_COLLECTION),
            Case(f"cursor-{index}", "GET", f"/c/{COLL}/bins/{bad}", 400, BAD_BIN),
            Case(f"uncategorized-cursor-{index}", "GET", f"/c/uncategorized/bins/{bad}", 400, BAD_BIN),
            Case(f"schema-doc-id-{index}-read", "GET", f"/s/{bad}", 400, BAD_DOC),
            Case(f"schema-doc-id-{index}-rename", "PUT", f"/s/{bad}/meta/name", 400, BAD_DOC),
        ]
    cases += [
        # header smuggling and conflicting duplicates
        Case("name-crlf", "POST", "/c", 400, BAD_NAME, (("X-Collection-Name", "a\r\nX-Evil: 1"),)),
        Case("name-twice", "POST", "/c", 400, BAD_NAME, (("X-Collection-Name", "a"), ("X-Collection-Name", "b"))),
        Case(
            "doc-name-nul",
            "POST",
            "/s",
            400,
            BAD_DOC_NAME,
            (*JSON, ("X-Schema-Doc-Name", "a\x00")),
            '{"type": "object"}',
        ),
        Case(
            "sort-twice",
            "GET",
            "/c/uncategorized/bins",
            400,
            BAD_SORT,
            (("X-Sort-Order", "ascending"), ("X-Sort-Order", "descending")),
        ),
        Case("sort-sql", "GET", f"/c/{COLL}/bins", 400, BAD_SORT, (("X-Sort-Order", "asc; DROP TABLE"),)),
        Case(
            "filed-twice",
            "POST",
            "/b",
            400,
            BAD_COLLECTION,
            (*JSON, ("X-Collection-Id", COLL), ("X-Collection-Id", OTHER)),
            '{"a": 1}',
        ),
        Case("filed-traversal", "POST", "/b", 400, BAD_COLLECTION, (*JSON, ("X-Collection-Id", "../x")), '{"a": 1}'),
        Case(
            "attach-id-twice",
            "PUT",
            f"/c/{COLL}/schemadoc/add",
            400,
            BAD_DOC,
            (("X-Schema-Doc-Id", DOC), ("X-Schema-Doc-Id", OTHER)),
        ),
        # bodies where none is taken
        Case("listing-body", "GET", f"/c/{COLL}/bins", 400, NO_BODY, body='{"a": 1}'),
        Case("list-collections-body", "GET", "/c", 400, NO_BODY, body="x"),
        Case("read-doc-body", "GET", f"/s/{DOC}", 400, NO_BODY, body="{}"),
        # schema bodies that are not JSON Schemas, or not JSON
        Case("schema-nan", "POST", "/s", 400, BAD_JSON, (*JSON, ("X-Schema-Doc-Name", "n")), '{"minimum": NaN}'),
        Case(
            "schema-surrogate", "POST", "/s", 400, BAD_JSON, (*JSON, ("X-Schema-Doc-Name", "n")), '{"title": "\\ud800"}'
        ),
        Case("schema-deep", "POST", "/s", 400, BAD_JSON, (*JSON, ("X-Schema-Doc-Name", "n")), "[" * 5000 + "]" * 5000),
        Case(
            "schema-deep-object",
            "POST",
            "/s",
            400,
            SCHEMA,
            (*JSON, ("X-Schema-Doc-Name", "n")),
            '{"a":' * 40 + "{}" + "}" * 40,
            prefix=True,
        ),
        Case("schema-string", "POST", "/s", 400, SCHEMA, (*JSON, ("X-Schema-Doc-Name", "n")), '"object"', prefix=True),
        Case("schema-true", "POST", "/s", 400, SCHEMA, (*JSON, ("X-Schema-Doc-Name", "n")), "true", prefix=True),
        Case("schema-bad-type", "PUT", f"/s/{DOC}", 400, SCHEMA, tuple(JSON), '{"type": ["string", 3]}', prefix=True),
        Case("schema-bad-schema-uri", "PUT", f"/s/{DOC}", 400, SCHEMA, tuple(JSON), '{"$schema": 7}', prefix=True),
        Case(
            "schema-too-large",
            "POST",
            "/s",
            413,
            "Schema Doc size exceeds the limit of 102400 bytes",
            (*JSON, ("X-Schema-Doc-Name", "n")),
            json.dumps({"title": "x" * 102_400}),
        ),
        # refused after the key check: charged, nothing changed
        Case("unknown-collection", "GET", f"/c/{OTHER}/bins", 404, "Collection not found", charged=True),
        Case(
            "unknown-doc",
            "PUT",
            f"/s/{OTHER}",
            404,
            "Schema Doc not found",
            tuple(JSON),
            '{"type": "object"}',
            charged=True,
        ),
        Case("foreign-cursor", "GET", f"/c/uncategorized/bins/{BIN}", 400, BAD_BIN, charged=True),
        Case(
            "mismatch",
            "POST",
            "/b",
            400,
            "Schema Doc Validation Mismatch: ",
            (*JSON, ("X-Collection-Id", COLL)),
            '{"a": "text"}',
            charged=True,
            prefix=True,
        ),
        Case(
            "mismatch-update",
            "PUT",
            f"/b/{BIN}",
            400,
            "Schema Doc Validation Mismatch: ",
            tuple(JSON),
            '{"a": "text"}',
            charged=True,
            prefix=True,
        ),
        # methods and paths no route serves
        Case("delete-collection", "DELETE", f"/c/{COLL}", 404, "Route not found"),
        Case("patch-schema-doc", "PATCH", f"/s/{DOC}", 405, "Method not allowed"),
        Case("post-listing", "POST", f"/c/{COLL}/bins", 405, "Method not allowed"),
        Case("traversal", "GET", "/c/uncategorized/bins/../../s", 404, "Route not found"),
    ]
    return cases


CASES = _cases()


@dataclass
class World:
    client: Any
    api: Api
    account: Account
    ids: dict[str, str]


@pytest.fixture(scope="module")
def shared() -> Iterator[World]:
    with module_moto_world() as client:
        account = make_account(10_000)
        api = Api(account.key)
        doc = api("POST", "/s", headers={"X-Schema-Doc-Name": "n"}, body={"properties": {"a": {"type": "number"}}})
        coll = api("POST", "/c", headers={"X-Collection-Name": "c"}).body["record"]
        api("PUT", f"/c/{coll}/schemadoc/add", headers={"X-Schema-Doc-Id": doc.body["metadata"]["id"]})
        filed = api("POST", "/b", headers={"X-Collection-Id": coll}, body={"a": 1}).body["metadata"]["id"]
        yield World(client, api, account, {"coll": coll, "doc": doc.body["metadata"]["id"], "bin": filed})


def _snapshot(client: Any) -> list[dict[str, Any]]:
    return table_items(client, TABLE)


def _remaining(items: list[dict[str, Any]], account: Account) -> int:
    # the sum of the account's quota shards
    shards = [i for i in items if i["pk"]["S"] == f"ACCOUNT#{account.id}" and i["sk"]["S"].startswith("QUOTA#")]
    return sum(int(i["requestsRemaining"]["N"]) for i in shards)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_hostile_request_gets_its_4xx_and_changes_nothing(case: Case, shared: World) -> None:
    before = _snapshot(shared.client)
    headers = [(name, value.format(**shared.ids)) for name, value in case.headers]
    reply = shared.api(case.method, case.path.format(**shared.ids), headers=headers, body=case.body)
    assert reply.status == case.status, reply.raw[:300]
    if case.prefix:
        assert reply.message is not None and reply.message.startswith(case.message), reply.raw[:300]
    else:
        assert reply.body == {"message": case.message}, reply.raw[:300]
    after = _snapshot(shared.client)
    charged = _remaining(before, shared.account) - _remaining(after, shared.account)
    assert charged == (1 if case.charged else 0)
    assert apart_from_quota(after) == apart_from_quota(before)


def test_a_base64_body_that_is_not_base64_is_invalid_json(shared: World) -> None:
    from binvault.handlers.api import lambda_handler
    from binvault.local.events import LocalContext, rest_event

    headers = [*JSON, ("X-Master-Key", shared.account.key), ("X-Schema-Doc-Name", "n")]
    event = rest_event("POST", "/s", headers, "%%% not base64")
    event["isBase64Encoded"] = True
    reply = lambda_handler(event, LocalContext())
    assert (reply["statusCode"], json.loads(reply["body"])) == (400, {"message": BAD_JSON})
    good = rest_event("POST", "/s", headers, base64.b64encode(b'{"type": "object"}').decode())
    good["isBase64Encoded"] = True
    assert lambda_handler(good, LocalContext())["statusCode"] == 200
