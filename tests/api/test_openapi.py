"""The OpenAPI document cannot drift from the code, and building it costs the Lambda nothing.

- docs/openapi.json is exactly what ``binvault_docs.openapi`` generates now (`make openapi`);
- the resolver serves exactly the route table's routes, and the document has exactly the
  table's operations (no source is read: both are compared as running objects);
- every route of the contract, every status and every exact error message is documented
  where it applies, and every message an exception class can carry is documented somewhere;
- the request path never imports pydantic nor the documentation tools (they live outside
  the Lambda package).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from binvault import exceptions as errors
from binvault.handlers.routes import ROUTES, SERVED
from tests.support.inproc import in_fresh_process

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "openapi.json"
BIN = "/b/{binId}"

# The contract's routes (CONTRACT.md), as the document spells them.
CONTRACT_ROUTES = {
    ("POST", "/b"),
    ("PUT", BIN),
    ("GET", BIN),
    ("GET", f"{BIN}/latest"),
    ("GET", f"{BIN}/{{version}}"),
    ("GET", f"{BIN}/versions/count"),
    ("GET", f"{BIN}/versions"),  # issue 22: the version list (a binvault extension)
    ("DELETE", BIN),
    ("DELETE", f"{BIN}/versions"),
    # issue 14: JSONBin's meta routes and Access Keys API
    ("PUT", f"{BIN}/meta/name"),
    ("PUT", f"{BIN}/meta/privacy"),
    ("POST", "/a"),
    ("GET", "/a"),
    ("DELETE", "/a/{accessKeyId}"),
    # issue 15: collections, listing bins, schema docs
    ("POST", "/c"),
    ("GET", "/c"),
    ("PUT", "/c/{collectionId}/meta/name"),
    ("PUT", "/c/{collectionId}/schemadoc/add"),
    ("PUT", "/c/{collectionId}/schemadoc/remove"),
    ("GET", "/c/{collectionId}/bins"),
    ("GET", "/c/{collectionId}/bins/{lastBinId}"),
    ("GET", "/c/uncategorized/bins"),
    ("GET", "/c/uncategorized/bins/{lastBinId}"),
    ("POST", "/s"),
    ("GET", "/s/{schemaDocId}"),
    ("PUT", "/s/{schemaDocId}"),
    ("PUT", "/s/{schemaDocId}/meta/name"),
    # issue 24: usage logs
    ("GET", "/l"),
    ("GET", "/l/{date}"),
}

QUOTA = "Requests exhausted. Buy additional requests at https://binvault.example/pricing"
TOO_LARGE = "Bin size exceeds the limit of 102400 bytes"
UNAUTHORIZED = [errors.MissingMasterKey.message, errors.InvalidMasterKey.message]
WITH_ACCESS_KEY = [*UNAUTHORIZED, errors.InvalidAccessKey.message]
RECORD = [
    "You need to pass Content-Type set to application/json",
    "Bin cannot be blank",
    "Invalid JSON body",
    "Bin must be a JSON object or array",
]
NO_BODY = "This route does not take a request body"
IF_MATCH = "If-Match must be an entity tag or *"
BIN_NAME = "X-Bin-Name must be 1 to 128 printable characters"
IDEMPOTENCY_KEY = "Idempotency-Key must be 1 to 255 printable ASCII characters"
READ = [NO_BODY, "X-Bin-Meta must be true or false", "meta must be true or false", errors.InvalidJsonPath.message]
EVERYWHERE = {401: UNAUTHORIZED, 403: [QUOTA], 503: [errors.ServiceUnavailable.message]}
NAMED_BIN = {**EVERYWHERE, 404: [errors.BinNotFound.message]}


def access_key(permission: str) -> dict[int, list[str]]:
    """A bin route that takes an X-Access-Key with ``permission``."""
    return {
        401: WITH_ACCESS_KEY,
        403: [f"X-Access-Key does not have the permission to {permission} bins", QUOTA],
        503: [errors.ServiceUnavailable.message],
    }


def named_bin(permission: str) -> dict[int, list[str]]:
    return {**access_key(permission), 404: [errors.BinNotFound.message]}


def master_only(missing: str) -> dict[int, list[str]]:
    return {401: [missing, errors.InvalidMasterKey.message], 403: [QUOTA], 503: [errors.ServiceUnavailable.message]}


WRITES = {
    409: [errors.IdempotencyInProgress.message],
    413: [TOO_LARGE, errors.ResponseTooLarge.message, "Request body too large"],
    422: [errors.IdempotencyKeyReused.message],
}
STALE = {412: [errors.PreconditionFailed.message]}
MISMATCH = "Schema Doc Validation Mismatch: 'username' is a required property"

# (method, path) -> status -> the exact messages the document must list for it.
EXPECTED: dict[tuple[str, str], dict[int, list[str]]] = {
    ("POST", "/b"): {
        400: [
            *RECORD,
            "X-Bin-Private must be true or false",
            BIN_NAME,
            IDEMPOTENCY_KEY,
            "Invalid Collection Id provided",
            MISMATCH,
        ],
        **access_key("create"),
        **WRITES,
    },
    ("PUT", BIN): {
        400: [
            errors.InvalidBinId.message,
            *RECORD,
            "X-Bin-Versioning must be true or false",
            IDEMPOTENCY_KEY,
            IF_MATCH,
            MISMATCH,
        ],
        **named_bin("update"),
        **WRITES,
        **STALE,
    },
    ("GET", BIN): {400: [errors.InvalidBinId.message, *READ], **named_bin("read")},
    ("GET", f"{BIN}/latest"): {400: [errors.InvalidBinId.message, *READ], **named_bin("read")},
    ("GET", f"{BIN}/{{version}}"): {
        400: [errors.InvalidBinId.message, errors.InvalidVersion.message, *READ],
        **named_bin("read"),
        404: [errors.BinNotFound.message, errors.VersionNotFound.message],
    },
    ("GET", f"{BIN}/versions/count"): {400: [errors.InvalidBinId.message, NO_BODY], **named_bin("read")},
    ("GET", f"{BIN}/versions"): {
        400: [errors.InvalidBinId.message, "before must be a version number of 1 or more", NO_BODY],
        **named_bin("read"),
    },
    ("DELETE", BIN): {400: [errors.InvalidBinId.message, NO_BODY, IF_MATCH], **named_bin("delete"), **STALE},
    ("DELETE", f"{BIN}/versions"): {
        400: [errors.InvalidBinId.message, "X-Preserve-Latest must be true or false", NO_BODY, IF_MATCH],
        **named_bin("delete"),
        **STALE,
    },
    ("PUT", f"{BIN}/meta/name"): {
        400: [
            errors.InvalidBinId.message,
            "You need to pass X-Bin-Name header to Update the Bin Name",
            "X-Bin-Name cannot be blank or over 128 characters",
            IF_MATCH,
        ],
        **NAMED_BIN,
        **STALE,
    },
    ("PUT", f"{BIN}/meta/privacy"): {
        400: [
            errors.InvalidBinId.message,
            "You need to provide X-Bin-Private header to change the Bin privacy",
            "X-Bin-Private must be true or false",
            IF_MATCH,
        ],
        **NAMED_BIN,
        **STALE,
    },
    ("POST", "/a"): {
        400: [
            "You need to pass Content-Type set to application/json",
            "You need to pass X-Key-Name header to set a name for the Access Key",
            "Name of the Access Key cannot be above 32 characters",
            errors.InvalidAccessKeyName.message,
            errors.InvalidAccessKeyPermissions.message,
            "You can create up to 4 Access Keys",
        ],
        **EVERYWHERE,
    },
    ("GET", "/a"): {
        400: [NO_BODY],
        **master_only("You need to pass X-Master-Key in the header to fetch a list of Access Keys."),
    },
    ("DELETE", "/a/{accessKeyId}"): {
        400: ["Invalid Access Key Id provided", NO_BODY],
        **master_only("You need to pass X-Master-Key in the header to delete the access key."),
        404: ["Access Key not found or it doesn't belong to your account"],
    },
    ("GET", "/c/uncategorized/bins"): {400: ["X-Sort-Order must be ascending or descending", NO_BODY], **EVERYWHERE},
    ("GET", "/c/{collectionId}/bins/{lastBinId}"): {
        400: [
            "Invalid Collection Id provided",
            errors.InvalidBinId.message,
            "X-Sort-Order must be ascending or descending",
            NO_BODY,
        ],
        **EVERYWHERE,
        404: ["Collection not found"],
    },
    ("POST", "/s"): {
        400: [
            "You need to pass Content-Type set to application/json",
            "Schema Doc cannot be blank",
            "Invalid JSON body",
            "Schema Doc is not a valid JSON Schema: $.type: 'foo' is not valid under any of the given schemas",
            "You need to pass X-Schema-Doc-Name header to set a name for the Schema Doc",
            "X-Schema-Doc-Name cannot be blank",
            "Name of the Schema Doc cannot be above 32 characters",
            "X-Schema-Doc-Name must be printable characters",
        ],
        **EVERYWHERE,
        403: ["You can create up to 100 Schema Docs", QUOTA],
        413: ["Schema Doc size exceeds the limit of 102400 bytes", "Request body too large"],
    },
    ("PUT", "/c/{collectionId}/schemadoc/add"): {
        400: [
            "Invalid Collection Id provided",
            "You need to pass X-Schema-Doc-Id in the header",
            "Invalid Schema Id provided",
        ],
        **EVERYWHERE,
        404: ["Collection not found"],
    },
    ("GET", "/l"): {400: [NO_BODY], **EVERYWHERE, 404: ["No logs found"]},
    ("GET", "/l/{date}"): {
        400: ["Invalid date: use DD-MM-YYYY, e.g. 31-12-2026", NO_BODY],
        **EVERYWHERE,
        404: ["Backup not found for 01-01-1969"],
    },
}
# Beyond the errors: what every 200 must say.
ETAG_ON_200 = {
    route for route in CONTRACT_ROUTES if route != ("DELETE", BIN) and not route[1].startswith(("/a", "/c", "/s", "/l"))
}


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    from binvault_docs.openapi import build

    return build()


def operations(document: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {
        (method.upper(), path): operation
        for path, item in document["paths"].items()
        for method, operation in item.items()
    }


def messages(response: dict[str, Any]) -> list[str]:
    examples = response["content"]["application/json"]["examples"]
    return [example["value"]["message"] for example in examples.values()]


def test_committed_document_is_what_the_code_generates() -> None:
    from binvault_docs.openapi import render

    assert DOC.read_text() == render(), "docs/openapi.json is stale: run `make openapi` and commit it"


def test_committed_api_md_tables_are_what_the_code_generates() -> None:
    from binvault_docs.contract import API_MD, render

    text = API_MD.read_text()
    assert text == render(text), "docs/api.md's generated tables are stale: run `make openapi` and commit it"
    for route in ROUTES:
        assert f"`{route.operation_id}`" in text


def test_document_is_valid_openapi_31(document: dict[str, Any]) -> None:
    from openapi_spec_validator import validate

    validate(document)
    assert document["openapi"].startswith("3.1")
    assert document["servers"][0]["url"] == "http://127.0.0.1:3000/v3"


def test_schemathesis_loads_every_operation() -> None:
    import schemathesis

    schema = schemathesis.openapi.from_path(DOC)
    loaded = {(op.ok().method.upper(), op.ok().path) for op in schema.get_all_operations()}
    assert loaded == CONTRACT_ROUTES


def _document_path(rule: str) -> str:
    """The route table's rule as the document spells it: /b/<bin_id> -> /b/{binId}."""
    return re.sub(r"<(\w+)>", lambda m: "{" + re.sub(r"_(\w)", lambda c: c[1].upper(), m[1]) + "}", rule)


