"""Copying a whole bin into an account from outside the API (``binvault-admin import-jsonbin``
and ``import-backup``): plain functions over ``dal.imports``, no HTTP.

``copy_bin`` takes the bin's metadata and base record and its versions as an iterator (read
from the source as they are needed, so a bin of 1000 large versions is never held in memory)
and makes the bin look exactly like one the API made: same id, name, privacy, collection,
createdAt, every version's number, record and createdAt, and the version count. It is
atomic for readers (``dal.imports``: versions first, the base item last) and idempotent: a
bin already identical on the target is left alone (``same_as_target``), one that differs
is replaced as a whole in one cut-over.

Nothing is dropped silently: a record larger than the target's ``MAX_BIN_BYTES`` raises
``Oversized``, an id another account holds raises ``IdHeld``; the caller lists them.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Iterator
from typing import Any, NamedTuple

from binvault.dal import access_keys, accounts, bins, collections, imports, records, schema_docs
from binvault.exceptions import StaleWrite
from binvault.logic import auth
from binvault.models.bins import AccessKey, Bin, Collection, SchemaDoc, StoredRecord
from binvault.models.clock import now_iso
from binvault.models.settings import get_settings


class BinImage(NamedTuple):
    """A bin as a source gives it: its metadata, its base record and how many versions."""

    id: str
    private: bool
    name: str | None
    created_at: str
    collection_id: str | None
    record: Any
    version_count: int


class VersionImage(NamedTuple):
    number: int
    created_at: str
    record: Any


class Latest(NamedTuple):
    """What tells a bin on the target from its source without reading every version: the
    metadata, the count, and the latest record (version ``version_count``, or the base
    record when there are none) with its createdAt. Only the latest record can change in
    place (a non-versioned update); any other change moves the count."""

    private: bool
    name: str | None
    created_at: str
    collection_id: str | None
    version_count: int
    latest_created_at: str
    latest_digest: str


class CopyFailed(Exception):
    reason = "not copied"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class Oversized(CopyFailed):
    pass


class IdHeld(CopyFailed):
    pass


def digest(record: Any) -> str:
    """The record's content hash: SHA-256 of its compact JSON, as stored."""
    return hashlib.sha256(records.dumps(record)).hexdigest()


def held_elsewhere(account_id: str, bin_id: str) -> bool:
    found = bins.get_bin(bin_id)
    return found is not None and found.owner != account_id


def target_latest(account_id: str, bin_id: str) -> Latest | None:
    """The target's bin as ``Latest``, or None when the account has no bin of that id."""
    found = bins.get_bin(bin_id)
    if found is None or found.owner != account_id:
        return None
    if found.version_count == 0:
        stored = bins.base_record(found)
        created_at = found.created_at
    else:
        version = bins.get_version(found.id, found.generation, found.version_count)
        stored = version.record if version is not None else None
        created_at = version.created_at if version is not None else ""
    if stored is None:
        return None  # changing under us: treat as different, the copy's condition decides
    return Latest(
        found.private,
        found.name,
        found.created_at,
        found.collection_id,
        found.version_count,
        created_at,
        digest(records.load(stored)),
    )


def same_as_target(account_id: str, bin_id: str, latest: Latest) -> bool:
    return target_latest(account_id, bin_id) == latest


def _stored(record: Any, bin_id: str, max_bin_bytes: int, what: str) -> StoredRecord:
    size = len(records.dumps(record))
    if size > max_bin_bytes:
        raise Oversized(f"{what} is {size} bytes, above the target's MAX_BIN_BYTES of {max_bin_bytes}")
    return records.store(record, bin_id)


class Resume(NamedTuple):
    """Where a copy of a bin that stopped midway stands: versions ``1..written`` are stored
    in ``generation`` (not readable yet), with their digests, while the target's bin was at
    ``target_rev`` (None: absent)."""

    generation: int
    written: int
    digests: list[tuple[int, str]]
    target_rev: int | None


Progress = Callable[[Resume], None]


def target_rev(bin_id: str) -> int | None:
    found = bins.get_bin(bin_id)
    return found.rev if found is not None else None


