"""Plain domain models shared by ``logic/`` and ``dal/``: immutable, typed ``NamedTuple``s.

Not pydantic (it costs ~0.2 s of cold start) and not ``@dataclass``: a dataclass generates
and compiles its methods when its module is imported, about 0.4 ms a class on every cold
start, a NamedTuple a fifth of that (README, "Cold start"). ``StoredRecord`` stays a
dataclass for its per-instance default (a new record id).
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass, field
from typing import Any, NamedTuple


def etag_for(bin_id: str, rev: int) -> str:
    """An opaque, quoted strong ETag that changes on every write of the bin."""
    digest = hashlib.blake2b(f"{bin_id}:{rev}".encode(), digest_size=10).hexdigest()
    return f'"{digest}"'


class Outcome(NamedTuple):
    """What a use case answers: the response body and the bin's ETag (if any)."""

    body: Any
    etag: str | None = None


@dataclass(frozen=True)
class StoredRecord:
    """A record as stored (``dal.records`` makes and reads it), decoded only when a
    response needs it: inline (``attribute``, a DynamoDB B or S value) or in S3 (``blob``,
    the object's key, already written). ``record_id`` is new for every write: it names the
    record's own item (``R#<id>``) when the base item cannot hold it, and its S3 object."""

    attribute: dict[str, Any] | None
    blob: str | None = None
    record_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    blob_bytes: int | None = None  # the S3 object's size (None: unknown, written before it was kept)

    @property
    def stored_bytes(self) -> int:
        if self.attribute is None:
            return 0
        (kind, value), *_ = self.attribute.items()
        return len(value) if kind == "B" else len(str(value).encode("utf-8"))


class Bin(NamedTuple):
    id: str
    owner: str
    private: bool
    name: str | None
    created_at: str
    record: StoredRecord | None  # the base record when the base item holds it, else None
    generation: int
    version_count: int
    rev: int
    collection_id: str | None = None  # None: uncategorized
    record_at: str | None = None  # else: the sk of the item that holds it (dal/keys.py)
    latest_blob: str | None = None  # the S3 key of the latest version's record, if it has one

    @property
    def etag(self) -> str:
        return etag_for(self.id, self.rev)


class VersionSummary(NamedTuple):
    """One version as the version list shows it: never its record. ``stored_bytes`` is the
    size of its stored (compressed when smaller) form; None for an S3 record written before
    binvault kept that size."""

    number: int
    created_at: str
    stored_bytes: int | None


class Version(NamedTuple):
    bin_id: str
    generation: int
    number: int
    created_at: str
    record: StoredRecord


class Account(NamedTuple):
    id: str
    key_hash: str
    requests_remaining: int
    created_at: str
    shards: int = 0  # quota counter items (0: an account from before shards, its counter on the account item)


PERMISSIONS = ("create", "read", "update", "delete")


class Credentials(NamedTuple):
    """The keys a request carries (either may be absent). X-Master-Key wins when both are sent."""

    master_key: str | None = None
    access_key: str | None = None


class Grant(NamedTuple):
    """What a key's hash stands for: an account, and for an access key its id and permissions."""

    account_id: str
    access_key_id: str | None = None
    permissions: frozenset[str] = frozenset(PERMISSIONS)

    @property
    def is_access_key(self) -> bool:
        return self.access_key_id is not None


class Charging(NamedTuple):
    """The key a quota charge must still be valid for when it is written: the master key's
    hash, or an access key's id (None: a public bin's owner, no key)."""

    master_hash: str | None = None
    access_key_id: str | None = None


class AccessKey(NamedTuple):
    id: str
    name: str
    permissions: frozenset[str]
    created_at: str
    last4: str


class Collection(NamedTuple):
    id: str
    owner: str
    name: str
    created_at: str
    schema_doc_id: str | None
    rev: int


class SchemaDoc(NamedTuple):
    """A JSON Schema that validates the bins of the collections it is attached to; ``schema``
    is its JSON text as stored."""

    id: str
    owner: str
    name: str
    created_at: str
    schema: str
    rev: int


class Listed(NamedTuple):
    """One bin as a listing page shows it (``dal.listing``): metadata only, never the record."""

    bin_id: str
    private: bool
    name: str | None
    created_at: str
