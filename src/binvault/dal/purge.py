"""Physical removal of what a cut-over, a bin delete or a record replacement made
unreachable: version items, record items, and the S3 objects they point to.

Idempotent by construction: it deletes whatever old items it still finds, so running it
twice, concurrently, or after a crash half-way is harmless. That is also how a big purge
spans invocations: in Lambda every call is bounded by the invocation deadline
(``dal.client.invocation_deadline``); when it is near, the next call raises
``DeadlineReached``, the stream record is reported failed, and Lambda's retry starts the
query again and finds only what is left.

The S3 invariants (dal/blobs.py):

- an object is deleted *before* the item that points to it, so a crash in between leaves
  an item (already unreadable: an old generation, a dropped record) whose retry deletes
  the object again (a no-op) and then the item: no object outlives its purge;
- the purge never deletes what a readable record points to: a cut-over's purge keeps the
  item the base's ``recordAt`` names (preserve-latest points the base at the old
  generation's latest version item), read from the stream's image of that very write;
  every other thing it deletes was named unreachable by the write that made it so, and
  record ids are never reused;
- objects that no item ever pointed to (a crash between the S3 put and the DynamoDB
  write, or a write that failed its condition) are found by ``sweep_orphans``: listed by
  the bin id in their key, compared with the bin's items, deleted once older than a grace
  period no request can outlive. A deleted bin's purge deletes every object under the
  bin's prefix, orphans included.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from binvault.dal import keys
from binvault.dal.client import call_or_unavailable, dynamodb, table

BATCH_SIZE = 25  # BatchWriteItem's limit
MAX_BATCH_ATTEMPTS = 8
MAX_BACKOFF_SECONDS = 2.0  # the longest sleep between two batch attempts (dal.client counts it)
# An orphan is only removed once older than this: far longer than any request (API Gateway
# gives up after 29 s), so an object whose item is still being written is never taken.
ORPHAN_GRACE_SECONDS = 3600


class PurgeIncomplete(RuntimeError):
    """Some deletes stayed unprocessed after every retry; the stream batch is retried."""


def _query(condition: str, values: dict[str, Any]) -> Iterator[dict[str, Any]]:
    request: dict[str, Any] = {
        "TableName": table(),
        "KeyConditionExpression": condition,
        "ExpressionAttributeValues": values,
        "ProjectionExpression": "pk, sk, #blob",
        "ExpressionAttributeNames": {"#blob": "blob"},  # a reserved word
    }
    while True:
        page = call_or_unavailable(dynamodb().query, **request)
        yield from page.get("Items", [])
        if "LastEvaluatedKey" not in page:
            return
        request["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def _orphaned_items(bin_id: str, below_generation: int | None) -> Iterator[dict[str, Any]]:
    """A cut-over's old versions, or (``below_generation`` None) every item of a deleted bin."""
    values: dict[str, Any] = {":pk": {"S": keys.bin_pk(bin_id)}}
    if below_generation is None:
        yield from (i for i in _query("pk = :pk", values) if i["sk"]["S"] != keys.BIN_SK)
        return
    values[":lo"] = {"S": keys.VERSION_PREFIX}
    values[":hi"] = {"S": keys.generation_floor(below_generation)}
    yield from _query("pk = :pk AND sk BETWEEN :lo AND :hi", values)


def _delete_batch(batch: list[dict[str, Any]]) -> None:
    """Delete the batch's S3 objects, then its items."""
    objects = [item["blob"]["S"] for item in batch if "blob" in item]
    if objects:
        from binvault.dal import blobs

        blobs.delete(objects)
    pending: dict[str, Any] = {
        table(): [{"DeleteRequest": {"Key": {"pk": item["pk"], "sk": item["sk"]}}} for item in batch]
    }
    for attempt in range(MAX_BATCH_ATTEMPTS):
        response = call_or_unavailable(dynamodb().batch_write_item, RequestItems=pending)
        pending = response.get("UnprocessedItems") or {}
        if not pending:
            return
        # Unprocessed items mean the partition is busy: back off with full jitter.
        time.sleep(random.uniform(0, min(MAX_BACKOFF_SECONDS, 0.05 * 2**attempt)))
    raise PurgeIncomplete(f"{sum(len(v) for v in pending.values())} deletes left unprocessed")


