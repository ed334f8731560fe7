"""Bins and their versions: reads, the conditional writes, and the cut-over.

Every write is conditional on the bin's ``rev`` as it was read, so a write computed from a
stale read never lands: it raises StaleWrite and the use case retries from fresh state.

Every write is also exactly-once when DynamoDB applies it but its response is lost and
botocore sends it again: the retry then fails the ``rev`` condition against our own first
attempt. Each write stamps the base item with ``w.<rev mod 16> = "<rev>:<token>"`` (a ring
of the last 16 writes), and a failed condition whose item carries our stamp is our write,
already applied. Transactions also carry a ClientRequestToken, which makes AWS answer a
retry within ten minutes with the first attempt's result; the stamp covers the emulator,
which ignores the token, and anything older.

Records live out of the base item unless they are small (dal/keys.py, dal/records.py):
the base item holds a small base record itself, or ``recordAt``, the sk of the item that
holds it. A write that makes a record holder or an S3 object unreachable names it in the
base item's ``drop`` in that same atomic write; the stream wakes the purge on it
(``handlers/purge.py``), which deletes it. Nothing is deleted on the request path, and
nothing a readable pointer names is ever dropped: record ids are never reused.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from binvault.dal import keys, records
from binvault.dal.client import (
    TRANSIENT_CANCELLATION_REASONS,
    call_or_unavailable,
    cancellation_codes,
    dynamodb,
    error_code,
    get_item,
    retried,
    table,
    transient_faults_as_unavailable,
)
from binvault.exceptions import CompanionConditionFailed, ServiceUnavailable, StaleWrite, WriteConflict
from binvault.models.bins import Bin, StoredRecord, Version, VersionSummary

_REV_MATCHES = "rev = :rev"
WRITE_SLOTS = 16


@dataclass(frozen=True)
class Stamp:
    """Which write produced revision ``rev`` of a base item (see the module docstring)."""

    rev: int
    token: str = field(default_factory=lambda: uuid.uuid4().hex[:16])

    @property
    def slot(self) -> str:
        return str(self.rev % WRITE_SLOTS)

    @property
    def value(self) -> str:
        return f"{self.rev}:{self.token}"

    def applied_to(self, item: dict[str, Any] | None, after_retry: bool) -> bool:
        """Did a write whose condition failed against ``item`` land on an earlier attempt?

        Raises ServiceUnavailable in the one case that cannot be told apart: 16 later
        writes overwrote our slot while botocore's retry was on its way.
        """
        mark = ((item or {}).get("w", {}).get("M", {}).get(self.slot) or {}).get("S")
        if mark == self.value:
            return True
        if after_retry and mark is not None and int(mark.split(":", 1)[0]) > self.rev:
            raise ServiceUnavailable()
        return False


def _bin_from_item(item: dict[str, Any]) -> Bin:
    return Bin(
        id=keys.bin_id_from_pk(item["pk"]["S"]),
        owner=item["owner"]["S"],
        private=item["private"]["BOOL"],
        name=item["name"]["S"] if "name" in item else None,
        created_at=item["createdAt"]["S"],
        record=StoredRecord(item["record"]) if "record" in item else None,
        generation=int(item["generation"]["N"]),
        version_count=int(item["versionCount"]["N"]),
        rev=int(item["rev"]["N"]),
        collection_id=item["collectionId"]["S"] if "collectionId" in item else None,
        record_at=item["recordAt"]["S"] if "recordAt" in item else None,
        latest_blob=item["latestBlob"]["S"] if "latestBlob" in item else None,
    )


def get_bin(bin_id: str) -> Bin | None:
    item = get_item(keys.bin_key(bin_id))
    return _bin_from_item(item) if item else None


def base_record(base: Bin) -> StoredRecord | None:
    """The base record: from the base item itself, or from the item ``recordAt`` names
    (one more read). None when that item is gone: a concurrent write replaced the base
    record since ``base`` was read (read the bin again)."""
    if base.record is not None:
        return base.record
    assert base.record_at is not None
    item = get_item(keys.holder_key(base.id, base.record_at))
    return records.from_item(item) if item else None


def get_version(bin_id: str, generation: int, number: int) -> Version | None:
    item = get_item(keys.version_key(bin_id, generation, number))
    if not item:
        return None
    return Version(
        bin_id=bin_id,
        generation=generation,
        number=number,
        created_at=item["createdAt"]["S"],
        record=records.from_item(item),
    )


def version_page(bin_id: str, generation: int, below: int, limit: int) -> list[VersionSummary]:
    """Up to ``limit`` versions of ``generation`` numbered below ``below``, newest first: one
    Query of the bin's partition (a key range: other generations, the base item and record
    items are outside it). Fewer when the page reached DynamoDB's 1 MB a Query; the caller
    pages on from the last one."""
    if below <= 1:
        return []
    response = call_or_unavailable(
        dynamodb().query,
        TableName=table(),
        KeyConditionExpression="pk = :pk AND sk BETWEEN :low AND :high",
        ExpressionAttributeValues={
            ":pk": {"S": keys.bin_pk(bin_id)},
            ":low": {"S": keys.version_sk(generation, 1)},
            ":high": {"S": keys.version_sk(generation, below - 1)},
        },
        # The record is read only to tell its size (the read costs the whole item anyway).
        ProjectionExpression="#version, createdAt, #record, #blob, storedBytes",
        ExpressionAttributeNames={"#version": "version", "#record": "record", "#blob": "blob"},
        ScanIndexForward=False,
        Limit=limit,
        ConsistentRead=True,
    )
    return [
        VersionSummary(
            number=int(item["version"]["N"]),
            created_at=item["createdAt"]["S"],
            stored_bytes=records.stored_size(records.from_item(item)),
        )
        for item in response.get("Items", [])
    ]


@contextmanager
def _conflicts_retried() -> Iterator[None]:
    """Translate a transaction conflict or a throttled transaction item into WriteConflict."""
    from botocore.exceptions import ClientError

    with transient_faults_as_unavailable():
        try:
            yield
        except ClientError as error:
            reasons = cancellation_codes(error)
            if error_code(error) == "TransactionConflictException" or set(reasons) & TRANSIENT_CANCELLATION_REASONS:
                # botocore does not retry a cancelled transaction: with_fresh_state does
                raise WriteConflict() from error
            raise


def _write_base(kind: str, params: dict[str, Any], stamp: Stamp, companions: Sequence[dict[str, Any]] = ()) -> None:
    """Write the base item (``kind`` is "Put" or "Update") exactly once, and atomically with it
    the ``companions`` (other transaction items: a version, an idempotency record)."""
    from botocore.exceptions import ClientError

    params = {**params, "ReturnValuesOnConditionCheckFailure": "ALL_OLD"}
    with _conflicts_retried():
        try:
            if not companions:
                operation = dynamodb().put_item if kind == "Put" else dynamodb().update_item
                operation(**params)
            else:
                dynamodb().transact_write_items(
                    TransactItems=[{kind: params}, *companions], ClientRequestToken=str(uuid.uuid4())
                )
        except ClientError as error:
            if error_code(error) == "ConditionalCheckFailedException":
                if stamp.applied_to(error.response.get("Item"), retried(error)):
                    return
                raise StaleWrite() from error
            reasons = error.response.get("CancellationReasons") or []
            codes = cancellation_codes(error)
            if codes and codes[0] == "ConditionalCheckFailed":
                if stamp.applied_to(reasons[0].get("Item"), retried(error)):
                    return
                raise StaleWrite() from error
            if "ConditionalCheckFailed" in codes[1:]:
                raise CompanionConditionFailed() from error
            raise


def base_item(bin: Bin, stamp: Stamp) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The base item of ``bin`` stamped with ``stamp``, and the record item to write with it
    when the base item cannot hold the base record (also the importers' whole-bin write)."""
    item: dict[str, Any] = {
        **keys.bin_key(bin.id),
        "type": {"S": "bin"},
        "owner": {"S": bin.owner},
        "private": {"BOOL": bin.private},
        "createdAt": {"S": bin.created_at},
        "generation": {"N": str(bin.generation)},
        "versionCount": {"N": str(bin.version_count)},
        "rev": {"N": str(bin.rev)},
        "w": {"M": {stamp.slot: {"S": stamp.value}}},
    }
    if bin.name is not None:
        item["name"] = {"S": bin.name}
    if bin.collection_id is not None:
        item["collectionId"] = {"S": bin.collection_id}
    if bin.latest_blob is not None:
        item["latestBlob"] = {"S": bin.latest_blob}
    assert bin.record is not None
    holders: list[dict[str, Any]] = []
    if records.fits_base(bin.record):
        item["record"] = bin.record.attribute
    else:
        item["recordAt"] = {"S": keys.record_sk(bin.record.record_id)}
        holders.append(_record_put(bin.id, bin.record))
    return item, holders


