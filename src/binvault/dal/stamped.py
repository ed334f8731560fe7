"""One conditional, stamped UpdateItem of a small item that has a ``rev`` (a collection, a
schema doc): applied only to the revision the caller read, exactly once under a lost
response, by the same stamp ring as a bin's base item (``dal.bins.Stamp``)."""

from __future__ import annotations

from typing import Any

from binvault.dal.bins import Stamp
from binvault.dal.client import dynamodb, error_code, retried, table, transient_faults_as_unavailable
from binvault.exceptions import StaleWrite


def update(
    key: dict[str, Any], rev: int, set_clause: str, names: dict[str, str], values: dict[str, Any], remove: str = ""
) -> None:
    """``SET <set_clause> [REMOVE <remove>]`` on the item at revision ``rev``, moving it to ``rev + 1``.

    StaleWrite when the item changed since it was read (the caller re-reads and retries).
    """
    from botocore.exceptions import ClientError

    stamp = Stamp(rev + 1)
    clause = ", ".join(part for part in ("rev = :next, w.#slot = :stamp", set_clause) if part)
    with transient_faults_as_unavailable():
        try:
            dynamodb().update_item(
                TableName=table(),
                Key=key,
                UpdateExpression=f"SET {clause}" + (f" REMOVE {remove}" if remove else ""),
                ConditionExpression="rev = :rev",
                ExpressionAttributeNames={"#slot": stamp.slot, **names},
                ExpressionAttributeValues={
                    ":rev": {"N": str(rev)},
                    ":next": {"N": str(stamp.rev)},
                    ":stamp": {"S": stamp.value},
                    **values,
                },
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as error:
            if error_code(error) != "ConditionalCheckFailedException":
                raise
            if stamp.applied_to(error.response.get("Item"), retried(error)):
                return  # our own first attempt, whose response was lost
            raise StaleWrite() from error


def first_stamp(rev: int) -> dict[str, Any]:
    """The ``w`` attribute of an item created at revision ``rev``."""
    stamp = Stamp(rev)
    return {"M": {stamp.slot: {"S": stamp.value}}}