def copy_bin(
    account_id: str,
    image: BinImage,
    versions: Iterable[VersionImage],
    max_bin_bytes: int,
    resume: Resume | None = None,
    progress: Progress | None = None,
) -> list[tuple[int, str]]:
    """Write the bin and all its versions, then cut it over; returns each version's
    ``(number, digest)`` (0 = the base record) for ``verify``.

    With ``resume`` (a copy stopped after storing versions ``1..resume.written``, and the
    target's bin unchanged since), ``versions`` starts at ``written + 1``; ``progress`` is told
    after each batch of versions is stored, so that a stopped copy can be resumed."""
    target = bins.get_bin(image.id)
    if target is not None and target.owner != account_id:
        raise IdHeld("the id is held by another account on the target")
    generation = 0 if target is None else target.generation + 1
    rev = target.rev if target is not None else None
    if resume is not None and (resume.target_rev, resume.generation) != (rev, generation):
        raise CopyFailed("the bin changed on the target since the copy stopped; run the import again")
    digests = [(0, digest(image.record)), *(resume.digests if resume is not None else [])]
    batch: list[tuple[int, str, StoredRecord]] = []
    latest_blob: str | None = None
    count = resume.written if resume is not None else 0
    for version in versions:
        count += 1
        if version.number != count:
            raise CopyFailed(f"the source gave version {version.number} where {count} was expected")
        stored = _stored(version.record, image.id, max_bin_bytes, f"version {version.number}")
        latest_blob = stored.blob
        digests.append((version.number, digest(version.record)))
        batch.append((version.number, version.created_at, stored))
        if len(batch) == imports.BATCH:
            imports.put_versions(image.id, generation, batch)
            batch = []
            if progress is not None:
                progress(Resume(generation, count, digests[1:], rev))
    imports.put_versions(image.id, generation, batch)
    if count != image.version_count:
        raise CopyFailed(f"the source gave {count} versions of {image.version_count}")
    if resume is not None and count == resume.written:
        raise CopyFailed("a resumed copy must store the latest version again")  # its blob is the base's latestBlob
    new = Bin(
        id=image.id,
        owner=account_id,
        private=image.private,
        name=image.name,
        created_at=image.created_at,
        record=_stored(image.record, image.id, max_bin_bytes, "the base record"),
        generation=generation,
        version_count=count,
        rev=1 if target is None else target.rev + 1,
        collection_id=image.collection_id,
        latest_blob=latest_blob,
    )
    try:
        if target is None:
            imports.create(new)
        else:
            imports.replace(target, new)
    except StaleWrite:
        if held_elsewhere(account_id, image.id):
            raise IdHeld("the id was taken by another account on the target during the copy") from None
        raise CopyFailed("the bin changed on the target during the copy; run the import again") from None
    return digests


def target_digests(account_id: str, bin_id: str) -> Iterator[tuple[int, str]]:
    """``(number, digest)`` of the target bin's base record (0) and every version, reading
    one version at a time."""
    found = bins.get_bin(bin_id)
    if found is None or found.owner != account_id:
        return
    base = bins.base_record(found)
    if base is not None:
        yield 0, digest(records.load(base))
    for version in imports.versions(found):
        yield version.number, digest(records.load(version.record))


def verify(account_id: str, bin_id: str, expected: list[tuple[int, str]]) -> list[str]:
    """Re-read every version of the bin on the target and compare with the source's hashes:
    the differences, described (empty: identical)."""
    found = dict(target_digests(account_id, bin_id))
    problems = []
    for number, want in expected:
        got = found.pop(number, None)
        what = "the base record" if number == 0 else f"version {number}"
        if got is None:
            problems.append(f"{what} is missing on the target")
        elif got != want:
            problems.append(f"{what} differs on the target (sha256 {got[:12]} != {want[:12]})")
    problems.extend(f"version {n} is on the target but not on the source" for n in sorted(found))
    return problems


# -- the account's other parts: master key, collections, schema docs, access keys ----------


