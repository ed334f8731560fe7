"""Schema docs: JSON Schemas an account attaches to its collections.

A schema doc lives in its account's partition (``dal.keys``): another account's id is not
found. Its schema is stored as the JSON text the API accepted (at most
``logic.schema_docs.MAX_SCHEMA_BYTES``, far below the 400 KB item limit). Schema docs are
never deleted (JSONBin has no such API).

The per-account limit (``MAX_SCHEMA_DOCS``) and creating exactly once are ``dal.capped``'s;
updates are stamped conditional updates (``dal.stamped``).
"""

from __future__ import annotations

from typing import Any

from binvault.dal import capped, keys, stamped
from binvault.dal.client import get_item
from binvault.exceptions import TooManySchemaDocs
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


def create(doc: SchemaDoc, limit: int) -> None:
    """Store a new schema doc; TooManySchemaDocs when the account already has ``limit``;
    StaleWrite when the id is taken (a collision: the caller draws another)."""
    item = {
        **keys.schema_doc_key(doc.owner, doc.id),
        "type": {"S": "schemaDoc"},
        "name": {"S": doc.name},
        "createdAt": {"S": doc.created_at},
        "schema": {"S": doc.schema},
        "rev": {"N": str(doc.rev)},
        "w": stamped.first_stamp(doc.rev),
    }
    capped.create(item, keys.schema_docs_counter_key(doc.owner), "schemaDocs", limit, TooManySchemaDocs(limit))


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
