"""The bin lifecycle use cases: create, update, read, count, delete.

Plain functions: no HTTP, no boto3. Each takes validated input and returns an Outcome
(the response body and the bin's ETag) or raises a domain exception.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from typing import Any, Literal, TypeVar

from binvault.dal import bins, listing, records
from binvault.exceptions import (
    BinNotFound,
    MissingMasterKey,
    PreconditionFailed,
    ServiceUnavailable,
    StaleWrite,
    VersionNotFound,
    WriteConflict,
)
from binvault.logic import idempotency, jsonpath, quota, schema_docs
from binvault.logic.auth import authenticate
from binvault.logic.idempotency import Companions, no_companions
from binvault.models.bins import Bin, Charging, Credentials, Outcome, etag_for
from binvault.models.clock import now_iso
from binvault.models.ids import new_id as new_bin_id
from binvault.models.settings import get_settings

T = TypeVar("T")
Which = Literal["base", "latest"] | int
# A read of a version re-reads the base when a concurrent cut-over moved it in between.
READ_ATTEMPTS = 10


@lru_cache(maxsize=1)
def _executor() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=4, thread_name_prefix="binvault-io")


Key = Credentials | str | None  # a bare string is a master key (operator tools, tests)


def credentials_of(key: Key) -> Credentials:
    return key if isinstance(key, Credentials) else Credentials(master_key=key)


def _authenticated_read(credentials: Credentials, bin_id: str, permission: str) -> tuple[str, Bin | None]:
    """Authenticate (and charge) while the base item is read: they are independent calls.

    Authentication errors still answer first, as the contract's check order requires. An
    access key's permission is checked before any bin is read, so it authenticates first.
    """
    if credentials.master_key is None:
        account_id = authenticate(credentials, permission)
        return account_id, bins.get_bin(bin_id)
    future = _executor().submit(bins.get_bin, bin_id)
    try:
        account_id = authenticate(credentials, permission)
    except BaseException:
        future.cancel()
        raise
    return account_id, future.result()


def authenticated_read(credentials: Credentials, bin_id: str) -> tuple[str, Bin | None]:
    """The caller's account (charged) and the bin as it is, read concurrently (any owner)."""
    return _authenticated_read(credentials, bin_id, "read")


def authorize_read(key: Key, bin_id: str) -> Bin:
    """Steps 3 to 6 of the check order for a read: authenticate, charge one request, and
    return the bin if the caller may read it (public bins may be read without a key, and
    then the owner is charged)."""
    credentials = credentials_of(key)
    if credentials.master_key is None and credentials.access_key is None:
        base = bins.get_bin(bin_id)
        if base is None or base.private:
            raise MissingMasterKey()
        # A keyless read of a public bin is charged to the bin's owner.
        quota.charge(base.owner, Charging())
        return base
    account_id, base = _authenticated_read(credentials, bin_id, "read")
    if base is None or (base.private and base.owner != account_id):
        raise BinNotFound()
    return base


def authorize_write(key: Key, bin_id: str, permission: str) -> Bin:
    """Steps 3 to 6 for a write (``permission``: update or delete): authenticate, charge one
    request, and return the bin if the caller owns it."""
    account_id, base = _authenticated_read(credentials_of(key), bin_id, permission)
    if base is None or base.owner != account_id:
        raise BinNotFound()
    return base


def _check_if_match(base: Bin, if_match: list[str] | None) -> None:
    if if_match is not None and "*" not in if_match and base.etag not in if_match:
        raise PreconditionFailed()


def _back_off(number: int) -> None:
    """After losing a race: retry at once the first time, then back off with full jitter so
    that many writers on one item spread out instead of colliding again."""
    if number:
        time.sleep(random.uniform(0, min(0.5, 0.01 * 2**number)))