def test_the_resolver_serves_exactly_the_route_table() -> None:
    """Every served entry is registered once, with its rule and method, and nothing else is."""
    from binvault.handlers.api import app

    registered = sorted((route.method, route.path) for route in app._static_routes + app._dynamic_routes)
    assert registered == sorted((route.method, route.rule) for route in SERVED)
    assert len(app._route_keys) == len(SERVED)


def test_the_document_has_exactly_the_route_tables_operations(document: dict[str, Any]) -> None:
    documented = {
        route: (operation["operationId"], operation["summary"], operation["tags"])
        for route, operation in operations(document).items()
    }
    assert documented == {
        (route.method, _document_path(route.rule)): (route.operation_id, route.summary, [route.tag]) for route in ROUTES
    }
    for route in ROUTES:
        operation = operations(document)[(route.method, _document_path(route.rule))]
        assert route.description in operation.get("description", ""), route.operation_id
        assert operation["responses"]["200"]["description"] == route.answer
        parameters = {(p["in"], p["name"]) for p in operation.get("parameters", [])}
        assert parameters == {
            *(("path", _document_path(f"<{name}>")[1:-1]) for name in route.path_params),
            *(("header", name) for name in route.headers),
            *(("query", name) for name in route.query),
        }
        assert ("requestBody" in operation) is bool(route.body)