def put_new_bin(bin: Bin, companions: Sequence[dict[str, Any]] = ()) -> None:
    """Create the base item; StaleWrite if the id is taken (by someone else)."""
    stamp = Stamp(bin.rev)
    item, holders = base_item(bin, stamp)
    params = {"TableName": table(), "Item": item, "ConditionExpression": "attribute_not_exists(pk)"}
    _write_base("Put", params, stamp, [*holders, *companions])


def replace_bin(old: Bin, new: Bin, companions: Sequence[dict[str, Any]] = ()) -> None:
    """Replace the whole bin in one conditional write, as a cut-over does: ``new`` (rev
    ``old.rev + 1``) names a generation above ``old``'s, whose versions are already written,
    so every old version becomes unreadable at that instant and the purge (woken by
    ``purgeBelow``) deletes them; the old base record's holder, if any, is dropped.
    StaleWrite when the bin changed since ``old`` was read."""
    assert new.rev == old.rev + 1 and new.generation > old.generation
    stamp = Stamp(new.rev)
    item, holders = base_item(new, stamp)
    item["purgeBelow"] = {"N": str(new.generation)}
    if old.record_at is not None:
        item["drop"] = {"S": old.record_at}
    params = {
        "TableName": table(),
        "Item": item,
        "ConditionExpression": _REV_MATCHES,
        "ExpressionAttributeValues": {":rev": {"N": str(old.rev)}},
    }
    _write_base("Put", params, stamp, [*holders, *companions])


