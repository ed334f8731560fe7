"""Shared fixtures: dummy AWS credentials, moto with the template's own tables, an API
Gateway event factory that goes through the real lambda_handler, and a DynamoDB call counter."""

from __future__ import annotations

import json
import os
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest

TABLE = "binvault-test"
IDEMPOTENCY_TABLE = "binvault-test-idempotency"


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


def reset_caches() -> None:
    from binvault.dal.blobs import s3
    from binvault.dal.client import dynamodb
    from binvault.logic import auth
    from binvault.models.settings import get_settings

    get_settings.cache_clear()
    dynamodb.cache_clear()
    s3.cache_clear()
    auth.clear_cache()


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


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: Any
    raw: str

    @property
    def message(self) -> str | None:
        return self.body.get("message") if isinstance(self.body, dict) else None


_ENVIRONMENT = threading.Lock()


class Api:
    """Calls the real lambda_handler with API Gateway REST proxy events.

    One call at a time, like one Lambda execution environment (Powertools keeps the current
    event on the resolver): tests of concurrent clients call ``logic/`` from threads, which
    is what separate execution environments sharing one table amount to.
    """

    def __init__(self, key: str | None = None) -> None:
        self.key = key

    def __call__(
        self,
        method: str,
        path: str,
        headers: dict[str, str] | list[tuple[str, str]] | None = None,
        body: Any = None,
        query: dict[str, str] | None = None,
        key: str | bool | None = True,
    ) -> Reply:
        from binvault.handlers.api import lambda_handler
        from binvault.local.events import LocalContext, rest_event

        pairs = list(headers.items()) if isinstance(headers, dict) else list(headers or [])
        chosen = self.key if key is True else key
        if chosen:
            pairs.append(("X-Master-Key", chosen))
        if body is not None and not isinstance(body, (str, bytes)):
            body = json.dumps(body)
            if not any(name.lower() == "content-type" for name, _ in pairs):
                pairs.append(("Content-Type", "application/json"))
        with _ENVIRONMENT:
            result = lambda_handler(rest_event(method, path, pairs, body, query), LocalContext())
        raw = result.get("body") or ""
        try:
            parsed = json.loads(raw) if raw else None
        except ValueError:
            parsed = None
        headers_out = {k.lower(): v for k, v in (result.get("headers") or {}).items()}
        for name, values in (result.get("multiValueHeaders") or {}).items():
            headers_out[name.lower()] = ", ".join(values)
        return Reply(result["statusCode"], headers_out, parsed, raw)

    # conveniences for the common calls
    def create(self, record: Any = None, **headers: str) -> Reply:
        return self("POST", "/b", headers=_headers(headers), body=record or {"hello": "world"})

    def update(self, bin_id: str, record: Any, versioning: bool = True, **headers: str) -> Reply:
        extra = {"X-Bin-Versioning": "true" if versioning else "false", **_headers(headers)}
        return self("PUT", f"/b/{bin_id}", headers=extra, body=record)


def _headers(kwargs: dict[str, str]) -> dict[str, str]:
    return {name.replace("_", "-"): value for name, value in kwargs.items()}


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
    items: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"TableName": table, "ConsistentRead": True}
    while True:
        page = client.scan(**kwargs)
        items.extend(page["Items"])
        if "LastEvaluatedKey" not in page:
            return sorted(items, key=lambda i: (i["pk"]["S"], i["sk"]["S"]))
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


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


@contextmanager
def module_moto_world() -> Iterator[Any]:
    """Both tables in one moto world for a whole test module; yields a DynamoDB client.

    For modules of many small tests, where table setup (~0.4 s) would cost more than the
    tests. conftest's ``aws_env`` is function-scoped, so the same environment is set here
    first. ``aws_env`` drops the cached client before every test, and a client from a fresh
    botocore session reloads the service model (~0.5 s): one shared session avoids that
    (moto is imported first, so the session carries moto's hook).
    """
    import boto3
    import botocore.session
    from moto import mock_aws

    from binvault.local import moto_fixes
    from binvault.local.template_tables import create_tables

    with pytest.MonkeyPatch.context() as patch:
        for name in [n for n in os.environ if n.startswith("AWS_")]:
            patch.delenv(name)
        for name, value in {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            "TABLE_NAME": TABLE,
            "IDEMPOTENCY_TABLE_NAME": IDEMPOTENCY_TABLE,
            "POWERTOOLS_TRACE_DISABLED": "true",
        }.items():
            patch.setenv(name, value)
        session = botocore.session.get_session()
        patch.setattr(botocore.session, "get_session", lambda env_vars=None: session)
        patch.setattr(boto3, "DEFAULT_SESSION", None)  # boto3.client() here: this session, then undone
        reset_caches()
        moto_fixes.install()
        with mock_aws():
            client = session.create_client("dynamodb")
            create_tables(client, TABLE, IDEMPOTENCY_TABLE)
            yield client
        reset_caches()