def with_fresh_state(first: Bin, if_match: list[str] | None, attempt: Callable[[Bin], T]) -> T:
    """Run a conditional write, re-reading and retrying when it lost a race.

    A write that lost to a concurrent one is recomputed from the new state, so nothing
    acknowledged is ever overwritten; with If-Match the re-read answers 412 instead.
    """
    base: Bin | None = first
    attempts = get_settings().write_attempts
    for number in range(attempts):
        if base is None or base.owner != first.owner:
            raise BinNotFound()
        _check_if_match(base, if_match)
        try:
            return attempt(base)
        except (StaleWrite, WriteConflict):
            _back_off(number)
        base = bins.get_bin(first.id)
    raise ServiceUnavailable()


def create_bin(
    key: Key,
    record: Any,
    private: bool,
    name: str | None,
    idempotency_key: str | None = None,
    collection_id: str | None = None,
) -> Outcome:
    """``collection_id`` files the bin in one of the caller's collections (whose schema doc,
    if any, must accept the record first)."""
    account_id = authenticate(credentials_of(key), "create")
    check = schema_docs.check_new_bin(account_id, collection_id) if collection_id is not None else None

    def create(companions: Companions) -> Outcome:
        if check is not None:
            check(record)
        return _create(account_id, record, private, name, companions, collection_id)

    if idempotency_key is None:
        return create(no_companions)
    filed = (collection_id,) if collection_id is not None else ()
    request = idempotency.fingerprint(record, private, name, *filed)
    return idempotency.run_once(account_id, idempotency_key, "POST /b", request, record, create)


def _create(
    account_id: str,
    record: Any,
    private: bool,
    name: str | None,
    companions: Companions,
    collection_id: str | None = None,
) -> Outcome:
    created_at = now_iso()
    attempts = max(5, get_settings().write_attempts)
    bin_id = new_bin_id()
    # A large record is written to S3 here, before the item that points at it
    # (dal/records.py); should the id be taken, that object is an orphan for the sweep.
    stored = records.store(record, bin_id)
    for number in range(attempts):
        new = Bin(
            id=bin_id,
            owner=account_id,
            private=private,
            name=name,
            created_at=created_at,
            record=stored,
            generation=0,
            version_count=0,
            rev=1,
            collection_id=collection_id,
        )
        metadata: dict[str, Any] = {"id": new.id, "createdAt": created_at, "private": private}
        if name is not None:
            metadata["name"] = name
        if collection_id is not None:
            metadata["collectionId"] = collection_id
        outcome = Outcome({"record": record, "metadata": metadata}, new.etag)
        try:
            bins.put_new_bin(new, [listing.put(new), *companions(outcome)])
        except StaleWrite:  # an id collision: 64 random bits make this all but impossible
            bin_id = new_bin_id()
            stored = records.store(record, bin_id)
            continue
        except WriteConflict:
            # A concurrent transaction held one of the items (the listing's, the idempotency
            # record's): nothing was applied, so the same bin is tried again.
            _back_off(number)
            continue
        return outcome
    raise ServiceUnavailable()


def update_bin(
    key: Key,
    bin_id: str,
    record: Any,
    versioning: bool,
    if_match: list[str] | None,
    idempotency_key: str | None = None,
) -> Outcome:
    max_versions = get_settings().max_versions

    def update(companions: Companions) -> Outcome:
        if first.collection_id is not None:  # a filed bin: its collection's schema doc, if any
            check = schema_docs.check_for_collection(first.owner, first.collection_id, missing=None)
            if check is not None:
                check(record)
        # Stored once the caller is authorised and the request is no replay: a large record
        # goes to S3 here, before any write points at it; every retry below reuses it.
        stored = records.store(record, first.id)

        def attempt(base: Bin) -> Outcome:
            metadata: dict[str, Any] = {"parentId": base.id, "private": base.private}
            append = versioning and base.version_count < max_versions
            if append:
                metadata["version"] = base.version_count + 1
            elif versioning:  # at the cap: stored in place, as JSONBin does, and said so
                metadata["versioning"] = False
            outcome = Outcome({"record": record, "metadata": metadata}, etag_for(base.id, base.rev + 1))
            write = bins.append_version if append else bins.replace_latest
            write(base, stored, now_iso(), companions(outcome))
            return outcome

        return with_fresh_state(first, if_match, attempt)

    first = authorize_write(key, bin_id, "update")
    if idempotency_key is None:
        return update(no_companions)
    request = idempotency.fingerprint(record, versioning, if_match)
    return idempotency.run_once(first.owner, idempotency_key, f"PUT /b/{bin_id}", request, record, update)