def _base_update(base: Bin, set_clause: str, values: dict[str, Any], remove: str = "") -> tuple[dict[str, Any], Stamp]:
    """An UpdateItem of the base item to ``rev + 1``, conditional on ``rev``, stamped.
    ``remove`` is a comma-separated list of attributes to remove."""
    stamp = Stamp(base.rev + 1)
    names = {"#slot": stamp.slot, **({"#record": "record"} if "#record" in set_clause + remove else {})}
    update = {
        "TableName": table(),
        "Key": keys.bin_key(base.id),
        "UpdateExpression": f"SET rev = :next, w.#slot = :stamp, {set_clause}"
        + (f" REMOVE {remove}" if remove else ""),
        "ConditionExpression": _REV_MATCHES,
        "ExpressionAttributeNames": names,
        "ExpressionAttributeValues": {
            ":rev": {"N": str(base.rev)},
            ":next": {"N": str(stamp.rev)},
            ":stamp": {"S": stamp.value},
            **values,
        },
    }
    return update, stamp


def version_item(bin_id: str, generation: int, number: int, record: StoredRecord, created_at: str) -> dict[str, Any]:
    return {
        **keys.version_key(bin_id, generation, number),
        "type": {"S": "version"},
        "generation": {"N": str(generation)},
        "version": {"N": str(number)},
        "createdAt": {"S": created_at},
        **records.holder_attributes(record),
    }