def test_the_route_table_names_only_request_headers_the_api_allows() -> None:
    """CORS allows exactly the headers some route reads (plus the key and the body's type)."""
    from binvault.handlers.routes import REQUEST_HEADERS

    read = {name for route in ROUTES for name in route.headers}
    assert set(REQUEST_HEADERS) == {"Content-Type", "X-Master-Key", *read}
    assert len(REQUEST_HEADERS) == len(set(REQUEST_HEADERS))


def test_specialised_routes_are_served_by_the_route_they_name() -> None:
    """GET /b/{binId}/latest has no route of its own: the version route serves it."""
    from binvault.handlers.api import app
    from binvault.handlers.routes import BY_OPERATION

    bin_id = "0123456789abcdef01234567"
    specialised = [route for route in ROUTES if route.served_by is not None]
    assert [route.operation_id for route in specialised] == [
        "readLatest",
        "listUncategorizedBins",
        "listUncategorizedBinsAfter",
    ]
    for route in specialised:
        concrete = route.rule.replace("<bin_id>", bin_id).replace("<last_bin_id>", bin_id)
        serving = [r for r in app._static_routes + app._dynamic_routes if r.rule.fullmatch(concrete)]
        served_by = BY_OPERATION[route.served_by or ""]
        assert [(r.method, r.path) for r in serving if r.method == route.method] == [(served_by.method, served_by.rule)]


