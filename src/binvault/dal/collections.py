"""Collections: an account's named groups of bins, each with at most one schema doc.

A collection lives in its account's partition (``dal.keys``), so another account's id is
simply not found. The per-account limit (``MAX_COLLECTIONS``) is a counter item raised in
the same transaction that puts the collection, conditional on staying within the limit:
exact under any concurrency. Collections are never deleted (JSONBin has no such API).

Exactly once under a lost response: a collection's id is fresh and random, so a retry of
the create whose collection already exists is our own first attempt (the transaction put
the counter and the collection together, so the counter moved once too). Renaming and
attaching or detaching a schema doc are stamped conditional updates (``dal.stamped``).
"""

from __future__ import annotations

import random
import time
import uuid
from typing import Any

from binvault.dal import keys, stamped
from binvault.dal.client import (
    TRANSIENT_CANCELLATION_REASONS,
    call_or_unavailable,
    cancellation_codes,
    dynamodb,
    error_code,
    get_item,
    table,
    transient_faults_as_unavailable,
)
from binvault.exceptions import ServiceUnavailable, TooManyCollections
from binvault.models.bins import Collection

# Concurrent creates of one account's collections conflict on its counter item (AWS cancels
# one transaction with TransactionConflict): a cancelled attempt applied nothing, retry it.
CREATE_ATTEMPTS = 8


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
    found: list[Collection] = []
    kwargs: dict[str, Any] = {
        "TableName": table(),
        "KeyConditionExpression": "pk = :pk AND begins_with(sk, :prefix)",
        "ExpressionAttributeValues": {
            ":pk": {"S": keys.ACCOUNT_PREFIX + account_id},
            ":prefix": {"S": keys.COLLECTION_PREFIX},
        },
        "ConsistentRead": True,
    }
    while True:
        response = call_or_unavailable(dynamodb().query, **kwargs)
        found.extend(_from_item(item) for item in response.get("Items", []))
        if "LastEvaluatedKey" not in response:
            return sorted(found, key=lambda c: (c.created_at, c.id))
        kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]


def create(collection: Collection, limit: int) -> None:
    """Store a new collection; TooManyCollections when the account already has ``limit``."""
    from botocore.exceptions import ClientError

    items = [
        {
            "Put": {
                "TableName": table(),
                "Item": {
                    **keys.collection_key(collection.owner, collection.id),
                    "type": {"S": "collection"},
                    "name": {"S": collection.name},
                    "createdAt": {"S": collection.created_at},
                    "rev": {"N": str(collection.rev)},
                    "w": stamped.first_stamp(collection.rev),
                },
                "ConditionExpression": "attribute_not_exists(pk)",
                "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
            }
        },
        {
            "Update": {
                "TableName": table(),
                "Key": keys.collections_counter_key(collection.owner),
                "UpdateExpression": "SET #count = if_not_exists(#count, :zero) + :one, #type = :type",
                "ConditionExpression": "attribute_not_exists(#count) OR #count < :limit",
                "ExpressionAttributeNames": {"#count": "count", "#type": "type"},
                "ExpressionAttributeValues": {
                    ":zero": {"N": "0"},
                    ":one": {"N": "1"},
                    ":limit": {"N": str(limit)},
                    ":type": {"S": "collections"},
                },
            }
        },
    ]
    for attempt in range(CREATE_ATTEMPTS):
        with transient_faults_as_unavailable():
            try:
                dynamodb().transact_write_items(TransactItems=items, ClientRequestToken=str(uuid.uuid4()))
                return
            except ClientError as error:
                codes = cancellation_codes(error)
                if codes[:1] == ["ConditionalCheckFailed"]:
                    old = (error.response.get("CancellationReasons") or [{}])[0].get("Item") or {}
                    if old.get("createdAt", {}).get("S") == collection.created_at:
                        return  # our own first attempt (a fresh random id), whose response was lost
                if codes[1:2] == ["ConditionalCheckFailed"]:
                    raise TooManyCollections(limit) from error
                conflict = error_code(error) == "TransactionConflictException"
                if not (
                    conflict or (set(codes) & TRANSIENT_CANCELLATION_REASONS and "ConditionalCheckFailed" not in codes)
                ):
                    raise
        time.sleep(random.uniform(0, min(0.5, 0.01 * 2**attempt)))
    raise ServiceUnavailable()


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
