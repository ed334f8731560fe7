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
from binvault.dal.client import call_or_unavailable, dynamodb, table
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
