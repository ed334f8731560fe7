"""Shared fixtures: dummy AWS credentials, moto with the template's own tables, the API
(``tests.support.inproc.Api``: API Gateway events through the real lambda_handler), a
DynamoDB call counter, and the soak's options. The tests in tests/api use them; tests/unit
needs none of them but the environment."""

from __future__ import annotations

import base64
import os
import sys
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest

from tests.support.inproc import Api, moto_tables, reset_caches, shared_botocore_models
from tests.support.inproc import Reply as Reply  # re-exported for the api tests

TABLE = "binvault-test"
IDEMPOTENCY_TABLE = "binvault-test-idempotency"


def pytest_addoption(parser: pytest.Parser) -> None:
    """``make soak``'s knobs (tests/integration/test_soak.py): make soak SOAK_ARGS='--soak-requests 1000'."""
    from tests.integration.test_soak import Settings

    group = parser.getgroup("soak", "the soak (pytest -m soak tests/integration/test_soak.py)")
    for name, default in vars(Settings()).items():
        group.addoption(f"--soak-{name.replace('_', '-')}", type=type(default), default=default)
    group.addoption("--soak-output", default="bench/results/soak.json", help="where the results go")


@pytest.fixture(scope="session", autouse=True)
def botocore_models() -> Iterator[None]:
    """Each JSON model botocore ships parsed once a process, not once a test (``shared_botocore_models``)."""
    with shared_botocore_models():
        yield


@pytest.fixture(scope="session", autouse=True)
def moto_untraced_under_coverage() -> None:
    """Under coverage (a tracer is set), moto's emulator runs untraced and binvault's code
    in it traced (``tests.support.untraced``): the same coverage, ``tests/api`` 151 s -> 106 s.
    BINVAULT_TESTS_TRACE_MOTO=1 traces everything, as before."""
    if sys.gettrace() is not None and os.environ.get("BINVAULT_TESTS_TRACE_MOTO") != "1":
        from tests.support import untraced

        untraced.install()


@pytest.fixture(autouse=True)
def aws_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Dummy credentials and region; never a real account, never a real endpoint."""
    for name in list(os.environ):
        if name.startswith("AWS_") and name != "AWS_LAMBDA_FUNCTION_NAME":
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("TABLE_NAME", TABLE)
    monkeypatch.setenv("IDEMPOTENCY_TABLE_NAME", IDEMPOTENCY_TABLE)
    monkeypatch.setenv("PURCHASE_URL", "https://binvault.example/pricing")
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "binvault")
    monkeypatch.setenv("KEY_CACHE_SECONDS", "300")
    reset_caches()
    yield
    reset_caches()


@pytest.fixture
def ddb() -> Iterator[Any]:
    """moto in-process with both tables created from template.yaml's definitions."""
    from moto import mock_aws

    from binvault.dal.client import dynamodb
    from binvault.local import moto_fixes
    from binvault.local.template_tables import create_tables

    moto_fixes.install()
    with mock_aws():
        client = dynamodb()
        create_tables(client, TABLE, IDEMPOTENCY_TABLE)
        yield client


@dataclass
class Account:
    id: str
    key: str


def make_account(requests: int = 1_000_000) -> Account:
    from binvault import admin

    created = admin.create_account(requests)
    return Account(created["accountId"], created["masterKey"])


@pytest.fixture
def account(ddb: Any) -> Account:
    return make_account()


@pytest.fixture
def other_account(ddb: Any) -> Account:
    return make_account()


@pytest.fixture
def api(account: Account) -> Api:
    return Api(account.key)


@pytest.fixture
def new_bin(api: Api) -> str:
    reply = api.create({"v": 0})
    assert reply.status == 200, reply.raw
    return str(reply.body["metadata"]["id"])


def add_versions(api: Api, bin_id: str, count: int, start: int = 1) -> None:
    for n in range(start, start + count):
        reply = api.update(bin_id, {"v": n})
        assert reply.status == 200, reply.raw


@pytest.fixture
def purge(ddb: Any) -> Any:
    """The local stream poller on moto's in-process stream: ``purge.drain()`` runs the
    purge Lambda on everything the stream holds, as the deployed event source mapping would."""
    from binvault.local.streams import StreamPoller

    return StreamPoller(TABLE)


class CallCounter:
    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()

    def __call__(self, event_name: str, **_: Any) -> None:
        self.calls[event_name.split(".")[-1]] += 1

    @property
    def total(self) -> int:
        return sum(self.calls.values())

    def reset(self) -> None:
        self.calls.clear()


@pytest.fixture
def dynamodb_calls(ddb: Any) -> Iterator[CallCounter]:
    """Counts the API's DynamoDB operations through botocore's event hooks."""
    counter = CallCounter()
    ddb.meta.events.register("before-call.dynamodb", counter)
    yield counter
    ddb.meta.events.unregister("before-call.dynamodb", counter)