def test_every_contract_route_is_documented(document: dict[str, Any]) -> None:
    assert set(operations(document)) == CONTRACT_ROUTES


@pytest.mark.parametrize("route", sorted(EXPECTED), ids=" ".join)
def test_each_route_documents_its_statuses_and_exact_messages(document: dict[str, Any], route: tuple[str, str]) -> None:
    operation = operations(document)[route]
    responses = operation["responses"]
    for status, expected in EXPECTED[route].items():
        assert str(status) in responses, f"{route} does not document {status}"
        assert messages(responses[str(status)]) == expected
        schema = responses[str(status)]["content"]["application/json"]["schema"]
        assert schema == {"$ref": "#/components/schemas/ErrorBody"}
        for message in expected:
            assert f"`{message}`" in responses[str(status)]["description"]
    errors_documented = {int(status) for status in responses if status.startswith(("4", "5"))}
    assert errors_documented - {429} == set(EXPECTED[route]), "an error status is documented but not expected"
    assert "200" in responses
    assert responses["200"]["content"]["application/json"]["schema"]["$ref"].startswith("#/components/schemas/")
    if route in ETAG_ON_200:
        assert responses["200"]["headers"]["ETag"]["required"] is True
    assert "Retry-After" in responses["503"]["headers"]


def test_error_body_is_exactly_one_message(document: dict[str, Any]) -> None:
    mismatch_only = "`Schema Doc Validation Mismatch` only: "
    assert document["components"]["schemas"]["ErrorBody"] == {
        "additionalProperties": False,
        "description": (
            "Every error answer: one human-readable message, never a stack trace (a schema doc\n"
            "mismatch also names the schema doc)."
        ),
        "properties": {
            "message": {"type": "string"},
            "schemaDocId": {"type": "string", "description": mismatch_only + "the schema doc that refused the record."},
            "schemaDocName": {"type": "string", "description": mismatch_only + "that schema doc's name."},
        },
        "required": ["message"],
        "title": "ErrorBody",
        "type": "object",
    }