class KeyHeld(CopyFailed):
    pass


def ensure_account(account_id: str | None, key_hash: str, requests: int) -> tuple[str, bool]:
    """The account to import into: ``account_id`` when it exists, else a new one whose master
    key has the hash ``key_hash`` (a new random id when ``account_id`` is None). Returns
    ``(id, created)``. KeyHeld when that key is already another account's."""
    import uuid

    if account_id is not None:
        try:
            accounts.get_account(account_id)
            return account_id, False
        except accounts.AccountNotFound:
            pass
    account_id = account_id or uuid.uuid4().hex
    grant = accounts.grant_for_key(key_hash, consistent=True)
    if grant is not None and grant.account_id != account_id:
        raise KeyHeld("the master key is already a key of another account on the target")
    accounts.create_account(account_id, key_hash, requests, now_iso())
    return account_id, True


def keep_master_key(account_id: str, master_key: str) -> bool:
    """Make ``master_key`` the account's master key (its hash); False when it already is.
    KeyHeld when it is a key of another account (or an access key) on the target."""
    key_hash = auth.hash_key(master_key)
    account = accounts.get_account(account_id)
    if account.key_hash == key_hash:
        return False
    grant = accounts.grant_for_key(key_hash, consistent=True)
    if grant is not None:
        raise KeyHeld("the source's master key is already a key of another account on the target")
    accounts.replace_key(account, key_hash, now_iso())
    return True


def copy_schema_doc(account_id: str, doc_id: str, name: str, created_at: str, schema: Any) -> bool:
    """Store the schema doc under its source id; True when something was written."""
    text = json.dumps(schema, separators=(",", ":"), ensure_ascii=False)
    found = schema_docs.get(account_id, doc_id)
    if found is None:
        schema_docs.create(SchemaDoc(doc_id, account_id, name, created_at, text, rev=1), get_settings().max_schema_docs)
        return True
    if (found.name, json.loads(found.schema)) == (name, schema):
        return False
    schema_docs.update(
        found, text if json.loads(found.schema) != schema else None, name if found.name != name else None
    )
    return True


def copy_collection(account_id: str, collection_id: str, name: str, created_at: str, schema_doc_id: str | None) -> bool:
    """Store the collection under its source id (and its schema doc's attachment); True when
    something was written."""
    found = collections.get(account_id, collection_id)
    written = False
    if found is None:
        collections.create(
            Collection(collection_id, account_id, name, created_at, None, rev=1), get_settings().max_collections
        )
        found = collections.get(account_id, collection_id)
        assert found is not None
        written = True
    if found.name != name:
        collections.rename(found, name)
        found = collections.get(account_id, collection_id)
        assert found is not None
        written = True
    if found.schema_doc_id != schema_doc_id:
        collections.set_schema_doc(found, schema_doc_id)
        written = True
    return written


def copy_access_key(
    account_id: str, key_id: str, secret: str, name: str, allowed: frozenset[str], created_at: str | None = None
) -> bool:
    """Store an access key with the same secret (its hash), id, name and permissions; True
    when written, False when the account already has it. KeyHeld when the secret is another
    account's key on the target, or the id is taken by another key of this account."""
    return copy_access_key_hash(account_id, key_id, auth.hash_key(secret), secret[-4:], name, allowed, created_at)


def copy_access_key_hash(
    account_id: str, key_id: str, key_hash: str, last4: str, name: str, allowed: frozenset[str], created_at: str | None
) -> bool:
    held = {key.id: key for key in access_keys.list_keys(account_id)}
    grant = accounts.grant_for_key(key_hash, consistent=True)
    if grant is not None:
        if grant.account_id == account_id and grant.access_key_id == key_id:
            return False
        raise KeyHeld(f"access key {key_id}: its secret is already another key on the target")
    if key_id in held:
        raise KeyHeld(f"access key {key_id}: the account already has another key with this id")
    key = AccessKey(key_id, name, allowed, created_at or now_iso(), last4)
    access_keys.create(account_id, key_hash, key, get_settings().max_access_keys)
    return True
