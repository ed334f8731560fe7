"""The handler in this process on moto's in-process DynamoDB, with the api tests' harness
(tests/support/inproc.py): the template's own tables, an account, API Gateway events
through the real lambda_handler, and a Meter on the service's DynamoDB client."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from tests.support.inproc import Api, Reply, moto_tables
from tests.support.inproc import reset_caches as reset_caches  # for bench.leases
from tests.support.tables import bin_items

from bench.units import Meter

TABLE = "binvault-bench"
IDEMPOTENCY_TABLE = "binvault-bench-idempotency"
ENV = {
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
    "AWS_DEFAULT_REGION": "us-east-1",
    "TABLE_NAME": TABLE,
    "IDEMPOTENCY_TABLE_NAME": IDEMPOTENCY_TABLE,
    "PURCHASE_URL": "https://binvault.example/pricing",
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_METRICS_DISABLED": "true",
    "POWERTOOLS_LOG_LEVEL": "WARNING",
    "KEY_CACHE_SECONDS": "300",
}


class Session:
    def __init__(self, key: str, meter: Meter, reader: Any, poller: Any) -> None:
        self.api = Api(key)
        self.meter = meter
        self.reader = reader
        self.poller = poller

    def call(self, method: str, path: str, body: Any = None, **headers: str) -> Reply:
        sent = {name.replace("_", "-"): value for name, value in headers.items()}
        if body is not None:  # compact, as clients send it: the records are sized to the byte
            body = json.dumps(body, separators=(",", ":"))
            sent["Content-Type"] = "application/json"
        return self.api(method, path, sent, body)

    def ok(self, method: str, path: str, body: Any = None, **headers: str) -> Reply:
        response = self.call(method, path, body, **headers)
        if response.status != 200:
            raise RuntimeError(f"{method} {path}: HTTP {response.status} {response.body}")
        return response

    def create(self, record: Any) -> str:
        return str(self.ok("POST", "/b", record).body["metadata"]["id"])

    def add_versions(self, bin_id: str, records: list[Any]) -> None:
        for record in records:
            self.ok("PUT", f"/b/{bin_id}", record, X_Bin_Versioning="true")

    def bin_items(self, bin_id: str) -> list[dict[str, Any]]:
        return bin_items(self.reader, TABLE, bin_id)

    def drain_purge(self) -> None:
        """Deliver the stream's new purge records to the purge Lambda, as deployed (async)."""
        self.poller.drain()
        if self.poller.dead_letters:
            raise RuntimeError(f"purge failed: {len(self.poller.dead_letters)} records dead-lettered")


@contextmanager
def session() -> Iterator[Session]:
    """moto in-process with the template's tables and one account, as the api tests run
    (``tests.support.inproc``); the environment and the service's caches are put back afterwards."""
    with moto_tables(ENV) as reader:
        # imported in the environment set (Powertools reads its log level on import)
        from binvault import admin
        from binvault.dal.client import dynamodb
        from binvault.local.streams import StreamPoller

        key = admin.create_account(10**9)["masterKey"]
        meter = Meter(dynamodb(), reader)
        try:
            yield Session(key, meter, reader, StreamPoller(TABLE))
        finally:
            meter.close()
