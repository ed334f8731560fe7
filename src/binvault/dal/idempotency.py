"""Idempotency-Key records, in their own TTL table (``IdempotencyTable`` in template.yaml).

One item per (account, route, key):

- ``id``: SHA-256 of account, route and key (the key as the client sent it is not stored)
- ``status``: ``INPROGRESS`` while an attempt holds the key, ``COMPLETED`` once its write landed
- ``token``: which attempt holds it; ``request``: the request's fingerprint
- ``lockedUntil``: an ``INPROGRESS`` record older than this may be taken over (a crashed attempt)
- ``expiration``: the table's TTL attribute; an expired record counts as absent at once
- ``result``: ``COMPLETED`` only, the response's metadata and ETag as JSON. Never the record:
  a replay carries the same record (its fingerprint matches), so the body is rebuilt from it,
  and the item stays a few hundred bytes whatever the record's size.

The ``COMPLETED`` record is not written after the work: it is a companion item of the bin
write's own transaction (``Claim.companions``), conditional on this attempt still holding
the key. So the work and its record land together or not at all: a crash in between leaves
nothing to replay *and* nothing done, and an attempt that lost the key to a takeover cannot
write at all.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from typing import Any, NamedTuple

from binvault.dal.client import call_or_unavailable, dynamodb, error_code, transient_faults_as_unavailable
from binvault.models.settings import get_settings

INPROGRESS = "INPROGRESS"
COMPLETED = "COMPLETED"
# A stored result holds only metadata (ids, a name of at most 128 characters, numbers) and an
# ETag; this bound keeps every record far below DynamoDB's 400 KB item limit.
MAX_RESULT_BYTES = 4096
_NAMES = {"#status": "status", "#token": "token"}


class ResultTooLarge(ValueError):
    """A result to remember is larger than MAX_RESULT_BYTES (a programming error)."""


class Existing(NamedTuple):
    """The record another attempt left: a key still held, or a result to replay."""

    status: str
    request: str
    result: dict[str, Any] | None


class Claim(NamedTuple):
    """This attempt holds the key: its write must carry ``companions(result)``."""

    id: str
    token: str
    request: str
    expiration: int

    def companions(self, result: dict[str, Any]) -> list[dict[str, Any]]:
        """The transaction item that completes the record, atomically with the work."""
        encoded = json.dumps(result, separators=(",", ":"), ensure_ascii=False)
        if len(encoded.encode("utf-8")) > MAX_RESULT_BYTES:
            raise ResultTooLarge(f"{len(encoded)} bytes")
        return [
            {
                "Put": {
                    "TableName": get_settings().idempotency_table_name,
                    "Item": {
                        "id": {"S": self.id},
                        "status": {"S": COMPLETED},
                        "token": {"S": self.token},
                        "request": {"S": self.request},
                        "expiration": {"N": str(self.expiration)},
                        "result": {"S": encoded},
                    },
                    "ConditionExpression": "#status = :inprogress AND #token = :token",
                    "ExpressionAttributeNames": _NAMES,
                    "ExpressionAttributeValues": {":inprogress": {"S": INPROGRESS}, ":token": {"S": self.token}},
                }
            }
        ]


def record_id(account_id: str, route: str, idempotency_key: str) -> str:
    return hashlib.sha256(f"{account_id}\n{route}\n{idempotency_key}".encode()).hexdigest()


def _existing(item: dict[str, Any]) -> Existing:
    result = item.get("result", {}).get("S")
    return Existing(item["status"]["S"], item["request"]["S"], json.loads(result) if result else None)


def claim(record: str, request: str, now: int, lock_seconds: int, ttl_seconds: int) -> Claim | Existing:
    """Take the key (absent, expired, or held by an attempt that outlived its lock), or
    return the record that stands in the way."""
    from botocore.exceptions import ClientError

    mine = Claim(record, uuid.uuid4().hex, request, now + ttl_seconds)
    with transient_faults_as_unavailable():
        try:
            dynamodb().put_item(
                TableName=get_settings().idempotency_table_name,
                Item={
                    "id": {"S": record},
                    "status": {"S": INPROGRESS},
                    "token": {"S": mine.token},
                    "request": {"S": request},
                    "lockedUntil": {"N": str(now + lock_seconds)},
                    "expiration": {"N": str(mine.expiration)},
                },
                ConditionExpression=(
                    "attribute_not_exists(id) OR expiration < :now OR (#status = :inprogress AND lockedUntil < :now)"
                ),
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues={":now": {"N": str(now)}, ":inprogress": {"S": INPROGRESS}},
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as error:
            if error_code(error) != "ConditionalCheckFailedException":
                raise
            item = error.response.get("Item") or {}
            if item.get("token", {}).get("S") == mine.token:
                return mine  # our own first attempt, whose response was lost
            return _existing(item)
    return mine


def release(held: Claim) -> None:
    """Give the key back after a failed attempt, so that a retry runs at once (a no-op once
    the attempt's write completed the record, or another attempt took the key over)."""
    from botocore.exceptions import ClientError

    try:
        call_or_unavailable(
            dynamodb().delete_item,
            TableName=get_settings().idempotency_table_name,
            Key={"id": {"S": held.id}},
            ConditionExpression="#status = :inprogress AND #token = :token",
            ExpressionAttributeNames=_NAMES,
            ExpressionAttributeValues={":inprogress": {"S": INPROGRESS}, ":token": {"S": held.token}},
        )
    except ClientError as error:
        if error_code(error) != "ConditionalCheckFailedException":
            raise