def test_route_level_answers_are_documented(document: dict[str, Any]) -> None:
    """404 Route not found and 405 Method not allowed belong to no operation: the document
    carries them as reusable responses and in the order-of-checks prose."""
    responses = document["components"]["responses"]
    assert responses["RouteNotFound"]["content"]["application/json"]["example"] == {"message": "Route not found"}
    assert responses["MethodNotAllowed"]["content"]["application/json"]["example"] == {"message": "Method not allowed"}
    description = document["info"]["description"]
    for text in ("404 `Route not found`", "405 `Method not allowed`", "If-Match", "Idempotency-Key", "| `POST /b` |"):
        assert text in description


def test_headers_and_security_are_documented(document: dict[str, Any]) -> None:
    scheme = document["components"]["securitySchemes"]["masterKey"]
    assert (scheme["type"], scheme["in"], scheme["name"]) == ("apiKey", "header", "X-Master-Key")
    scheme = document["components"]["securitySchemes"]["accessKey"]
    assert (scheme["type"], scheme["in"], scheme["name"]) == ("apiKey", "header", "X-Access-Key")
    ops = operations(document)
    for route, operation in ops.items():
        master_only = route[1].startswith(("/a", "/c", "/s", "/l")) or "/meta/" in route[1]
        reads = route[0] == "GET" and not master_only
        expected = [{"masterKey": []}] + ([] if master_only else [{"accessKey": []}]) + ([{}] if reads else [])
        assert operation["security"] == expected, route
    headers = {
        route: {p["name"] for p in operation.get("parameters", []) if p["in"] == "header"}
        for route, operation in ops.items()
    }
    assert headers[("POST", "/b")] == {
        "X-Bin-Private",
        "X-Bin-Name",
        "X-Collection-Id",
        "Idempotency-Key",
        "X-Access-Key",
    }
    assert headers[("PUT", BIN)] == {"X-Bin-Versioning", "If-Match", "Idempotency-Key", "X-Access-Key"}
    assert headers[("DELETE", f"{BIN}/versions")] == {"X-Preserve-Latest", "If-Match", "X-Access-Key"}
    assert headers[("DELETE", BIN)] == {"If-Match", "X-Access-Key"}
    assert headers[("GET", f"{BIN}/versions/count")] == {"X-Access-Key"}
    assert headers[("PUT", f"{BIN}/meta/name")] == {"X-Bin-Name", "If-Match"}
    assert headers[("PUT", f"{BIN}/meta/privacy")] == {"X-Bin-Private", "If-Match"}
    assert headers[("POST", "/a")] == {"X-Key-Name"}
    for path in (BIN, f"{BIN}/latest", f"{BIN}/{{version}}"):
        assert headers[("GET", path)] == {"X-Bin-Meta", "X-JSON-Path", "X-Access-Key"}
        assert {p["name"] for p in ops[("GET", path)]["parameters"] if p["in"] == "query"} == {"meta"}
    for route in (("POST", "/b"), ("PUT", BIN), ("POST", "/a")):
        assert list(ops[route]["requestBody"]["content"]) == ["application/json"]


