"""Schema docs: JSON Schemas an account attaches to its collections.

A schema doc lives in its account's partition (``dal.keys``): another account's id is not
found. Its schema is stored as the JSON text the API accepted (at most
``logic.schema_docs.MAX_SCHEMA_BYTES``, far below the 400 KB item limit). Schema docs are
never deleted (JSONBin has no such API).

The per-account limit (``MAX_SCHEMA_DOCS``) is a counter item raised in the same transaction
that puts the schema doc, conditional on staying within the limit (as ``dal.collections``):
exact under any concurrency, and a schema doc is never deleted, so the count never falls.

Exactly once under a lost response: creating one puts a fresh random id (a retry that finds
it is our own first attempt, and the transaction moved the counter once with it); updates
are stamped conditional updates (``dal.stamped``).
"""

from __future__ import annotations

import random
import time
import uuid
from typing import Any

from binvault.dal import keys, stamped
from binvault.dal.client import (
    TRANSIENT_CANCELLATION_REASONS,
    cancellation_codes,
    dynamodb,
    error_code,
    get_item,
    table,
    transient_faults_as_unavailable,
)
from binvault.exceptions import ServiceUnavailable, StaleWrite, TooManySchemaDocs
from binvault.models.bins import SchemaDoc

# Concurrent creates of one account's schema docs conflict on its counter item (AWS cancels
# one transaction with TransactionConflict): a cancelled attempt applied nothing, retry it.
CREATE_ATTEMPTS = 8


def from_item(item: dict[str, Any]) -> SchemaDoc:
    return SchemaDoc(
        id=item["sk"]["S"].removeprefix(keys.SCHEMA_DOC_PREFIX),
        owner=item["pk"]["S"].removeprefix(keys.ACCOUNT_PREFIX),
        name=item["name"]["S"],
        created_at=item["createdAt"]["S"],
        schema=item["schema"]["S"],
        rev=int(item["rev"]["N"]),
    )


def get(account_id: str, schema_doc_id: str) -> SchemaDoc | None:
    item = get_item(keys.schema_doc_key(account_id, schema_doc_id))
    return from_item(item) if item else None


def create(doc: SchemaDoc, limit: int) -> None:
    """Store a new schema doc; TooManySchemaDocs when the account already has ``limit``;
    StaleWrite when the id is taken (a collision: the caller draws another)."""
    from botocore.exceptions import ClientError

    items = [
        {
            "Put": {
                "TableName": table(),
                "Item": {
                    **keys.schema_doc_key(doc.owner, doc.id),
                    "type": {"S": "schemaDoc"},
                    "name": {"S": doc.name},
                    "createdAt": {"S": doc.created_at},
                    "schema": {"S": doc.schema},
                    "rev": {"N": str(doc.rev)},
                    "w": stamped.first_stamp(doc.rev),
                },
                "ConditionExpression": "attribute_not_exists(pk)",
                "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
            }
        },
        {
            "Update": {
                "TableName": table(),
                "Key": keys.schema_docs_counter_key(doc.owner),
                "UpdateExpression": "SET #count = if_not_exists(#count, :zero) + :one, #type = :type",
                "ConditionExpression": "attribute_not_exists(#count) OR #count < :limit",
                "ExpressionAttributeNames": {"#count": "count", "#type": "type"},
                "ExpressionAttributeValues": {
                    ":zero": {"N": "0"},
                    ":one": {"N": "1"},
                    ":limit": {"N": str(limit)},
                    ":type": {"S": "schemaDocs"},
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
                    if old.get("createdAt", {}).get("S") == doc.created_at:
                        return  # our own first attempt (a fresh random id), whose response was lost
                    raise StaleWrite() from error
                if codes[1:2] == ["ConditionalCheckFailed"]:
                    raise TooManySchemaDocs(limit) from error
                conflict = error_code(error) == "TransactionConflictException"
                if not (
                    conflict or (set(codes) & TRANSIENT_CANCELLATION_REASONS and "ConditionalCheckFailed" not in codes)
                ):
                    raise
        time.sleep(random.uniform(0, min(0.5, 0.01 * 2**attempt)))
    raise ServiceUnavailable()


def update(doc: SchemaDoc, schema: str | None, name: str | None) -> None:
    """Replace the schema and/or rename; StaleWrite when the doc changed since it was read."""
    clauses: list[str] = []
    names: dict[str, str] = {}
    values: dict[str, Any] = {}
    if schema is not None:
        clauses.append("#schema = :schema")
        names["#schema"] = "schema"
        values[":schema"] = {"S": schema}
    if name is not None:
        clauses.append("#name = :name")
        names["#name"] = "name"
        values[":name"] = {"S": name}
    stamped.update(keys.schema_doc_key(doc.owner, doc.id), doc.rev, ", ".join(clauses), names, values)