def _delete_all(items: Iterator[dict[str, Any]]) -> int:
    deleted = 0
    batch: list[dict[str, Any]] = []
    for item in items:
        batch.append(item)
        if len(batch) == BATCH_SIZE:
            _delete_batch(batch)
            deleted += len(batch)
            batch = []
    if batch:
        _delete_batch(batch)
        deleted += len(batch)
    return deleted


def purge_versions(bin_id: str, below_generation: int | None, keep: str | None = None) -> int:
    """Delete the bin's versions of generations below ``below_generation`` (and their S3
    objects), except the item ``keep`` names (the base's ``recordAt``); with
    ``below_generation`` None the bin is gone: every item and every object of it."""
    items = (i for i in _orphaned_items(bin_id, below_generation) if i["sk"]["S"] != keep)
    deleted = _delete_all(items)
    if below_generation is None:
        from binvault.dal import blobs

        # Every object of a deleted bin, orphans of crashed writes included.
        blobs.delete([key for key, _ in blobs.listing(keys.blob_prefix(bin_id))])
    return deleted


def drop(bin_id: str, dropped: list[str]) -> int:
    """Delete what a write named unreachable in the base item's ``drop``: record holders
    (by sk, with their S3 objects) and S3 objects (by key). Returns the items deleted."""
    objects = [d for d in dropped if d.startswith(keys.BLOB_PREFIX)]
    if objects:
        from binvault.dal import blobs

        blobs.delete(objects)
    holders: list[dict[str, Any]] = []
    for sk in (d for d in dropped if not d.startswith(keys.BLOB_PREFIX)):
        values = {":pk": {"S": keys.bin_pk(bin_id)}, ":sk": {"S": sk}}
        holders.extend(_query("pk = :pk AND sk = :sk", values))
    return _delete_all(iter(holders))


def _base_pointer(bin_id: str) -> tuple[int, str | None] | None:
    """(rev, recordAt) of the bin's base item, strongly consistent; None when it is gone."""
    page = call_or_unavailable(
        dynamodb().query,
        TableName=table(),
        KeyConditionExpression="pk = :pk AND sk = :sk",
        ExpressionAttributeValues={":pk": {"S": keys.bin_pk(bin_id)}, ":sk": {"S": keys.BIN_SK}},
        ProjectionExpression="rev, recordAt",
        ConsistentRead=True,
    )
    items = page.get("Items", [])
    if not items:
        return None
    return int(items[0]["rev"]["N"]), items[0]["recordAt"]["S"] if "recordAt" in items[0] else None


def purge_unreachable_records(bin_id: str, attempts: int = 5) -> int:
    """Delete the bin's record items (``R#``) the base does not point to: what a drop whose
    purge was dead-lettered left (``binvault-admin purge``).

    A record item is written only in the transaction that points the base at it, so if the
    base's ``rev`` is the same before and after listing them, no record item appeared in
    between, and every other one listed was replaced earlier: garbage for good (record ids
    are never reused). A write in between: look again.
    """
    for _ in range(attempts):
        before = _base_pointer(bin_id)
        if before is None:
            return 0
        values = {":pk": {"S": keys.bin_pk(bin_id)}, ":r": {"S": keys.RECORD_PREFIX}}
        holders = list(_query("pk = :pk AND begins_with(sk, :r)", values))
        if _base_pointer(bin_id) == before:
            return _delete_all(h for h in holders if h["sk"]["S"] != before[1])
    return 0


def sweep_orphans(grace_seconds: float = ORPHAN_GRACE_SECONDS, now: datetime | None = None) -> dict[str, int]:
    """Delete every object under ``b/`` that no item points to and that is older than
    ``grace_seconds`` (the purge Lambda runs this daily; ``binvault-admin sweep-orphans``)."""
    from binvault.dal import blobs

    cutoff = (now or datetime.now(UTC)) - timedelta(seconds=grace_seconds)
    by_bin: dict[str, list[str]] = {}
    seen = 0
    for key, modified in blobs.listing(keys.BLOB_PREFIX):
        seen += 1
        bin_id = keys.bin_id_from_blob_key(key)
        if bin_id is not None and modified < cutoff:
            by_bin.setdefault(bin_id, []).append(key)
    orphans: list[str] = []
    for bin_id, candidates in by_bin.items():
        pointed = {
            item["blob"]["S"] for item in _query("pk = :pk", {":pk": {"S": keys.bin_pk(bin_id)}}) if "blob" in item
        }
        orphans.extend(key for key in candidates if key not in pointed)
    blobs.delete(orphans)
    return {"objects": seen, "deleted": len(orphans)}