def _version_put(base: Bin, number: int, record: StoredRecord, now: str) -> dict[str, Any]:
    return {"Put": {"TableName": table(), "Item": version_item(base.id, base.generation, number, record, now)}}


def _record_put(bin_id: str, record: StoredRecord) -> dict[str, Any]:
    """A record item: a base record the base item does not hold. Written once, never changed."""
    return {
        "Put": {
            "TableName": table(),
            "Item": {
                **keys.holder_key(bin_id, keys.record_sk(record.record_id)),
                "type": {"S": "record"},
                **records.holder_attributes(record),
            },
        }
    }


def _drop(set_clause: str, values: dict[str, Any], remove: list[str], dropped: list[str]) -> str:
    """Name what this write makes unreachable in ``drop`` (the purge deletes it), or clear
    a previous write's ``drop``."""
    if dropped:
        values[":drop"] = {"S": " ".join(dropped)}
        return set_clause + ", #drop = :drop"
    remove.append("#drop")
    return set_clause


def _latest_blob(set_clause: str, values: dict[str, Any], remove: list[str], record: StoredRecord | None) -> str:
    """Keep ``latestBlob`` (the latest version's S3 key, so that an in-place update knows
    which object it replaces without reading the version)."""
    if record is not None and record.blob is not None:
        values[":latestBlob"] = {"S": record.blob}
        return set_clause + ", latestBlob = :latestBlob"
    remove.append("latestBlob")
    return set_clause


def _names(update: dict[str, Any]) -> dict[str, Any]:
    if "#drop" in update["UpdateExpression"]:
        update["ExpressionAttributeNames"]["#drop"] = "drop"
    return update


def append_version(base: Bin, record: StoredRecord, now: str, companions: Sequence[dict[str, Any]] = ()) -> int:
    """Add version ``versionCount + 1`` and count it, in one transaction. Returns its number."""
    number = base.version_count + 1
    values: dict[str, Any] = {":count": {"N": str(number)}}
    remove = ["purgeBelow"]
    set_clause = _latest_blob("versionCount = :count", values, remove, record)
    set_clause = _drop(set_clause, values, remove, [])
    update, stamp = _base_update(base, set_clause, values, ", ".join(remove))
    _write_base("Update", _names(update), stamp, [_version_put(base, number, record, now), *companions])
    return number


def _set_base_record(
    base: Bin, set_clause: str, values: dict[str, Any], remove: list[str], dropped: list[str], record: StoredRecord
) -> tuple[str, list[dict[str, Any]]]:
    """The clauses that make ``record`` the base record (and the record item to write with
    them, when the base item cannot hold it); the holder it replaces is dropped."""
    if base.record_at is not None:
        dropped.append(base.record_at)
    if records.fits_base(record):
        values[":record"] = record.attribute
        remove.append("recordAt")
        return set_clause + ", #record = :record", []
    values[":recordAt"] = {"S": keys.record_sk(record.record_id)}
    remove.append("#record")
    return set_clause + ", recordAt = :recordAt", [_record_put(base.id, record)]


def replace_latest(base: Bin, record: StoredRecord, now: str, companions: Sequence[dict[str, Any]] = ()) -> None:
    """Overwrite the latest record in place: the newest version, or the base record."""
    values: dict[str, Any] = {":count": {"N": str(base.version_count)}}
    remove = ["purgeBelow"]
    dropped: list[str] = []
    set_clause = "versionCount = :count"
    if base.version_count == 0:
        set_clause, holders = _set_base_record(base, set_clause, values, remove, dropped, record)
    else:
        if base.latest_blob is not None and base.latest_blob != record.blob:
            dropped.append(base.latest_blob)  # the object the overwritten version pointed to
        set_clause = _latest_blob(set_clause, values, remove, record)
        holders = [_version_put(base, base.version_count, record, now)]
    set_clause = _drop(set_clause, values, remove, dropped)
    update, stamp = _base_update(base, set_clause, values, ", ".join(remove))
    _write_base("Update", _names(update), stamp, [*holders, *companions])


