"""How a JSON record is stored: in an item attribute, or in an S3 object.

Records are serialised compactly and stored zlib-compressed (binary attribute) when that
is smaller, plain (string attribute) otherwise. JSON compresses 3-10x, so a 100 KB record
usually costs 10-30 write units instead of 100.

Where the stored form goes (sizes in ``dal/keys.py``): up to ``INLINE_MAX_BYTES`` it is an
attribute of the item that holds it (a version item, a record item, or for a small base
record the base item itself); beyond, ``store`` writes it to S3 first (``dal/blobs.py``,
always zlib) and the item holds only the object's key (``blob``). ``store`` runs before
the DynamoDB write that points at the object, so a crash in between leaves an object
nothing points to (the orphan sweep's business), never a pointer to nothing.
"""

from __future__ import annotations

import json
import zlib
from typing import Any

from binvault.dal import keys
from binvault.models.bins import StoredRecord

# Below this, compression rarely pays for its own header.
COMPRESS_FROM_BYTES = 200


class RecordGone(LookupError):
    """The object a record's pointer names is gone: the pointer was read before a concurrent
    write dropped it (the reader reads the bin again)."""


def dumps(record: Any) -> bytes:
    return json.dumps(record, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _encode_raw(raw: bytes) -> dict[str, Any]:
    if len(raw) >= COMPRESS_FROM_BYTES:
        packed = zlib.compress(raw, 6)
        if len(packed) < len(raw):
            return {"B": packed}
    return {"S": raw.decode("utf-8")}


def encode(record: Any) -> dict[str, Any]:
    return _encode_raw(dumps(record))


def decode(attribute: dict[str, Any]) -> Any:
    if "B" in attribute:
        return json.loads(zlib.decompress(attribute["B"]))
    return json.loads(attribute["S"])


def store(record: Any, bin_id: str) -> StoredRecord:
    """A record ready to be written for bin ``bin_id``: inline, or already in S3."""
    attribute = _encode_raw(dumps(record))
    stored = StoredRecord(attribute)
    if stored.stored_bytes <= keys.INLINE_MAX_BYTES:
        return stored
    from binvault.dal import blobs

    key = keys.blob_key(bin_id, stored.record_id)
    data = attribute["B"] if "B" in attribute else zlib.compress(attribute["S"].encode("utf-8"), 6)
    blobs.put(key, data)
    return StoredRecord(None, blob=key, record_id=stored.record_id, blob_bytes=len(data))


def load(stored: StoredRecord) -> Any:
    if stored.blob is None:
        assert stored.attribute is not None
        return decode(stored.attribute)
    from binvault.dal import blobs

    data = blobs.get(stored.blob)
    if data is None:
        raise RecordGone(stored.blob)
    return json.loads(zlib.decompress(data))


def holder_attributes(stored: StoredRecord) -> dict[str, Any]:
    """The attribute an item holding ``stored`` carries: ``record`` or ``blob``."""
    if stored.blob is not None:
        # Its size too, for the version list (which never reads S3).
        size = {} if stored.blob_bytes is None else {"storedBytes": {"N": str(stored.blob_bytes)}}
        return {"blob": {"S": stored.blob}, **size}
    assert stored.attribute is not None
    return {"record": stored.attribute}


def from_item(item: dict[str, Any]) -> StoredRecord:
    """The record an item holds (a version item or a record item)."""
    if "blob" in item:
        size = int(item["storedBytes"]["N"]) if "storedBytes" in item else None
        return StoredRecord(None, blob=item["blob"]["S"], blob_bytes=size)
    return StoredRecord(item["record"])


def stored_size(stored: StoredRecord) -> int | None:
    """The bytes a record takes as stored: its attribute, or its S3 object (None: unknown)."""
    return stored.blob_bytes if stored.blob is not None else stored.stored_bytes


def fits_base(stored: StoredRecord) -> bool:
    """Whether the base item holds this record itself (small records: one item, one read)."""
    return stored.blob is None and stored.stored_bytes <= keys.BASE_INLINE_BYTES
