"""What the importers (``binvault-admin import-jsonbin``, ``import-backup``) and the export
read and write: a whole bin on the operator side, straight to the table, with the API's
invariants.

A bin is copied as a delete-versions cut-over is made: its versions go first into a
generation its base item does not name (0 for a new bin, the next one for a bin being
replaced), where no read can see them (every read goes through the base item and reads
only ``1..versionCount`` of the generation it names); then one conditional write puts the
base item (with its listing item, in the same transaction), and the whole bin appears at
that instant. An import that stops before that write leaves nothing readable; run again,
it rewrites the same version keys (a new bin: generation 0; a replaced bin: the generation
above the base's) and cuts over. A replaced bin's old generation is purged as after a
cut-over (``purgeBelow``, ``dal.bins.replace_bin``).

Records go through ``dal.records.store`` as the API's do: inline when small, in S3 beyond
``INLINE_MAX_BYTES`` (the object written before the item that points at it).
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from typing import Any

from binvault.dal import bins, capped, keys, listing, records, schema_docs
from binvault.dal.client import call_or_unavailable, dynamodb, get_item, table
from binvault.exceptions import ServiceUnavailable
from binvault.models.bins import PERMISSIONS, Bin, Listed, SchemaDoc, StoredRecord, Version

BATCH = 25  # BatchWriteItem's limit
BATCH_ATTEMPTS = 8


def put_versions(bin_id: str, generation: int, versions: Sequence[tuple[int, str, StoredRecord]]) -> None:
    """Write version items ``(number, createdAt, record)`` of ``generation`` (one that the bin's
    base item does not name yet, so nothing reads them). Plain puts: a re-run rewrites them."""
    for start in range(0, len(versions), BATCH):
        requests: list[dict[str, Any]] = [
            {"PutRequest": {"Item": bins.version_item(bin_id, generation, number, record, created_at)}}
            for number, created_at, record in versions[start : start + BATCH]
        ]
        for attempt in range(BATCH_ATTEMPTS):
            answer = call_or_unavailable(dynamodb().batch_write_item, RequestItems={table(): requests})
            requests = (answer.get("UnprocessedItems") or {}).get(table(), [])
            if not requests:
                break
            time.sleep(min(1.0, 0.02 * 2**attempt))  # throttled: back off, then the rest
        else:
            raise ServiceUnavailable()


def create(new: Bin) -> None:
    """Put a new bin's base item with its listing item (StaleWrite: the id exists)."""
    bins.put_new_bin(new, [listing.put(new)])


def replace(old: Bin, new: Bin) -> None:
    """Cut ``old`` over to ``new`` (whose versions are written), moving its listing item if
    its key changed (StaleWrite: the bin changed since ``old`` was read)."""
    moved = listing.sort_key(old) != listing.sort_key(new) or old.collection_id != new.collection_id
    bins.replace_bin(old, new, [*([listing.delete(old)] if moved else []), listing.put(new)])


def listed_bins(account_id: str, collection_id: str | None) -> Iterator[Listed]:
    """Every bin of one listing partition, oldest first, a page of items at a time."""
    kwargs: dict[str, Any] = {
        "TableName": table(),
        "KeyConditionExpression": "pk = :pk",
        "ExpressionAttributeValues": {":pk": {"S": keys.listing_pk(account_id, collection_id)}},
        "ConsistentRead": True,
        "Limit": 100,
    }
    while True:
        page = call_or_unavailable(dynamodb().query, **kwargs)
        for item in page.get("Items", []):
            yield Listed(
                bin_id=item["binId"]["S"],
                private=item["private"]["BOOL"],
                name=item["name"]["S"] if "name" in item else None,
                created_at=item["createdAt"]["S"],
            )
        if "LastEvaluatedKey" not in page:
            return
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def versions(base: Bin, first: int = 1) -> Iterator[Version]:
    """The readable versions of ``base`` (``first..versionCount`` of its generation), in
    order, a page of items at a time (never the whole bin in memory)."""
    if base.version_count < first:
        return
    kwargs: dict[str, Any] = {
        "TableName": table(),
        "KeyConditionExpression": "pk = :pk AND sk BETWEEN :low AND :high",
        "ExpressionAttributeValues": {
            ":pk": {"S": keys.bin_pk(base.id)},
            ":low": {"S": keys.version_sk(base.generation, first)},
            ":high": {"S": keys.version_sk(base.generation, base.version_count)},
        },
        "ConsistentRead": True,
        "Limit": 25,
    }
    while True:
        page = call_or_unavailable(dynamodb().query, **kwargs)
        for item in page.get("Items", []):
            yield Version(
                bin_id=base.id,
                generation=base.generation,
                number=int(item["version"]["N"]),
                created_at=item["createdAt"]["S"],
                record=records.from_item(item),
            )
        if "LastEvaluatedKey" not in page:
            return
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def access_key_hashes(account_id: str) -> list[dict[str, Any]]:
    """The account's access keys with their hashes (the export's ``keys.json``; never a key),
    oldest first."""
    item = get_item(keys.account_key(account_id)) or {}
    found = []
    for key_id, entry in item.get("accessKeys", {}).get("M", {}).items():
        fields = entry["M"]
        found.append(
            {
                "id": key_id,
                "hash": fields["hash"]["S"],
                "name": fields["name"]["S"],
                "permissions": [p for p in PERMISSIONS if fields["permissions"]["M"][p]["BOOL"]],
                "createdAt": fields["createdAt"]["S"],
                "last4": fields["last4"]["S"],
            }
        )
    return sorted(found, key=lambda k: (k["createdAt"], k["id"]))


def schema_docs_of(account_id: str) -> list[SchemaDoc]:
    """The account's schema docs, oldest first (one Query of its partition's SCHEMA# items)."""
    found = [schema_docs.from_item(item) for item in capped.partition_items(account_id, keys.SCHEMA_DOC_PREFIX)]
    return sorted(found, key=lambda d: (d.created_at, d.id))