def test_reads_allow_the_bare_record(document: dict[str, Any]) -> None:
    read_body = document["components"]["schemas"]["ReadBody"]
    assert read_body["anyOf"] == [
        {"$ref": "#/components/schemas/ReadResponse"},
        {"$ref": "#/components/schemas/Record"},
    ]
    assert document["components"]["schemas"]["Record"]["anyOf"] == [{"type": "object"}, {"type": "array"}]


# ---- every message an exception class can carry is documented ----------------------------


def _sent_errors() -> list[type[errors.BinvaultError]]:
    """Every exception class whose message the API can answer (the base classes, public or
    private, have none of their own)."""
    return [
        cls
        for name, cls in vars(errors).items()
        if isinstance(cls, type)
        and issubclass(cls, errors.BinvaultError)
        and cls not in (errors.BinvaultError, errors.BadRequest)
        and not name.startswith("_")
    ]


def _documented_messages(document: dict[str, Any]) -> list[str]:
    found = [
        m
        for operation in operations(document).values()
        for r in operation["responses"].values()
        if "examples" in r.get("content", {}).get("application/json", {})
        for m in messages(r)
    ]
    return found + [
        r["content"]["application/json"]["example"]["message"] for r in document["components"]["responses"].values()
    ]


def test_every_message_an_exception_class_can_carry_is_documented(document: dict[str, Any]) -> None:
    from binvault_docs.openapi import pattern_of

    documented = _documented_messages(document)
    for cls in _sent_errors():
        pattern = pattern_of(cls)
        assert any(re.fullmatch(pattern, message) for message in documented), f"undocumented: {cls.__name__}"


def test_every_documented_message_comes_from_an_exception_class(document: dict[str, Any]) -> None:
    from binvault_docs.openapi import pattern_of

    patterns = [pattern_of(cls) for cls in _sent_errors()]
    for message in _documented_messages(document):
        assert any(re.fullmatch(p, message) for p in patterns), f"{message!r} is in no exception class"


def test_gateway_messages_are_template_yamls() -> None:
    """The two answers API Gateway gives itself (template.yaml's GatewayResponses)."""
    template = (ROOT / "template.yaml").read_text()
    for cls in (errors.GatewayPayloadTooLarge, errors.Throttled):
        assert f'"message": "{cls.message}"' in template


def test_exception_messages_are_only_their_classes() -> None:
    """No free text: a BinvaultError takes no message argument."""
    with pytest.raises(TypeError):
        errors.BadRequest("a new text")  # type: ignore[call-arg]
    assert errors.InvalidFlag("X-Bin-Meta").message == "X-Bin-Meta must be true or false"


FLAGS = {"X-Bin-Private", "X-Bin-Versioning", "X-Bin-Meta", "meta", "X-Preserve-Latest"}
# Valid values of the headers a route requires, so that only the flag under test can fail.
REQUIRED_HEADERS = {
    "renameBin": {"X-Bin-Name": "a name"},
    "setBinPrivacy": {"X-Bin-Private": "true"},
    "createAccessKey": {"X-Key-Name": "a key"},
    "createCollection": {"X-Collection-Name": "a collection"},
    "renameCollection": {"X-Collection-Name": "a collection"},
    "attachSchemaDoc": {"X-Schema-Doc-Id": "0123456789abcdef01234567"},
    "createSchemaDoc": {"X-Schema-Doc-Name": "a schema"},
    "renameSchemaDoc": {"X-Schema-Doc-Name": "a schema"},
}