def _bin_metadata(base: Bin) -> dict[str, Any]:
    metadata: dict[str, Any] = {"id": base.id, "private": base.private, "createdAt": base.created_at}
    if base.name is not None:
        metadata["name"] = base.name
    if base.collection_id is not None:
        metadata["collectionId"] = base.collection_id
    return metadata


def read_bin(key: Key, bin_id: str, which: Which, meta: bool, json_path: str | None = None) -> Outcome:
    """``json_path`` (from ``jsonpath.expression``) answers the array of its matches in place
    of the record."""
    base: Bin | None = authorize_read(key, bin_id)
    for _ in range(READ_ATTEMPTS):
        if base is None:
            break
        metadata = _bin_metadata(base)
        number = base.version_count if which == "latest" else which
        if number == "base" or (which == "latest" and number == 0):
            found = bins.base_record(base)
            if found is None:
                # The base record was replaced between our two reads: read the bin again.
                base = bins.get_bin(bin_id)
                continue
            record = found
            if which == "latest":
                metadata["version"] = 0
        else:
            assert isinstance(number, int)
            if not 1 <= number <= base.version_count:
                raise VersionNotFound()
            version = bins.get_version(base.id, base.generation, number)
            if version is None:
                # The bin was cut over between our two reads: read it again.
                base = bins.get_bin(bin_id)
                continue
            record = version.record
            metadata["createdAt"] = version.created_at
            metadata["version"] = number
        try:
            value = records.load(record)
        except records.RecordGone:
            # Its S3 object was dropped by a write since we read the pointer: read again.
            base = bins.get_bin(bin_id)
            continue
        if json_path is not None:
            value = jsonpath.select(value, json_path)
        return Outcome({"record": value, "metadata": metadata} if meta else value, base.etag)
    if base is None:
        raise BinNotFound()
    raise ServiceUnavailable()


def count_versions(key: Key, bin_id: str) -> Outcome:
    base = authorize_read(key, bin_id)
    metadata = {"id": base.id, "versionCount": base.version_count, "private": base.private}
    return Outcome({"metadata": metadata}, base.etag)


def delete_bin(key: Key, bin_id: str, if_match: list[str] | None) -> Outcome:
    def attempt(base: Bin) -> Outcome:
        bins.delete_bin(base, [listing.delete(base)])
        metadata = {"id": base.id, "versionsDeleted": base.version_count}
        return Outcome({"metadata": metadata, "message": "Bin deleted successfully"})

    return with_fresh_state(authorize_write(key, bin_id, "delete"), if_match, attempt)


def _meta(key: Key, bin_id: str, if_match: list[str] | None, name: str | None, private: bool | None) -> Outcome:
    """The meta routes (JSONBin's ``PUT /b/{id}/meta/name`` and ``/meta/privacy``): master key
    only, as JSONBin documents them; no version, a new ETag, If-Match honoured."""
    credentials = credentials_of(key)
    if credentials.master_key is None:
        raise MissingMasterKey()

    def attempt(base: Bin) -> Outcome:
        changed_base = base._replace(
            name=base.name if name is None else name, private=base.private if private is None else private
        )
        bins.set_meta(base, name=name, private=private, companions=[listing.put(changed_base)])
        changed: dict[str, Any] = {"name": name} if name is not None else {"private": private}
        return Outcome({"record": base.id, "metadata": changed}, etag_for(base.id, base.rev + 1))

    only_master = Credentials(master_key=credentials.master_key)
    return with_fresh_state(authorize_write(only_master, bin_id, "update"), if_match, attempt)


def rename_bin(key: Key, bin_id: str, name: str, if_match: list[str] | None) -> Outcome:
    return _meta(key, bin_id, if_match, name=name, private=None)


def set_privacy(key: Key, bin_id: str, private: bool, if_match: list[str] | None) -> Outcome:
    return _meta(key, bin_id, if_match, name=None, private=private)
