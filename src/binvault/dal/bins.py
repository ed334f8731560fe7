"""Bins and their versions: reads, the conditional writes, and the cut-over.

Every write is conditional on the bin's ``rev`` as it was read, so a write computed from a
stale read never lands: it raises StaleWrite and the use case retries from fresh state.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from binvault.dal import keys
from binvault.dal.client import (
    TRANSIENT_CANCELLATION_REASONS,
    call,
    cancellation_codes,
    dynamodb,
    error_code,
    table,
    transient_faults_as_unavailable,
)
from binvault.exceptions import StaleWrite, WriteConflict
from binvault.models.bins import Bin, StoredRecord, Version

_REV_MATCHES = "rev = :rev"


def _bin_from_item(item: dict[str, Any]) -> Bin:
    return Bin(
        id=keys.bin_id_from_pk(item["pk"]["S"]),
        owner=item["owner"]["S"],
        private=item["private"]["BOOL"],
        name=item["name"]["S"] if "name" in item else None,
        created_at=item["createdAt"]["S"],
        record=StoredRecord(item["record"]),
        generation=int(item["generation"]["N"]),
        version_count=int(item["versionCount"]["N"]),
        rev=int(item["rev"]["N"]),
    )


def get_bin(bin_id: str) -> Bin | None:
    item = call(dynamodb().get_item, TableName=table(), Key=keys.bin_key(bin_id), ConsistentRead=True).get("Item")
    return _bin_from_item(item) if item else None


def get_version(bin_id: str, generation: int, number: int) -> Version | None:
    item = call(
        dynamodb().get_item,
        TableName=table(),
        Key=keys.version_key(bin_id, generation, number),
        ConsistentRead=True,
    ).get("Item")
    if not item:
        return None
    return Version(
        bin_id=bin_id,
        generation=generation,
        number=number,
        created_at=item["createdAt"]["S"],
        record=StoredRecord(item["record"]),
    )


@contextmanager
def _conditional() -> Iterator[None]:
    """Translate a lost condition into StaleWrite and a transaction conflict into WriteConflict."""
    from botocore.exceptions import ClientError

    with transient_faults_as_unavailable():
        try:
            yield
        except ClientError as error:
            code = error_code(error)
            reasons = cancellation_codes(error)
            if code == "ConditionalCheckFailedException" or "ConditionalCheckFailed" in reasons:
                raise StaleWrite() from error
            if code == "TransactionConflictException" or set(reasons) & TRANSIENT_CANCELLATION_REASONS:
                # a conflict, or a throttled item (botocore does not retry cancelled transactions)
                raise WriteConflict() from error
            raise


def _transact(items: list[dict[str, Any]]) -> None:
    with _conditional():
        # The token makes botocore's own retries of this call idempotent for 10 minutes:
        # a retry after a lost response cannot apply the transaction twice.
        dynamodb().transact_write_items(TransactItems=items, ClientRequestToken=str(uuid.uuid4()))


def put_new_bin(bin: Bin) -> None:
    item: dict[str, Any] = {
        **keys.bin_key(bin.id),
        "type": {"S": "bin"},
        "owner": {"S": bin.owner},
        "private": {"BOOL": bin.private},
        "createdAt": {"S": bin.created_at},
        "record": bin.record.attribute,
        "generation": {"N": str(bin.generation)},
        "versionCount": {"N": str(bin.version_count)},
        "rev": {"N": str(bin.rev)},
    }
    if bin.name is not None:
        item["name"] = {"S": bin.name}
    with _conditional():
        dynamodb().put_item(TableName=table(), Item=item, ConditionExpression="attribute_not_exists(pk)")


def _update_once(update: dict[str, Any]) -> None:
    """A conditional UpdateItem that a botocore retry cannot turn into a false StaleWrite.

    If an attempt is applied but its response is lost (a read timeout), botocore's retry
    fails the ``rev`` condition against our own write. Each write carries a fresh token;
    a failed condition whose current item carries it is our write, already applied.
    """
    from botocore.exceptions import ClientError

    token = uuid.uuid4().hex
    update = {
        **update,
        "UpdateExpression": update["UpdateExpression"].replace("SET ", "SET writeToken = :token, ", 1),
        "ExpressionAttributeValues": {**update["ExpressionAttributeValues"], ":token": {"S": token}},
        "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
    }
    with _conditional():
        try:
            dynamodb().update_item(**update)
        except ClientError as error:
            current = error.response.get("Item") or {}
            if current.get("writeToken", {}).get("S") != token:
                raise


def _base_update(base: Bin, set_clause: str, values: dict[str, Any], remove: str) -> dict[str, Any]:
    names = {"#record": "record"} if "#record" in set_clause else {}
    return {
        **({"ExpressionAttributeNames": names} if names else {}),
        "TableName": table(),
        "Key": keys.bin_key(base.id),
        "UpdateExpression": f"SET rev = :next, {set_clause} {remove}".rstrip(),
        "ConditionExpression": _REV_MATCHES,
        "ExpressionAttributeValues": {
            ":rev": {"N": str(base.rev)},
            ":next": {"N": str(base.rev + 1)},
            **values,
        },
    }


def _version_put(base: Bin, number: int, record: StoredRecord, now: str) -> dict[str, Any]:
    return {
        "Put": {
            "TableName": table(),
            "Item": {
                **keys.version_key(base.id, base.generation, number),
                "type": {"S": "version"},
                "generation": {"N": str(base.generation)},
                "version": {"N": str(number)},
                "createdAt": {"S": now},
                "record": record.attribute,
            },
        }
    }


def append_version(base: Bin, record: StoredRecord, now: str) -> int:
    """Add version ``versionCount + 1`` and count it, in one transaction. Returns its number."""
    number = base.version_count + 1
    update = _base_update(base, "versionCount = :count", {":count": {"N": str(number)}}, "REMOVE purgeBelow")
    _transact([{"Update": update}, _version_put(base, number, record, now)])
    return number


def replace_latest(base: Bin, record: StoredRecord, now: str) -> None:
    """Overwrite the latest record in place: the newest version, or the base record."""
    if base.version_count == 0:
        _update_once(_base_update(base, "#record = :record", {":record": record.attribute}, "REMOVE purgeBelow"))
        return
    update = _base_update(
        base, "versionCount = :count", {":count": {"N": str(base.version_count)}}, "REMOVE purgeBelow"
    )
    _transact([{"Update": update}, _version_put(base, base.version_count, record, now)])


def cut_over(base: Bin, preserved: StoredRecord | None) -> None:
    """Move the bin to a new, empty generation in one conditional write.

    Every version of the old generation becomes unreadable at that instant, whatever
    their number; ``purgeBelow`` is what the stream filter wakes the purge worker on.
    With ``preserved`` the latest version's record becomes the base record in the same
    write. A single-item conditional write is atomic by itself: a one-item transaction
    would cost twice the write units for the same guarantee.
    """
    new_generation = {"N": str(base.generation + 1)}
    set_clause = "generation = :generation, versionCount = :zero, purgeBelow = :generation"
    values: dict[str, Any] = {":generation": new_generation, ":zero": {"N": "0"}}
    if preserved is not None:
        set_clause += ", #record = :record"
        values[":record"] = preserved.attribute
    _update_once(_base_update(base, set_clause, values, ""))


def delete_bin(base: Bin) -> None:
    """Remove the base item; the stream's REMOVE record makes the purge delete every version."""
    from botocore.exceptions import ClientError

    with _conditional():
        try:
            dynamodb().delete_item(
                TableName=table(),
                Key=keys.bin_key(base.id),
                ConditionExpression=_REV_MATCHES,
                ExpressionAttributeValues={":rev": {"N": str(base.rev)}},
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as error:
            # Gone, on a retry: an earlier attempt deleted it and its response was lost
            retried = error.response.get("ResponseMetadata", {}).get("RetryAttempts", 0) > 0
            if not (
                retried and error_code(error) == "ConditionalCheckFailedException" and "Item" not in error.response
            ):
                raise
