"""Listing items: one per bin, in its collection's partition (or its account's uncategorized
one), so that a page of bins is one strongly consistent Query, never a Scan or an index.

    pk  LIST#<accountId>#<collectionId|uncategorized>
    sk  <createdAt>#<binId>          creation order; bins created in the same millisecond by id

A listing item is never written on its own: ``put`` and ``delete`` give the transaction
items that ride along with the bin's own write (``dal.bins.put_new_bin``, ``set_meta``,
``delete_bin``), so a bin appears in its listing in the same atomic write that creates it,
shows its new name or privacy from the write that changes them, and disappears in the write
that deletes it.
"""

from __future__ import annotations

from typing import Any

from binvault.dal import keys
from binvault.dal.client import call_or_unavailable, cancellation_codes, dynamodb, table
from binvault.models.bins import Bin, Listed

PAGE_SIZE = 10


def put(bin: Bin) -> dict[str, Any]:
    """The transaction item that (re)writes the bin's listing item from its base as it will be."""
    item: dict[str, Any] = {
        **keys.listing_key(bin.owner, bin.collection_id, bin.created_at, bin.id),
        "type": {"S": "listing"},
        "binId": {"S": bin.id},
        "private": {"BOOL": bin.private},
        "createdAt": {"S": bin.created_at},
    }
    if bin.name is not None:
        item["name"] = {"S": bin.name}
    return {"Put": {"TableName": table(), "Item": item}}


def delete(bin: Bin) -> dict[str, Any]:
    """The transaction item that removes the bin's listing item."""
    return {
        "Delete": {"TableName": table(), "Key": keys.listing_key(bin.owner, bin.collection_id, bin.created_at, bin.id)}
    }


def sort_key(bin: Bin) -> str:
    """Where ``bin`` sits in its listing: the cursor of the page after it."""
    return keys.listing_sk(bin.created_at, bin.id)


def page(account_id: str, collection_id: str | None, ascending: bool, after: str | None) -> list[Listed]:
    """Up to PAGE_SIZE bins of the listing, strictly after the sort key ``after`` in the
    requested order (from the start when None): one Query."""
    condition = "pk = :pk"
    values: dict[str, Any] = {":pk": {"S": keys.listing_pk(account_id, collection_id)}}
    if after is not None:
        condition += " AND sk > :after" if ascending else " AND sk < :after"
        values[":after"] = {"S": after}
    response = call_or_unavailable(
        dynamodb().query,
        TableName=table(),
        KeyConditionExpression=condition,
        ExpressionAttributeValues=values,
        ScanIndexForward=ascending,
        Limit=PAGE_SIZE,
        ConsistentRead=True,
    )
    return [
        Listed(
            bin_id=item["binId"]["S"],
            private=item["private"]["BOOL"],
            name=item["name"]["S"] if "name" in item else None,
            created_at=item["createdAt"]["S"],
        )
        for item in response.get("Items", [])
    ]


def backfill(attempts: int = 5) -> dict[str, int]:
    """Give every bin without one its listing item (bins stored before listings existed).

    An operator tool (``binvault-admin backfill-listing``): one Scan of the base items, then
    per bin one transaction that puts its listing item on condition that the base item is
    still at the revision read, so a bin deleted or renamed meanwhile never gets a stale
    one (it is read again). Idempotent: a second run rewrites the same items.
    """
    from botocore.exceptions import ClientError

    from binvault.dal.bins import get_bin

    counts = {"bins": 0, "written": 0, "gone": 0}
    kwargs: dict[str, Any] = {
        "TableName": table(),
        "FilterExpression": "sk = :bin",
        "ExpressionAttributeValues": {":bin": {"S": keys.BIN_SK}},
        "ProjectionExpression": "pk",
    }
    while True:
        page = call_or_unavailable(dynamodb().scan, **kwargs)
        for found in page.get("Items", []):
            counts["bins"] += 1
            bin_id = keys.bin_id_from_pk(found["pk"]["S"])
            for _ in range(attempts):
                base = get_bin(bin_id)
                if base is None:
                    counts["gone"] += 1
                    break
                check = {
                    "ConditionCheck": {
                        "TableName": table(),
                        "Key": keys.bin_key(bin_id),
                        "ConditionExpression": "rev = :rev",
                        "ExpressionAttributeValues": {":rev": {"N": str(base.rev)}},
                    }
                }
                try:
                    call_or_unavailable(dynamodb().transact_write_items, TransactItems=[check, put(base)])
                except ClientError as error:
                    if "ConditionalCheckFailed" in cancellation_codes(error):
                        continue  # the bin changed since it was read: read it again
                    raise
                counts["written"] += 1
                break
        if "LastEvaluatedKey" not in page:
            return counts
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