def cut_over(base: Bin, preserved: Version | None) -> None:
    """Move the bin to a new, empty generation in one conditional write.

    Every version of the old generation becomes unreadable at that instant, whatever
    their number; ``purgeBelow`` is what the stream filter wakes the purge worker on.
    With ``preserved`` (the latest version) its record becomes the base record in the same
    write: copied into the base item when small, else by pointing ``recordAt`` at the
    version item, which the purge then keeps (it reads ``recordAt`` from the stream's
    image of this write). A single-item conditional write is atomic by itself: a one-item
    transaction would cost twice the write units for the same guarantee. Nothing else is
    written, whatever the number of versions or the size of their records.
    """
    new_generation = {"N": str(base.generation + 1)}
    set_clause = "generation = :generation, versionCount = :zero, purgeBelow = :generation"
    values: dict[str, Any] = {":generation": new_generation, ":zero": {"N": "0"}}
    remove = ["latestBlob"]
    dropped: list[str] = []
    if preserved is not None:
        if base.record_at is not None:
            dropped.append(base.record_at)
        if records.fits_base(preserved.record):
            set_clause += ", #record = :record"
            values[":record"] = preserved.record.attribute
            remove.append("recordAt")
        else:
            set_clause += ", recordAt = :recordAt"
            values[":recordAt"] = {"S": keys.version_sk(preserved.generation, preserved.number)}
            remove.append("#record")
    set_clause = _drop(set_clause, values, remove, dropped)
    update, stamp = _base_update(base, set_clause, values, ", ".join(remove))
    _write_base("Update", _names(update), stamp)


def set_meta(
    base: Bin, name: str | None = None, private: bool | None = None, companions: Sequence[dict[str, Any]] = ()
) -> None:
    """Rename the bin or change its privacy: the base item (and ``companions``: its listing
    item), no version, a new rev."""
    clauses: list[str] = []
    values: dict[str, Any] = {}
    names: dict[str, str] = {}
    if name is not None:
        clauses.append("#name = :name")
        values[":name"] = {"S": name}
        names["#name"] = "name"
    if private is not None:
        clauses.append("#private = :private")
        values[":private"] = {"BOOL": private}
        names["#private"] = "private"
    update, stamp = _base_update(base, ", ".join(clauses), values)
    update["ExpressionAttributeNames"].update(names)
    _write_base("Update", update, stamp, companions)


def delete_bin(base: Bin, companions: Sequence[dict[str, Any]] = ()) -> None:
    """Remove the base item (and atomically with it the ``companions``: its listing item);
    the stream's REMOVE record makes the purge delete every version.

    Exactly once without a stamp: a bin id is never reused, so a retry that finds the item
    gone found it gone by our own first attempt.
    """
    from botocore.exceptions import ClientError

    delete = {
        "TableName": table(),
        "Key": keys.bin_key(base.id),
        "ConditionExpression": _REV_MATCHES,
        "ExpressionAttributeValues": {":rev": {"N": str(base.rev)}},
        "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
    }
    with _conflicts_retried():
        try:
            if companions:
                dynamodb().transact_write_items(
                    TransactItems=[{"Delete": delete}, *companions], ClientRequestToken=str(uuid.uuid4())
                )
            else:
                dynamodb().delete_item(**delete)
        except ClientError as error:
            if error_code(error) == "ConditionalCheckFailedException":
                gone = "Item" not in error.response
            elif cancellation_codes(error)[:1] == ["ConditionalCheckFailed"]:
                gone = "Item" not in (error.response.get("CancellationReasons") or [{}])[0]
            else:
                raise
            if not (retried(error) and gone):
                raise StaleWrite() from error
