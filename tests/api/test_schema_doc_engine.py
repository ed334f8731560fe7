"""Schema validation on jsonschema-rs (docs/schema-validation.md): a hostile pattern cannot
burn an account's time, a remote ``$ref`` is never fetched, and an account holds at most
MAX_SCHEMA_DOCS schema docs (exact under concurrent creates)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from tests.conftest import Account, Api, table_items
from tests.support.inproc import in_fresh_process
from tests.support.quota import apart_from_quota

NESTED_QUANTIFIERS = "^(a+)+$"  # exponential on a backtracking engine (Python's re) for "aaa...!"


def _schema_doc(api: Api, schema: Any, name: str = "s") -> Any:
    return api("POST", "/s", headers={"X-Schema-Doc-Name": name}, body=schema)


def _filed_collection(api: Api, schema: Any) -> str:
    doc = _schema_doc(api, schema).body["metadata"]["id"]
    collection = str(api("POST", "/c", headers={"X-Collection-Name": "c"}).body["record"])
    assert api("PUT", f"/c/{collection}/schemadoc/add", headers={"X-Schema-Doc-Id": doc}).status == 200
    return collection


def test_a_catastrophic_backtracking_pattern_is_answered() -> None:
    # Given a schema doc whose pattern nests quantifiers, and 200 strings that almost match it:
    # Python's re needs about 2**n steps for each of them (n = 2000), a linear engine 2000.
    # A bounded subprocess: were the engine backtracking, it would not return (and time out).
    result = in_fresh_process(
        f"""
        schema = {{"type": "array", "items": {{"type": "string", "pattern": "{NESTED_QUANTIFIERS}"}}}}
        doc = call("POST", "/s", {{**key, "X-Schema-Doc-Name": "hostile"}}, json.dumps(schema))["metadata"]["id"]
        collection = call("POST", "/c", {{**key, "X-Collection-Name": "c"}})["record"]
        call("PUT", f"/c/{{collection}}/schemadoc/add", {{**key, "X-Schema-Doc-Id": doc}})
        report["refused"] = call("POST", "/b", {{**key, "X-Collection-Id": collection}},
                                 json.dumps(["a" * 2000 + "!"] * 200))
        report["accepted"] = call("POST", "/b", {{**key, "X-Collection-Id": collection}},
                                  json.dumps(["a" * 2000] * 200))
        """
    )
    assert result["statuses"] == [200, 200, 200, 400, 200]
    message = result["refused"]["message"]
    # (the most relevant of the first MAX_ERRORS_RANKED errors: the last sibling among them)
    assert message.startswith("Schema Doc Validation Mismatch: $[99]: 'aaaa") and message.endswith("...")
    assert result["accepted"]["metadata"]["id"]


@pytest.mark.parametrize("pattern", ["(?=a)b", "(a)\\1", "(?<!a)b"])
def test_a_pattern_the_linear_engine_cannot_run_is_refused_when_the_schema_doc_is_made(api: Api, pattern: str) -> None:
    reply = _schema_doc(api, {"type": "string", "pattern": pattern})
    assert (reply.status, reply.message) == (
        400,
        f"Schema Doc is not a valid JSON Schema: $.pattern: {pattern!r} is not a 'regex'",
    )


@pytest.fixture
def schema_host() -> Iterator[tuple[str, list[str]]]:
    """A loopback HTTP server that would serve any schema; yields its URL and the paths asked."""
    asked: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            asked.append(self.path)
            body = b'{"type": "string"}'
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", asked
    finally:
        server.shutdown()
        server.server_close()


def test_a_remote_ref_is_never_fetched(api: Api, schema_host: tuple[str, list[str]]) -> None:
    url, asked = schema_host
    collection = _filed_collection(api, {"$ref": f"{url}/string.json"})
    refused = api("POST", "/b", headers={"X-Collection-Id": collection}, body={"a": 1})
    assert refused.status == 400 and "cannot be resolved" in refused.message
    assert asked == []


def test_the_schema_doc_limit(api: Api, ddb: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from binvault.models.settings import get_settings

    monkeypatch.setenv("MAX_SCHEMA_DOCS", "2")
    get_settings.cache_clear()
    made = [_schema_doc(api, {"type": "object"}, name=f"s{n}").body["metadata"]["id"] for n in range(2)]
    before = table_items(ddb)
    refused = _schema_doc(api, {"type": "object"}, name="third")
    assert (refused.status, refused.body) == (403, {"message": "You can create up to 2 Schema Docs"})
    after = table_items(ddb)
    # nothing stored but the request's charge (a quota shard's counter moved)
    assert apart_from_quota(after) == apart_from_quota(before)
    # the two made are still usable, and updating one is not creating one
    assert api("PUT", f"/s/{made[0]}", body={"type": "array"}).status == 200
    counter = [i for i in after if i["sk"]["S"] == "SCHEMADOCS"]
    assert [c["count"]["N"] for c in counter] == ["2"]


def test_the_schema_doc_limit_holds_under_concurrent_creates(
    account: Account, api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    from binvault.exceptions import TooManySchemaDocs
    from binvault.logic import schema_docs
    from binvault.models.bins import Credentials
    from binvault.models.settings import get_settings

    monkeypatch.setenv("MAX_SCHEMA_DOCS", "5")
    get_settings.cache_clear()

    def create(n: int) -> str:
        try:
            schema_docs.create(Credentials(master_key=account.key), f"s{n}", {"type": "object"})
        except TooManySchemaDocs:
            return "refused"
        return "created"

    with ThreadPoolExecutor(max_workers=12) as pool:
        outcomes = list(pool.map(create, range(12)))
    assert outcomes.count("created") == 5 and outcomes.count("refused") == 7


def test_another_accounts_schema_docs_do_not_count(api: Api, other_account: Account, monkeypatch: Any) -> None:
    from binvault.models.settings import get_settings

    monkeypatch.setenv("MAX_SCHEMA_DOCS", "1")
    get_settings.cache_clear()
    assert _schema_doc(Api(other_account.key), {"type": "object"}).status == 200
    assert _schema_doc(api, {"type": "object"}).status == 200
    assert _schema_doc(api, {"type": "object"}).status == 403
