"""What an account may have only so many of (collections, schema docs), in its partition.

Creating one puts the new item and raises the account's counter item in one transaction,
conditional on the counter staying within the limit: exact under any concurrency. Neither
kind is ever deleted (JSONBin has no such API), so a counter never falls.

Exactly once under a lost response: the new item's id is fresh and random, so a retry of the
create that finds an item with that id and the same ``createdAt`` is our own first attempt
(the transaction moved the counter once with it); another item under that id is a collision
(``StaleWrite``: the caller draws another id). Concurrent creates of one account conflict on
its counter (AWS cancels one transaction with TransactionConflict): a cancelled attempt
applied nothing, and is retried with jittered backoff.
"""

from __future__ import annotations

import random
import time
import uuid
from typing import Any

from binvault.dal import keys
from binvault.dal.client import (
    TRANSIENT_CANCELLATION_REASONS,
    call_or_unavailable,
    cancellation_codes,
    dynamodb,
    error_code,
    table,
    transient_faults_as_unavailable,
)
from binvault.exceptions import ServiceUnavailable, StaleWrite

CREATE_ATTEMPTS = 8


def create(
    item: dict[str, Any], counter_key: dict[str, Any], counter_type: str, limit: int, too_many: Exception
) -> None:
    """Put ``item`` (new: its ``createdAt`` tells our own lost attempt from a collision) and
    raise the counter at ``counter_key``; ``too_many`` when the account already has ``limit``."""
    from botocore.exceptions import ClientError

    items = [
        {
            "Put": {
                "TableName": table(),
                "Item": item,
                "ConditionExpression": "attribute_not_exists(pk)",
                "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
            }
        },
        {
            "Update": {
                "TableName": table(),
                "Key": counter_key,
                "UpdateExpression": "SET #count = if_not_exists(#count, :zero) + :one, #type = :type",
                "ConditionExpression": "attribute_not_exists(#count) OR #count < :limit",
                "ExpressionAttributeNames": {"#count": "count", "#type": "type"},
                "ExpressionAttributeValues": {
                    ":zero": {"N": "0"},
                    ":one": {"N": "1"},
                    ":limit": {"N": str(limit)},
                    ":type": {"S": counter_type},
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
                    if old.get("createdAt") == item["createdAt"]:
                        return  # our own first attempt, whose response was lost
                    raise StaleWrite() from error
                if codes[1:2] == ["ConditionalCheckFailed"]:
                    raise too_many from error
                conflict = error_code(error) == "TransactionConflictException"
                if not (
                    conflict or (set(codes) & TRANSIENT_CANCELLATION_REASONS and "ConditionalCheckFailed" not in codes)
                ):
                    raise
        time.sleep(random.uniform(0, min(0.5, 0.01 * 2**attempt)))
    raise ServiceUnavailable()


def partition_items(account_id: str, prefix: str) -> list[dict[str, Any]]:
    """The account's items whose sort key starts with ``prefix``, every page (strongly consistent)."""
    found: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {
        "TableName": table(),
        "KeyConditionExpression": "pk = :pk AND begins_with(sk, :prefix)",
        "ExpressionAttributeValues": {":pk": {"S": keys.ACCOUNT_PREFIX + account_id}, ":prefix": {"S": prefix}},
        "ConsistentRead": True,
    }
    while True:
        page = call_or_unavailable(dynamodb().query, **kwargs)
        found.extend(page.get("Items", []))
        if "LastEvaluatedKey" not in page:
            return found
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