@pytest.mark.parametrize("route", SERVED, ids=lambda route: route.operation_id)
def test_a_bad_flag_answers_exactly_what_the_table_lists(ddb: Any, route: Any) -> None:
    """Sent to a real route, every true/false header and query parameter is refused with its
    InvalidFlag exactly when the route table lists it for that route."""
    from binvault.handlers.api import lambda_handler
    from binvault.local.events import LocalContext, rest_event

    path = route.rule.replace("<bin_id>", "0123456789abcdef01234567").replace("<version>", "1")
    path = path.replace("<access_key_id>", "0123456789abcdef01234567").replace("<date>", "03-12-2026")
    for name in ("<collection_id>", "<last_bin_id>", "<schema_doc_id>"):
        path = path.replace(name, "0123456789abcdef01234567")
    listed = {e.name for e in route.errors if isinstance(e, errors.InvalidFlag)}
    assert listed <= FLAGS
    for name in sorted(FLAGS):
        # No X-Master-Key and no such bin: a flag the route does not read ends in 401 or 404.
        headers = {"Content-Type": "application/json", **REQUIRED_HEADERS.get(route.operation_id, {})}
        headers |= {} if name == "meta" else {name: "maybe"}
        query = {"meta": "maybe"} if name == "meta" else None
        body = {"record": '{"a": 1}', "permissions": "{}", "schema": '{"type": "object"}', None: None}[route.body]
        reply = lambda_handler(rest_event(route.method, path, headers, body, query), LocalContext())
        answer = (reply["statusCode"], json.loads(reply["body"]))
        if name in listed:
            assert answer == (400, {"message": f"{name} must be true or false"}), (route.operation_id, name)
        else:
            assert answer[0] in (401, 404), (route.operation_id, name, answer)


# ---- the request path stays free of pydantic ---------------------------------------------


def test_request_path_never_imports_pydantic() -> None:
    result = in_fresh_process(
        """
        call("GET", "/b/not-a-bin-id")
        bin_id = call("POST", "/b", key, '{"a": 1}')["metadata"]["id"]
        call("PUT", f"/b/{bin_id}", {**key, "X-Bin-Versioning": "true"}, '{"a": 2}')
        call("PUT", f"/b/{bin_id}", {**key, "Idempotency-Key": "k1"}, '{"a": 3}')
        call("GET", f"/b/{bin_id}/latest", {**key, "X-Bin-Meta": "false"})
        call("GET", f"/b/{bin_id}/1", key)
        call("GET", f"/b/{bin_id}/versions/count", key)
        call("DELETE", f"/b/{bin_id}/versions", {**key, "X-Preserve-Latest": "true"})
        call("DELETE", f"/b/{bin_id}", key)
        """
    )
    assert result["statuses"] == [400, 200, 200, 200, 200, 200, 200, 200, 200]
    loaded = set(result["modules"])
    assert not {m for m in loaded if m.split(".")[0] == "pydantic"}, "the request path imported pydantic"
    assert not {m for m in loaded if m.split(".")[0] == "binvault_docs"}, "the request path imported the docs tools"
    assert not {m for m in loaded if m.split(".")[0] == "jsonpath_ng"}, (
        "a read without X-JSON-Path imported jsonpath_ng"
    )


# ---- the local Swagger UI -----------------------------------------------------------------


def test_swagger_page_assets_and_document_are_served() -> None:
    """serve_swagger answers the page, its bundled assets and the document (loopback only)."""
    import threading
    import urllib.request
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from binvault.local.swagger import serve_swagger

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        do_GET = do_HEAD = do_POST = serve_swagger

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}/v3"
    try:
        with urllib.request.urlopen(f"{base}/swagger") as page:
            html = page.read().decode()
        assert page.headers["Content-Type"].startswith("text/html")
        assert 'url: "/v3/openapi.json"' in html
        for asset, kind in (("js", "javascript"), ("css", "css")):
            assert f"/v3/swagger?asset={asset}" in html
            with urllib.request.urlopen(f"{base}/swagger?asset={asset}") as reply:
                assert kind in reply.headers["Content-Type"] and len(reply.read()) > 10_000
        with urllib.request.urlopen(f"{base}/openapi.json") as reply:
            served = json.loads(reply.read())
        assert served["servers"][0]["url"] == base
        assert served["paths"] == json.loads(DOC.read_text())["paths"]
        request = urllib.request.Request(f"{base}/openapi.json", method="POST", data=b"")
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request)
        assert refused.value.code == 405
        assert json.loads(refused.value.read()) == {"message": "Method not allowed"}
    finally:
        server.shutdown()
        server.server_close()


