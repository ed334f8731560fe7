"""Accounts, master-key hashes and the request quota.

The quota decrement is also the key check: it is conditional on the account's *current*
key hash, so a rotated key is refused by the very write that would charge it, and a
warm container may cache "hash -> account id" without delaying revocation.
"""

from __future__ import annotations

from typing import Any

from binvault.dal import keys
from binvault.dal.client import call, dynamodb, error_code, table
from binvault.exceptions import InvalidMasterKey, QuotaExhausted
from binvault.models.bins import Account
from binvault.models.settings import get_settings


class AccountNotFound(LookupError):
    pass


def _account_from_item(item: dict[str, Any]) -> Account:
    return Account(
        id=item["pk"]["S"].removeprefix(keys.ACCOUNT_PREFIX),
        key_hash=item["keyHash"]["S"],
        requests_remaining=int(item["requestsRemaining"]["N"]),
        created_at=item["createdAt"]["S"],
    )


def account_id_for_key(key_hash: str) -> str | None:
    # Eventually consistent: a key created a moment ago may be missed once, and the
    # decrement's condition is what actually decides whether the key is valid.
    item = call(dynamodb().get_item, TableName=table(), Key=keys.master_key_key(key_hash)).get("Item")
    return item["accountId"]["S"] if item else None


def get_account(account_id: str) -> Account:
    item = call(dynamodb().get_item, TableName=table(), Key=keys.account_key(account_id), ConsistentRead=True).get(
        "Item"
    )
    if not item:
        raise AccountNotFound(account_id)
    return _account_from_item(item)


def consume_request(account_id: str, key_hash: str | None) -> None:
    """Atomically take one request from the quota.

    ``key_hash`` None charges the owner of a public bin read without a key.
    Raises InvalidMasterKey when the key is no longer the account's, QuotaExhausted when
    nothing is left; a refused request consumes nothing.
    """
    from botocore.exceptions import ClientError

    condition = "attribute_exists(pk) AND requestsRemaining >= :one"
    values: dict[str, Any] = {":one": {"N": "1"}}
    if key_hash is not None:
        condition += " AND keyHash = :hash"
        values[":hash"] = {"S": key_hash}
    try:
        call(
            dynamodb().update_item,
            TableName=table(),
            Key=keys.account_key(account_id),
            UpdateExpression="SET requestsRemaining = requestsRemaining - :one",
            ConditionExpression=condition,
            ExpressionAttributeValues=values,
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
    except ClientError as error:
        if error_code(error) != "ConditionalCheckFailedException":
            raise
        item = error.response.get("Item")
        if item is None:  # not every emulator returns ALL_OLD: look it up on this rare path
            item = call(
                dynamodb().get_item, TableName=table(), Key=keys.account_key(account_id), ConsistentRead=True
            ).get("Item")
        if not item or (key_hash is not None and item["keyHash"]["S"] != key_hash):
            raise InvalidMasterKey() from error
        raise QuotaExhausted(get_settings().purchase_url) from error


def create_account(account_id: str, key_hash: str, requests: int, now: str) -> None:
    call(
        dynamodb().transact_write_items,
        TransactItems=[
            {
                "Put": {
                    "TableName": table(),
                    "Item": {
                        **keys.account_key(account_id),
                        "type": {"S": "account"},
                        "keyHash": {"S": key_hash},
                        "requestsRemaining": {"N": str(requests)},
                        "createdAt": {"S": now},
                    },
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            },
            _put_key(account_id, key_hash, now),
        ],
    )


def _put_key(account_id: str, key_hash: str, now: str) -> dict[str, Any]:
    return {
        "Put": {
            "TableName": table(),
            "Item": {
                **keys.master_key_key(key_hash),
                "type": {"S": "key"},
                "accountId": {"S": account_id},
                "createdAt": {"S": now},
            },
            "ConditionExpression": "attribute_not_exists(pk)",
        }
    }


def replace_key(account: Account, new_hash: str, now: str) -> None:
    """Swap the account's key in one transaction: the old key stops working at once."""
    name = table()
    call(
        dynamodb().transact_write_items,
        TransactItems=[
            {
                "Update": {
                    "TableName": name,
                    "Key": keys.account_key(account.id),
                    "UpdateExpression": "SET keyHash = :new",
                    "ConditionExpression": "keyHash = :old",
                    "ExpressionAttributeValues": {
                        ":new": {"S": new_hash},
                        ":old": {"S": account.key_hash},
                    },
                }
            },
            {"Delete": {"TableName": name, "Key": keys.master_key_key(account.key_hash)}},
            _put_key(account.id, new_hash, now),
        ],
    )


def set_quota(account_id: str, requests: int) -> None:
    call(
        dynamodb().update_item,
        TableName=table(),
        Key=keys.account_key(account_id),
        UpdateExpression="SET requestsRemaining = :n",
        ConditionExpression="attribute_exists(pk)",
        ExpressionAttributeValues={":n": {"N": str(requests)}},
    )
