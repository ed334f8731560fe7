"""The handler in this process on moto's in-process DynamoDB, as tests/conftest.py does it:
the template's own tables, an account, API Gateway events through the real lambda_handler,
and a Meter on the service's DynamoDB client."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from bench.common import bin_items
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


@dataclass
class Response:
    status: int
    body: Any


def reset_caches() -> None:
    from binvault.dal.blobs import s3
    from binvault.dal.client import dynamodb
    from binvault.logic import auth
    from binvault.models.settings import get_settings

    get_settings.cache_clear()
    dynamodb.cache_clear()
    s3.cache_clear()
    auth.clear_cache()


class Session:
    def __init__(self, key: str, meter: Meter, reader: Any, stream: Stream) -> None:
        self.key = key
        self.meter = meter
        self.reader = reader
        self.stream = stream

    def call(self, method: str, path: str, body: Any = None, **headers: str) -> Response:
        from binvault.handlers.api import lambda_handler
        from binvault.local.events import LocalContext, rest_event

        sent = {name.replace("_", "-"): value for name, value in headers.items()}
        sent["X-Master-Key"] = self.key
        raw = None
        if body is not None:
            raw = json.dumps(body, separators=(",", ":"))
            sent["Content-Type"] = "application/json"
        result = lambda_handler(rest_event(method, path, sent, raw), LocalContext())
        text = result.get("body") or ""
        return Response(int(result["statusCode"]), json.loads(text) if text else None)

    def ok(self, method: str, path: str, body: Any = None, **headers: str) -> Response:
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

    def drain_purge(self) -> int:
        """Deliver the stream's new purge records to the purge Lambda, as deployed (async)."""
        return self.stream.deliver()


class Stream:
    """The table's stream -> the purge Lambda, filtered with its own rule.

    Not ``binvault.local.streams.StreamPoller``: that hands the Lambda boto3's parsed
    records, whose ``ApproximateCreationDateTime`` is a datetime where Lambda's event has
    epoch seconds, and the purge handler then fails after purging and is retried (see the
    bench report). Here records are shaped as the deployed event source mapping sends them.
    """

    def __init__(self) -> None:
        import boto3

        arn = boto3.client("dynamodb").describe_table(TableName=TABLE)["Table"]["LatestStreamArn"]
        self.streams = boto3.client("dynamodbstreams")
        shards = self.streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]
        self.iterators = [
            self.streams.get_shard_iterator(StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON")[
                "ShardIterator"
            ]
            for shard in shards
        ]

    def deliver(self) -> int:
        from binvault.handlers import purge
        from binvault.local.events import LocalContext

        records = []
        for index, iterator in enumerate(self.iterators):
            page = self.streams.get_records(ShardIterator=iterator, Limit=1000)
            self.iterators[index] = page["NextShardIterator"]
            records += [r for r in page.get("Records", []) if purge.purge_target(r) is not None]
        for record in records:
            created = record["dynamodb"].get("ApproximateCreationDateTime")
            if created is not None and not isinstance(created, (int, float)):
                record["dynamodb"]["ApproximateCreationDateTime"] = created.timestamp()
        if records:
            result = purge.lambda_handler({"Records": records}, LocalContext(function_name="purge"))
            if result.get("batchItemFailures"):
                raise RuntimeError(f"purge failed: {result}")
        return len(records)


@contextmanager
def session() -> Iterator[Session]:
    """moto in-process with the template's tables and one account; the environment and the
    service's caches are put back afterwards."""
    saved = dict(os.environ)
    for name in list(os.environ):
        if name.startswith(("AWS_", "POWERTOOLS_")):
            del os.environ[name]
    os.environ.update(ENV)
    reset_caches()
    from moto import mock_aws

    from binvault import admin
    from binvault.dal.client import dynamodb
    from binvault.local import moto_fixes
    from binvault.local.template_tables import create_tables

    moto_fixes.install()
    try:
        with mock_aws():
            import boto3

            client = dynamodb()
            create_tables(client, TABLE, IDEMPOTENCY_TABLE)
            reader = boto3.client("dynamodb")
            key = admin.create_account(10**9)["masterKey"]
            meter = Meter(client, reader)
            try:
                yield Session(key, meter, reader, Stream())
            finally:
                meter.close()
    finally:
        reset_caches()
        os.environ.clear()
        os.environ.update(saved)