def table_items(client: Any, table: str = TABLE) -> list[dict[str, Any]]:
    """Every item of ``table``, as a consistent Scan returns them, in key order."""
    items = moto_items(client, table)
    if items is None:
        items = scanned_items(client, table)
    return sorted(items, key=item_key)


def item_key(item: dict[str, Any]) -> tuple[str, str]:
    """An item's key in either table, as a sortable pair (the idempotency table's has no sk)."""
    return (item["pk"]["S"], item["sk"]["S"]) if "pk" in item else (item["id"]["S"], "")


def scanned_items(client: Any, table: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"TableName": table, "ConsistentRead": True}
    while True:
        page = client.scan(**kwargs)
        items.extend(page["Items"])
        if "LastEvaluatedKey" not in page:
            return items
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def moto_items(client: Any, table: str) -> list[dict[str, Any]] | None:
    """The items straight from moto's in-process backend, in a Scan's wire shape (None for a
    client of a real endpoint: the local stack's). Skips moto's response serialiser, which
    was most of the time of the modules that snapshot whole tables to prove that a request
    changed nothing; tests/api/test_table_items.py proves it answers what a Scan does."""
    if not str(client.meta.endpoint_url).startswith("https://dynamodb."):
        return None
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.dynamodb.models import dynamodb_backends

    from binvault.local import moto_fixes

    backend = dynamodb_backends[DEFAULT_ACCOUNT_ID][client.meta.region_name]
    with moto_fixes._lock:
        return [
            {name: _wire(value) for name, value in item.attrs.items()} for item in backend.get_table(table).all_items()
        ]


def _wire(value: Any) -> dict[str, Any]:
    """A moto ``DynamoType`` as botocore parses it off the wire (binary as bytes)."""
    kind, inner = value.type, value.value
    if kind == "M":
        return {"M": {name: _wire(member) for name, member in inner.items()}}
    if kind == "L":
        return {"L": [_wire(member) for member in inner]}
    if kind == "B":
        return {"B": inner if isinstance(inner, bytes) else base64.b64decode(inner)}
    if kind == "BS":
        return {"BS": [v if isinstance(v, bytes) else base64.b64decode(v) for v in inner]}
    if kind in ("SS", "NS"):
        return {kind: list(inner)}
    return {kind: inner}


def bin_items(client: Any) -> list[dict[str, Any]]:
    """Every bin item (base and versions), i.e. the table less accounts' quota counters."""
    return [i for i in table_items(client) if i["pk"]["S"].startswith("BIN#")]


def seed_versions(bin_id: str, count: int) -> None:
    """Give a bin ``count`` versions quickly (batch writes instead of ``count`` API calls),
    in exactly the layout the API writes (dal.keys, dal.records)."""
    from binvault.dal import keys, records
    from binvault.dal.bins import get_bin
    from binvault.dal.client import dynamodb

    base = get_bin(bin_id)
    assert base is not None and base.version_count == 0
    client = dynamodb()
    items = [
        {
            **keys.version_key(bin_id, base.generation, n),
            "type": {"S": "version"},
            "generation": {"N": str(base.generation)},
            "version": {"N": str(n)},
            "createdAt": {"S": "2026-01-01T00:00:00.000Z"},
            "record": records.encode({"v": n}),
        }
        for n in range(1, count + 1)
    ]
    for start in range(0, len(items), 25):
        batch = [{"PutRequest": {"Item": item}} for item in items[start : start + 25]]
        client.batch_write_item(RequestItems={TABLE: batch})
    client.update_item(
        TableName=TABLE,
        Key=keys.bin_key(bin_id),
        UpdateExpression="SET versionCount = :n, rev = rev + :one",
        ExpressionAttributeValues={":n": {"N": str(count)}, ":one": {"N": "1"}},
    )


@pytest.fixture(scope="module")
def moto_world() -> Iterator[Any]:
    """``module_moto_world`` for the requesting module: a module opts in by overriding
    ``ddb`` to depend on it; every test makes its own accounts and bins."""
    with module_moto_world() as client:
        yield client


@contextmanager
def module_moto_world() -> Iterator[Any]:
    """Both tables in one moto world for a whole test module; yields a DynamoDB client.

    For modules of many small tests, where table setup (~0.4 s) would cost more than the
    tests. conftest's ``aws_env`` is function-scoped, so the same environment is set here
    first (``tests.support.inproc.moto_tables``).
    """
    env = {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "TABLE_NAME": TABLE,
        "IDEMPOTENCY_TABLE_NAME": IDEMPOTENCY_TABLE,
        "POWERTOOLS_TRACE_DISABLED": "true",
    }
    with moto_tables(env) as client:
        yield client
