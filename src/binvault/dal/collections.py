"""Collections: an account's named groups of bins, each with at most one schema doc.

A collection lives in its account's partition (``dal.keys``), so another account's id is
simply not found. The per-account limit (``MAX_COLLECTIONS``) and
creating exactly once are ``dal.capped``'s. Renaming and attaching or detaching a schema
doc are stamped conditional updates (``dal.stamped``).
"""

from __future__ import annotations

from typing import Any

from binvault.dal import capped, keys, stamped
from binvault.dal.client import get_item
from binvault.exceptions import TooManyCollections
from binvault.models.bins import Collection


def _from_item(item: dict[str, Any]) -> Collection:
    return Collection(
        id=item["sk"]["S"].removeprefix(keys.COLLECTION_PREFIX),
        owner=item["pk"]["S"].removeprefix(keys.ACCOUNT_PREFIX),
        name=item["name"]["S"],
        created_at=item["createdAt"]["S"],
        schema_doc_id=item["schemaDocId"]["S"] if "schemaDocId" in item else None,
        rev=int(item["rev"]["N"]),
    )


def get(account_id: str, collection_id: str) -> Collection | None:
    item = get_item(keys.collection_key(account_id, collection_id))
    return _from_item(item) if item else None


def list_all(account_id: str) -> list[Collection]:
    """The account's collections, oldest first (one Query: at most MAX_COLLECTIONS small items)."""
    found = [_from_item(item) for item in capped.partition_items(account_id, keys.COLLECTION_PREFIX)]
    return sorted(found, key=lambda c: (c.created_at, c.id))


def create(collection: Collection, limit: int) -> None:
    """Store a new collection; TooManyCollections when the account already has ``limit``;
    StaleWrite when the id is taken (a collision: the caller draws another)."""
    item = {
        **keys.collection_key(collection.owner, collection.id),
        "type": {"S": "collection"},
        "name": {"S": collection.name},
        "createdAt": {"S": collection.created_at},
        "rev": {"N": str(collection.rev)},
        "w": stamped.first_stamp(collection.rev),
    }
    capped.create(item, keys.collections_counter_key(collection.owner), "collections", limit, TooManyCollections(limit))


def rename(collection: Collection, name: str) -> None:
    """StaleWrite when the collection changed since it was read."""
    stamped.update(
        keys.collection_key(collection.owner, collection.id),
        collection.rev,
        "#name = :name",
        {"#name": "name"},
        {":name": {"S": name}},
    )


def set_schema_doc(collection: Collection, schema_doc_id: str | None) -> None:
    """Attach ``schema_doc_id`` (replacing any other), or detach with None."""
    key = keys.collection_key(collection.owner, collection.id)
    if schema_doc_id is None:
        stamped.update(key, collection.rev, "", {}, {}, remove="schemaDocId")
    else:
        stamped.update(key, collection.rev, "schemaDocId = :doc", {}, {":doc": {"S": schema_doc_id}})
