"""Access keys: secrets an account hands out with per-route permissions (X-Access-Key).

Each key is stored twice, written in one transaction:

- its hash's item ``KEY#<sha256>`` (accountId, accessKeyId, permissions): what a request's
  key is looked up by, as for master keys (the key itself is never stored);
- an entry of the account item's ``accessKeys`` map (id -> hash, name, permissions,
  createdAt, last4): the list, the per-account limit, and revocation; and, in the same
  transaction, its id in every quota shard's ``accessKeys`` (id -> true). A quota charge
  made with an access key is conditional on its id in the shard it charges
  (``dal.accounts``), so deleting the key refuses its very next request, however long a
  container caches the lookup.

Both writes are exactly-once under a lost response, like every write (see dal.accounts).
"""

from __future__ import annotations

import uuid
from typing import Any

from binvault.dal import keys
from binvault.dal.accounts import MAPS, add_maps, mirror, shards_condition
from binvault.dal.client import call_or_unavailable, cancellation_codes, dynamodb, error_code, get_item, retried, table
from binvault.exceptions import AccessKeyNotFound, InvalidMasterKey, TooManyAccessKeys
from binvault.models.bins import PERMISSIONS, AccessKey


def _entry_to_key(key_id: str, entry: dict[str, Any]) -> AccessKey:
    fields = entry["M"]
    allowed = frozenset(p for p in PERMISSIONS if fields["permissions"]["M"][p]["BOOL"])
    return AccessKey(key_id, fields["name"]["S"], allowed, fields["createdAt"]["S"], fields["last4"]["S"])


def _permissions(allowed: frozenset[str]) -> dict[str, Any]:
    return {"M": {p: {"BOOL": p in allowed} for p in PERMISSIONS}}


def _transact(items: list[dict[str, Any]]) -> None:
    # The token makes AWS answer a retry within ten minutes with the first attempt's result.
    call_or_unavailable(dynamodb().transact_write_items, TransactItems=items, ClientRequestToken=str(uuid.uuid4()))


def list_keys(account_id: str) -> list[AccessKey]:
    item = get_item(keys.account_key(account_id)) or {}
    entries = item.get("accessKeys", {}).get("M", {})
    return sorted((_entry_to_key(k, v) for k, v in entries.items()), key=lambda key: (key.created_at, key.id))


def create(account_id: str, key_hash: str, key: AccessKey, limit: int) -> None:
    """Store a new access key; TooManyAccessKeys when the account already has ``limit``."""
    from botocore.exceptions import ClientError

    entry = {
        "M": {
            "hash": {"S": key_hash},
            "name": {"S": key.name},
            "permissions": _permissions(key.permissions),
            "createdAt": {"S": key.created_at},
            "last4": {"S": key.last4},
        }
    }
    account = get_item(keys.account_key(account_id)) or {}
    shards = int(account.get("shards", {}).get("N", "0"))
    values = {":entry": entry, ":limit": {"N": str(limit)}}
    condition = "attribute_exists(pk) AND size(accessKeys) < :limit AND attribute_not_exists(accessKeys.#kid)"
    items = [
        {
            "Update": {
                "TableName": table(),
                "Key": keys.account_key(account_id),
                "UpdateExpression": "SET accessKeys.#kid = :entry",
                "ConditionExpression": condition + " AND " + shards_condition(shards, values),
                "ExpressionAttributeNames": {"#kid": key.id},
                "ExpressionAttributeValues": values,
                "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
            }
        },
        {
            "Put": {
                "TableName": table(),
                "Item": {
                    **keys.master_key_key(key_hash),
                    "type": {"S": "accessKey"},
                    "accountId": {"S": account_id},
                    "accessKeyId": {"S": key.id},
                    "permissions": _permissions(key.permissions),
                    "createdAt": {"S": key.created_at},
                },
                "ConditionExpression": "attribute_not_exists(pk)",
            }
        },
        *mirror(account_id, shards, "SET accessKeys.#kid = :yes", {"#kid": key.id}, {":yes": {"BOOL": True}}),
    ]
    for _ in range(2):
        try:
            call_or_unavailable(
                dynamodb().transact_write_items, TransactItems=items, ClientRequestToken=str(uuid.uuid4())
            )
            return
        except ClientError as error:
            if cancellation_codes(error)[:1] != ["ConditionalCheckFailed"]:
                raise
            old = (error.response.get("CancellationReasons") or [{}])[0].get("Item") or {}
            held = old.get("accessKeys", {}).get("M", {})
            if held.get(key.id, {}).get("M", {}).get("hash", {}).get("S") == key_hash:
                return  # our own first attempt, whose response was lost
            if not old:
                raise InvalidMasterKey() from error
            if "accessKeys" not in old or not set(old) >= MAPS:
                add_maps(account_id)
                continue
            raise TooManyAccessKeys(limit) from error
    raise AssertionError("unreachable: the maps were added")


def delete(account_id: str, key_id: str) -> AccessKey:
    """Revoke an access key at once; AccessKeyNotFound when the account has no such key."""
    from botocore.exceptions import ClientError

    item = get_item(keys.account_key(account_id)) or {}
    entry = item.get("accessKeys", {}).get("M", {}).get(key_id)
    if entry is None:
        raise AccessKeyNotFound()
    key_hash = entry["M"]["hash"]["S"]
    shards = int(item.get("shards", {}).get("N", "0"))
    values: dict[str, Any] = {}
    condition = "attribute_exists(accessKeys.#kid) AND " + shards_condition(shards, values)
    update: dict[str, Any] = {
        "TableName": table(),
        "Key": keys.account_key(account_id),
        "UpdateExpression": "REMOVE accessKeys.#kid",
        "ConditionExpression": condition,
        "ExpressionAttributeNames": {"#kid": key_id},
    }
    if values:
        update["ExpressionAttributeValues"] = values
    items = [
        {"Update": update},
        {"Delete": {"TableName": table(), "Key": keys.master_key_key(key_hash)}},
        *mirror(account_id, shards, "REMOVE accessKeys.#kid", {"#kid": key_id}, {}),
    ]
    try:
        _transact(items)
    except ClientError as error:
        # Gone on a retry: our own first attempt removed it (its response was lost); gone on
        # the first attempt: a concurrent delete of the same key won.
        if error_code(error) == "TransactionCanceledException" and cancellation_codes(error)[:1] == [
            "ConditionalCheckFailed"
        ]:
            if retried(error):
                return _entry_to_key(key_id, entry)
            raise AccessKeyNotFound() from error
        raise
    return _entry_to_key(key_id, entry)
