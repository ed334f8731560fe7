"""Schema docs: JSON Schemas an account attaches to its collections.

A schema doc lives in its account's partition (``dal.keys``): another account's id is not
found. Its schema is stored as the JSON text the API accepted (at most
``logic.schema_docs.MAX_SCHEMA_BYTES``, far below the 400 KB item limit). Schema docs are
never deleted (JSONBin has no such API).

Exactly once under a lost response: creating one puts a fresh random id (a retry that finds
it is our own first attempt); updates are stamped conditional updates (``dal.stamped``).
"""

from __future__ import annotations

from typing import Any

from binvault.dal import keys, stamped
from binvault.dal.client import call_or_unavailable, dynamodb, error_code, get_item, table
from binvault.exceptions import StaleWrite
from binvault.models.bins import SchemaDoc


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


def create(doc: SchemaDoc) -> None:
    from botocore.exceptions import ClientError

    try:
        call_or_unavailable(
            dynamodb().put_item,
            TableName=table(),
            Item={
                **keys.schema_doc_key(doc.owner, doc.id),
                "type": {"S": "schemaDoc"},
                "name": {"S": doc.name},
                "createdAt": {"S": doc.created_at},
                "schema": {"S": doc.schema},
                "rev": {"N": str(doc.rev)},
                "w": stamped.first_stamp(doc.rev),
            },
            ConditionExpression="attribute_not_exists(pk)",
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
    except ClientError as error:
        if error_code(error) != "ConditionalCheckFailedException":
            raise
        if (error.response.get("Item") or {}).get("createdAt", {}).get("S") == doc.created_at:
            return  # our own first attempt (a fresh random id), whose response was lost
        raise StaleWrite() from error


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
