"""How a JSON record is stored in an item attribute.

Records are serialised compactly and stored zlib-compressed (binary attribute) when that
is smaller, plain (string attribute) otherwise. JSON compresses 3-10x, so a 100 KB record
usually costs 10-30 write units instead of 100 and stays far below the 400 KB item limit.
"""

from __future__ import annotations

import json
import zlib
from typing import Any

from binvault.models.bins import StoredRecord

# Below this, compression rarely pays for its own header.
COMPRESS_FROM_BYTES = 200


def dumps(record: Any) -> bytes:
    return json.dumps(record, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def encode(record: Any) -> dict[str, Any]:
    raw = dumps(record)
    if len(raw) >= COMPRESS_FROM_BYTES:
        packed = zlib.compress(raw, 6)
        if len(packed) < len(raw):
            return {"B": packed}
    return {"S": raw.decode("utf-8")}


def decode(attribute: dict[str, Any]) -> Any:
    if "B" in attribute:
        return json.loads(zlib.decompress(attribute["B"]))
    return json.loads(attribute["S"])


def store(record: Any) -> StoredRecord:
    """A record as it is stored in a bin or version item."""
    return StoredRecord(encode(record))


def load(stored: StoredRecord) -> Any:
    return decode(stored.attribute)
