"""Physical removal of version items that a cut-over or a bin delete made unreachable.

Idempotent by construction: it deletes whatever old items it still finds, so running it
twice, concurrently, or after a crash half-way is harmless. That is also how a big purge
spans invocations: in Lambda every call is bounded by the invocation deadline
(``dal.client.invocation_deadline``); when it is near, the next call raises
``DeadlineReached``, the stream record is reported failed, and Lambda's retry starts the
query again and finds only what is left.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from typing import Any

from binvault.dal import keys
from binvault.dal.client import call_or_unavailable, dynamodb, table

BATCH_SIZE = 25  # BatchWriteItem's limit
MAX_BATCH_ATTEMPTS = 8
MAX_BACKOFF_SECONDS = 2.0  # the longest sleep between two batch attempts (dal.client counts it)


class PurgeIncomplete(RuntimeError):
    """Some deletes stayed unprocessed after every retry; the stream batch is retried."""


def _orphaned_keys(bin_id: str, below_generation: int | None) -> Iterator[dict[str, Any]]:
    values: dict[str, Any] = {":pk": {"S": keys.bin_pk(bin_id)}, ":lo": {"S": keys.VERSION_PREFIX}}
    if below_generation is None:
        condition = "pk = :pk AND begins_with(sk, :lo)"
    else:
        condition = "pk = :pk AND sk BETWEEN :lo AND :hi"
        values[":hi"] = {"S": keys.generation_floor(below_generation)}
    request: dict[str, Any] = {
        "TableName": table(),
        "KeyConditionExpression": condition,
        "ExpressionAttributeValues": values,
        "ProjectionExpression": "pk, sk",
    }
    while True:
        page = call_or_unavailable(dynamodb().query, **request)
        yield from page.get("Items", [])
        if "LastEvaluatedKey" not in page:
            return
        request["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def _delete_batch(batch: list[dict[str, Any]]) -> None:
    pending: dict[str, Any] = {table(): [{"DeleteRequest": {"Key": key}} for key in batch]}
    for attempt in range(MAX_BATCH_ATTEMPTS):
        response = call_or_unavailable(dynamodb().batch_write_item, RequestItems=pending)
        pending = response.get("UnprocessedItems") or {}
        if not pending:
            return
        # Unprocessed items mean the partition is busy: back off with full jitter.
        time.sleep(random.uniform(0, min(MAX_BACKOFF_SECONDS, 0.05 * 2**attempt)))
    raise PurgeIncomplete(f"{sum(len(v) for v in pending.values())} deletes left unprocessed")


def purge_versions(bin_id: str, below_generation: int | None) -> int:
    """Delete the bin's versions of generations below ``below_generation`` (all when None)."""
    deleted = 0
    batch: list[dict[str, Any]] = []
    for key in _orphaned_keys(bin_id, below_generation):
        batch.append(key)
        if len(batch) == BATCH_SIZE:
            _delete_batch(batch)
            deleted += len(batch)
            batch = []
    if batch:
        _delete_batch(batch)
        deleted += len(batch)
    return deleted