# ---- `make invoke`: one event through a handler, as `sam local invoke -e` ----------------


@pytest.fixture
def invoke_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """invoke fills in the local stack's settings; undo that after the test."""
    saved = dict(os.environ)
    monkeypatch.delenv("AWS_ENDPOINT_URL_DYNAMODB", raising=False)
    yield
    os.environ.clear()
    os.environ.update(saved)


def _invoke(tmp_path: Path, event: dict[str, Any], *args: str) -> tuple[int, str, str]:
    import contextlib
    import io

    from binvault.local import invoke

    path = tmp_path / "event.json"
    path.write_text(json.dumps(event))
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = invoke.main([*args, str(path)])
    return code, out.getvalue(), err.getvalue()


def test_invoke_runs_an_api_event_against_seeded_in_process_tables(invoke_env: None, tmp_path: Path) -> None:
    from binvault.local.events import rest_event

    bin_id = "6650c0ffee0123456789abcd"
    event = rest_event("DELETE", f"/b/{bin_id}/versions", {"X-Master-Key": "k-123", "X-Preserve-Latest": "true"})
    code, out, err = _invoke(tmp_path, event)
    assert code == 0
    response = json.loads(out)  # stdout is the response alone; logs and notes go to stderr
    assert response["statusCode"] == 200
    assert json.loads(response["body"])["metadata"] == {"id": bin_id, "versionsDeleted": 3}
    assert "in-process moto" in err and f"created bin {bin_id} with 3 versions" in err


def test_invoke_without_seed_starts_from_empty_tables(invoke_env: None, tmp_path: Path) -> None:
    from binvault.local.events import rest_event

    event = rest_event("POST", "/b", {"X-Master-Key": "k-123", "Content-Type": "application/json"}, '{"a": 1}')
    code, out, _ = _invoke(tmp_path, event, "--no-seed")
    assert code == 0
    assert json.loads(json.loads(out)["body"]) == {"message": errors.InvalidMasterKey.message}


def test_invoke_sends_stream_records_to_the_purge_function(invoke_env: None, tmp_path: Path) -> None:
    keys = {"pk": {"S": "BIN#6650c0ffee0123456789abcd"}, "sk": {"S": "BIN"}}
    record = {
        "eventID": "1",
        "eventName": "MODIFY",
        "eventSource": "aws:dynamodb",
        "eventSourceARN": "arn:aws:dynamodb:us-east-1:123456789012:table/t/stream/2026-01-01T00:00:00.000",
        "dynamodb": {"Keys": keys, "NewImage": {**keys, "purgeBelow": {"N": "1"}}, "SequenceNumber": "1"},
    }
    code, out, _ = _invoke(tmp_path, {"Records": [record]})
    assert (code, json.loads(out)) == (0, {"batchItemFailures": []})


def test_invoke_reports_an_unhandled_error_as_lambda_does(invoke_env: None, tmp_path: Path) -> None:
    code, out, _ = _invoke(tmp_path, {"Records": []})  # Lambda never sends an empty batch
    assert code == 1
    assert json.loads(out)["errorType"] == "UnexpectedBatchTypeError"


def test_invoke_refuses_a_file_that_is_not_an_event(invoke_env: None, tmp_path: Path) -> None:
    from binvault.local import invoke

    (tmp_path / "list.json").write_text("[]")
    for name in ("list.json", "missing.json"):
        with pytest.raises(SystemExit) as refused:
            invoke.main([str(tmp_path / name)])
        assert refused.value.code == 2
