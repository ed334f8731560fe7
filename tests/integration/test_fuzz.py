"""Contract fuzzing: schemathesis drives the committed docs/openapi.json against the real
local HTTP server (`python -m binvault.local.stack` in a subprocess, so the unit tests'
per-test environment cannot redirect its handler, and its logging stays its own).

Every generated request is sent three times: with an unknown key, with no key and with the
demo account's key (valid last, as it is the one that may change data); on the routes that
take an X-Access-Key, also with a read-only access key of the demo account (before the
master key), so the 403 of a permission it lacks is checked against the document too. The run
fails on any 5xx, any answer the document does not describe (status, body schema,
content type, required headers), an error message not listed for that operation and
status, a read with metadata that is not `{record, metadata}`, and any change to the
stored bins caused by a request that was refused (4xx).

Valid bin ids are steered to real bins with versions (ours, public, another account's), and
valid access key ids to the demo account's access key (recreated when a request deleted it;
keys a request created are deleted again),
so the fuzzer reaches existing data instead of answering 404 every time; bins a fuzzed
request deleted are replaced, bins it created are deleted again. Deterministic
(derandomize, no learning from responses) and bounded: 326 generated requests, each sent
with the three keys, in about 1 to 1.5 minutes on 2 cores.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from binvault import exceptions as errors
from binvault.dal import keys
from binvault_docs.models import ReadResponse
from binvault_docs.openapi import MESSAGE_PATTERNS
from tests.support.stack import Stack as LocalStack
from tests.support.stack import child_env, local_stack

# One worker runs the whole module under pytest-xdist (make test: --dist loadgroup): its
# module-scoped local stack is started once, not once a worker.
pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("fuzz")]

DOC = Path(__file__).resolve().parents[2] / "docs" / "openapi.json"
TABLE = "binvault-fuzz"
MAX_EXAMPLES = 12
UNKNOWN_KEY = "unknown-key-0123456789abcdefghijklmnopqrstuvwxyz"
BIN_ID = re.compile(r"[0-9a-f]{24}")
VERSION = re.compile(r"[0-9]{1,12}")
# Few items keep the per-request table scan cheap (moto scans cost ~2 ms per item).
VERSIONS_PER_BIN = 2
MAX_VERSIONS_KEPT = 4
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]

schema = schemathesis.openapi.from_path(
    DOC,
    config=schemathesis.Config.from_dict(
        {
            "generation": {
                "mode": "all",
                "deterministic": True,
                # X-Master-Key is set by the test: valid, unknown, absent.
                "with-security-parameters": False,
                "max-examples": MAX_EXAMPLES,
            },
            # No learning from responses: bin ids are random per run, and the run must not
            # depend on them.
            "phases": {
                "stateful": {"enabled": False},
                "examples": {"extra-data-sources": {"responses": False}},
                "coverage": {
                    "extra-data-sources": {"responses": False},
                    # TRACE, QUERY and OPTIONS are left out: see check_undeclared_method.
                    "unexpected-methods": ["GET", "PUT", "POST", "DELETE", "PATCH"],
                },
                "fuzzing": {"extra-data-sources": {"responses": False}, "error-feedback": {"enabled": False}},
            },
        }
    ),
)
DOCUMENT = json.loads(DOC.read_text())


# ---- the local stack in a subprocess (tests/support/stack.py) ---------------------------


@dataclass
class Bin:
    id: str
    key: str  # the owner's key
    private: bool


@dataclass
class Stack:
    api_url: str
    key: str
    other_key: str
    session: requests.Session
    table: Any  # a DynamoDB client of the stack's embedded endpoint
    pool: list[Bin] = field(default_factory=list)
    access_key: str = ""  # the demo account's read-only access key
    access_key_id: str = ""
    # The stored bins as of the last request (see bins()).
    snapshot: dict[tuple[str, str], Any] = field(default_factory=dict)
    stats: Counter[str] = field(default_factory=Counter)

    def new_bin(self, key: str, private: bool) -> Bin:
        headers = {"X-Master-Key": key, "X-Bin-Private": str(private).lower()}
        reply = self.session.post(f"{self.api_url}/b", json={"v": 0}, headers=headers)
        assert reply.status_code == 200, reply.text
        made = Bin(reply.json()["metadata"]["id"], key, private)
        self.add_versions(made)
        return made

    def new_access_key(self) -> None:
        headers = {"X-Master-Key": self.key, "X-Key-Name": "fuzz reader"}
        reply = self.session.post(f"{self.api_url}/a", json={"bins": {"read": True}}, headers=headers)
        assert reply.status_code == 200, reply.text
        self.access_key, self.access_key_id = reply.json()["accessKey"], reply.json()["accessKeyId"]

    def add_versions(self, target: Bin) -> None:
        for n in range(1, VERSIONS_PER_BIN + 1):
            headers = {"X-Master-Key": target.key, "X-Bin-Versioning": "true"}
            reply = self.session.put(f"{self.api_url}/b/{target.id}", json={"v": n}, headers=headers)
            assert reply.status_code == 200, reply.text

    def bins(self) -> dict[tuple[str, str], Any]:
        """Every bin item a client can reach: base items and their current generation's
        versions (the purge worker removes older generations' items at its own pace)."""
        items: list[dict[str, Any]] = []
        # only the bins' partitions come back (not the accounts' quota shards, collections,
        # schema docs, listing and key items): 4x faster, most of this module's time
        kwargs: dict[str, Any] = {
            "TableName": TABLE,
            "ConsistentRead": True,
            "FilterExpression": "begins_with(pk, :bins)",
            "ExpressionAttributeValues": {":bins": {"S": keys.BIN_PREFIX}},
        }
        while True:
            page = self.table.scan(**kwargs)
            items.extend(page["Items"])
            if "LastEvaluatedKey" not in page:
                break
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        bases = {
            item["pk"]["S"]: item
            for item in items
            if item["pk"]["S"].startswith(keys.BIN_PREFIX) and item["sk"]["S"] == keys.BIN_SK
        }
        visible = {}
        for item in items:
            pk, sk = item["pk"]["S"], item["sk"]["S"]
            base = bases.get(pk)
            if base is None:
                continue
            if sk != keys.BIN_SK and item["generation"] != base["generation"]:
                continue
            visible[(pk, sk)] = item
        return visible


def _create_account(stack: LocalStack) -> str:
    admin = [sys.executable, "-m", "binvault.admin", "--table", TABLE, "--endpoint-url", stack.dynamodb_url]
    done = subprocess.run(
        [*admin, "create-account", "--requests", "1000000"],
        env=child_env(AWS_ENDPOINT_URL_DYNAMODB=stack.dynamodb_url),
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return str(json.loads(done.stdout)["masterKey"])


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    with local_stack(table=TABLE) as running:
        started = Stack(
            api_url=running.api_url,
            key=running.key,
            other_key=_create_account(running),
            session=requests.Session(),
            table=running.dynamodb(),
        )
        started.pool = [
            started.new_bin(running.key, private=True),
            started.new_bin(running.key, private=False),
            started.new_bin(started.other_key, private=True),
            started.new_bin(started.other_key, private=False),
        ]
        started.new_access_key()
        started.snapshot = started.bins()
        began = time.monotonic()
        yield started
        elapsed = time.monotonic() - began
        statuses = " ".join(f"{name}={count}" for name, count in sorted(started.stats.items()))
        sys.stderr.write(f"\nfuzz: {started.stats['requests']} requests in {elapsed:.1f}s; {statuses}\n")
        logs = running.text()
        assert "Traceback" not in logs and '"level":"ERROR"' not in logs, logs


# ---- steering generated values to real data --------------------------------------------


def steer(case: schemathesis.Case, stack: Stack) -> Bin | None:
    """Point a well-formed bin id at a pool bin (most of the time) and a well-formed
    version number at 0..VERSIONS_PER_BIN+1 (some exist, some do not)."""
    params = case.path_parameters or {}
    chosen = None
    raw = params.get("binId")
    if isinstance(raw, str) and BIN_ID.fullmatch(raw):
        slot = int(raw, 16) % (len(stack.pool) + 1)
        if slot < len(stack.pool):  # the remaining slot keeps a random (unknown) id
            chosen = stack.pool[slot]
            params["binId"] = chosen.id
    key_id = params.get("accessKeyId")
    if isinstance(key_id, str) and BIN_ID.fullmatch(key_id) and int(key_id, 16) % 2:
        params["accessKeyId"] = stack.access_key_id
    version = params.get("version")
    if isinstance(version, str) and VERSION.fullmatch(version):
        params["version"] = str(int(version) % (VERSIONS_PER_BIN + 2))
    return chosen


def tidy_up(case: schemathesis.Case, stack: Stack, target: Bin | None, response: schemathesis.Response) -> bool:
    """After a valid-key success: keep the pool full of bins with a few versions, and the
    table small (a created bin is deleted again). Returns whether anything was changed."""
    if response.status_code != 200 or case.path.startswith("/l"):
        return False  # the usage logs are read only (and a day is a zip, not JSON)
    method, body = case.method.upper(), response.json()
    if case.path.startswith("/a"):
        # the Access Keys API: keep the demo account under its limit, and its reader alive
        master = {"X-Master-Key": stack.key}
        if method == "POST":
            reply = stack.session.delete(f"{stack.api_url}/a/{body['accessKeyId']}", headers=master)
            assert reply.status_code == 200, reply.text
        if method == "DELETE" and body["metadata"]["id"] == stack.access_key_id:
            stack.new_access_key()
        return False
    if case.path.startswith(("/c", "/s")):
        # collections and schema docs are never deleted (no such API); the bin routes' data is untouched
        return False
    if method == "POST":
        # 404: an Idempotency-Key replay answered with a bin deleted here before.
        reply = stack.session.delete(f"{stack.api_url}/b/{body['metadata']['id']}", headers={"X-Master-Key": stack.key})
        assert reply.status_code in (200, 404), reply.text
        return True
    if target is None:
        return False
    if method == "DELETE" and case.path.endswith("/versions"):
        stack.add_versions(target)
        return True
    if method == "DELETE":
        stack.pool[stack.pool.index(target)] = stack.new_bin(target.key, target.private)
        return True
    if method == "PUT" and body["metadata"].get("version", 0) > MAX_VERSIONS_KEPT:
        reply = stack.session.delete(f"{stack.api_url}/b/{target.id}/versions", headers={"X-Master-Key": target.key})
        assert reply.status_code == 200, reply.text
        stack.add_versions(target)
        return True
    return False


# ---- checks beyond the schema ----------------------------------------------------------


def documented_messages(case: schemathesis.Case, status: int) -> list[str]:
    operation = DOCUMENT["paths"][case.path][case.method.lower()]
    response = operation["responses"].get(str(status), {})
    examples = response.get("content", {}).get("application/json", {}).get("examples", {})
    return [example["value"]["message"] for example in examples.values()]


def check_undeclared_method(case: schemathesis.Case, response: schemathesis.Response) -> None:
    """A method the document does not declare for a path answers 405 `Method not allowed`.

    with an Allow header listing what the path does serve (RFC 9110). GET
    /b/{binId}/versions is the exception: the router serves
    it as GET /b/{binId}/{version} with the version "versions", which is a 400 by contract.
    """
    expected = [(405, errors.MethodNotAllowed.message)]
    if case.method.upper() == "GET" and case.path == "/b/{binId}/versions":
        expected = [(400, errors.InvalidBinId.message), (400, errors.InvalidVersion.message)]
    assert (response.status_code, response.json()) in [(status, {"message": m}) for status, m in expected], (
        f"undeclared {case.method} {case.formatted_path} answered {response.status_code} {response.text}"
    )
    if response.status_code == 405:
        assert response.headers.get("allow"), f"405 without Allow for {case.method} {case.formatted_path}"


def check_error_message(case: schemathesis.Case, response: schemathesis.Response) -> None:
    if response.status_code < 400:
        return
    message = response.json()["message"]
    listed = documented_messages(case, response.status_code)
    patterns = [MESSAGE_PATTERNS[text] for text in listed if text in MESSAGE_PATTERNS]
    assert message in listed or any(re.fullmatch(p, message) for p in patterns), (
        f"{case.method} {case.path} answered {response.status_code} {message!r}, "
        f"not one of the documented messages {listed}"
    )


def wants_bare_record(case: schemathesis.Case) -> bool:
    headers = {name.lower(): value for name, value in (case.headers or {}).items()}
    values = [headers.get("x-bin-meta"), (case.query or {}).get("meta")]
    return any(isinstance(value, str) and value.strip().lower() == "false" for value in values)


def check_read_body(case: schemathesis.Case, response: schemathesis.Response) -> None:
    """The read schema allows a bare record; without meta=false the body must be the full shape."""
    # the version count and the version list are not record reads (their own models check them)
    listing = case.path.endswith(("/versions/count", "/versions"))
    is_read = case.method.upper() == "GET" and case.path.startswith("/b/") and not listing
    if is_read and response.status_code == 200 and not wants_bare_record(case):
        ReadResponse.model_validate(response.json())


# ---- the fuzz test ---------------------------------------------------------------------


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)
def test_api_conforms_to_its_openapi_document(case: schemathesis.Case, stack: Stack) -> None:
    target = steer(case, stack)
    takes_access_key = {"accessKey": []} in case.operation.definition.raw.get("security", [])
    keys: list[tuple[str, dict[str, str]]] = [
        ("unknown key", {"X-Master-Key": UNKNOWN_KEY}),
        ("no key", {}),
        *([("read-only access key", {"X-Access-Key": stack.access_key})] if takes_access_key else []),
        ("valid key", {"X-Master-Key": stack.key}),
    ]
    for name, headers in keys:
        key = headers.get("X-Master-Key")
        before = stack.snapshot
        response = case.call(base_url=stack.api_url, session=stack.session, headers=headers)
        stack.stats["requests"] += 1
        stack.stats[str(response.status_code)] += 1
        if name == "no key":
            stack.stats[f"examples:{case.meta.phase.name.value if case.meta else 'explicit'}"] += 1
        case.validate_response(response, checks=CHECKS, headers=headers)
        if case.method.upper() != case.operation.method.upper():
            check_undeclared_method(case, response)
        else:
            check_error_message(case, response)
            check_read_body(case, response)
        if 400 <= response.status_code < 500:
            stack.snapshot = stack.bins()
            assert stack.snapshot == before, (
                f"{case.method} {case.formatted_path} with {name} was refused ({response.status_code} "
                f"{response.text}) but changed the stored bins"
            )
        tidied = key == stack.key and tidy_up(case, stack, target, response)
        if tidied or (response.status_code < 400 and case.method.upper() != "GET"):
            stack.snapshot = stack.bins()  # a write succeeded: the new state is the reference
