"""Reading a bin's items straight from a table (checks beside the API, never through it)."""

from __future__ import annotations

from typing import Any


def _bin_query(table: str, bin_id: str) -> dict[str, Any]:
    return {
        "TableName": table,
        "KeyConditionExpression": "pk = :pk",
        "ExpressionAttributeValues": {":pk": {"S": f"BIN#{bin_id}"}},
        "ConsistentRead": True,
    }


def bin_items(client: Any, table: str, bin_id: str) -> list[dict[str, Any]]:
    """Every item of one bin (base and versions, any generation), all pages."""
    items: list[dict[str, Any]] = []
    request = _bin_query(table, bin_id)
    while True:
        page = client.query(**request)
        items.extend(page["Items"])
        if "LastEvaluatedKey" not in page:
            return items
        request["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def bin_item_count(client: Any, table: str, bin_id: str) -> int:
    """How many items one bin has in the table (base and versions)."""
    return int(client.query(**_bin_query(table, bin_id), Select="COUNT")["Count"])
