"""Validation of everything a client sends: ids, headers, bodies. Pure functions, no I/O.

They run before any DynamoDB call, so a malformed request never touches the table and
never consumes quota.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
from typing import Any

from binvault.exceptions import (
    BlankBin,
    InvalidBinId,
    InvalidBinName,
    InvalidBinNameToRename,
    InvalidFlag,
    InvalidIdempotencyKey,
    InvalidIfMatch,
    InvalidJson,
    InvalidVersion,
    InvalidVersionCursor,
    MissingBinNameToRename,
    MissingBinPrivacy,
    MissingContentType,
    NotARecord,
    PayloadTooLarge,
    ResponseTooLarge,
)
from binvault.models.settings import LAMBDA_PAYLOAD_BYTES

_BIN_ID = re.compile(r"[0-9a-f]{24}")
_VERSION = re.compile(r"[0-9]{1,12}")
_JSON_CONTENT_TYPE = re.compile(r"application/json\s*(;.*)?", re.IGNORECASE)
MAX_MASTER_KEY_CHARS = 512
# Far below Python's recursion limit, so that a record accepted here can always be
# serialised, stored and decoded again: without a fixed cap, whether a record ~940 levels
# deep parsed depended on how deep the caller's stack was, and the response then failed
# with a RecursionError (500) after the record had been written.
MAX_NESTING_DEPTH = 512


def bin_id(raw: str) -> str:
    if not _BIN_ID.fullmatch(raw):
        raise InvalidBinId()
    return raw


def version_number(raw: str) -> int | None:
    """``latest`` -> None; a decimal integer -> that integer; anything else -> 400."""
    if raw == "latest":
        return None
    if not _VERSION.fullmatch(raw):
        raise InvalidVersion()
    return int(raw)


def version_cursor(raw: str | None) -> int | None:
    """``?before=`` of the version list: absent -> None (the newest first); a version
    number of 1 or more -> that number; anything else (repeated with other values too) -> 400."""
    if raw is None:
        return None
    if not _VERSION.fullmatch(raw) or int(raw) < 1:
        raise InvalidVersionCursor()
    return int(raw)


def flag(value: str | None, name: str, default: bool) -> bool:
    """A true/false header (case-insensitive); absent -> default; anything else -> 400."""
    if value is None:
        return default
    lowered = value.strip().lower()
    if lowered == "true":
        return True
    if lowered == "false":
        return False
    raise InvalidFlag(name)


def bin_name(value: str | None) -> str | None:
    if value is None:
        return None
    if not 1 <= len(value) <= 128 or not value.strip() or not value.isprintable():
        raise InvalidBinName()
    return value


def new_bin_name(value: str | None) -> str:
    """X-Bin-Name on the rename route: required, with JSONBin's documented messages."""
    if value is None:
        raise MissingBinNameToRename()
    if not 1 <= len(value) <= 128 or not value.strip() or not value.isprintable():
        raise InvalidBinNameToRename()
    return value


def bin_privacy(value: str | None) -> bool:
    """X-Bin-Private on the privacy route: required, true or false."""
    if value is None:
        raise MissingBinPrivacy()
    return flag(value, "X-Bin-Private", True)


def require_json_content_type(value: str | None) -> None:
    if value is None or not _JSON_CONTENT_TYPE.fullmatch(value.strip()):
        raise MissingContentType()


def body_bytes(body: str | None, is_base64: bool) -> bytes:
    if not body:
        return b""
    if is_base64:
        try:
            return base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            raise InvalidJson() from None
    return body.encode("utf-8", errors="surrogatepass")


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise ValueError("number out of range")
    return value


def _nesting_depth_exceeds(value: Any, limit: int) -> bool:
    """True when containers nest deeper than ``limit`` (iterative: no recursion of our own)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            return True
        children = node.values() if isinstance(node, dict) else node
        stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))
    return False


def record(raw: bytes, max_bytes: int) -> Any:
    """The request body as a storable record: a non-empty JSON object or array."""
    if len(raw) > max_bytes:
        raise PayloadTooLarge(max_bytes)
    if not raw.strip():
        raise BlankBin()
    try:
        text = raw.decode("utf-8")
        value = json.loads(text, parse_constant=_reject_constant, parse_float=_finite_float)
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise InvalidJson() from None
    if value == {}:
        raise BlankBin()
    if not isinstance(value, (dict, list)):
        raise NotARecord()
    if _nesting_depth_exceeds(value, MAX_NESTING_DEPTH):
        raise InvalidJson()
    try:
        # Re-serialising proves the record can be stored and served back unchanged
        # (it fails on lone surrogates).
        served = json.dumps(value, ensure_ascii=False)
        served.encode("utf-8")
    except (RecursionError, ValueError):
        raise InvalidJson() from None
    if len(raw) * MAX_ESCAPE_GROWTH > RESPONSE_RECORD_BUDGET and escaped_bytes(served) > RESPONSE_RECORD_BUDGET:
        raise ResponseTooLarge()
    return value


# A read answers the record inside the proxy response's body, a JSON string, which Lambda
# escapes again: quotes and backslashes double (the python3.12+ runtimes leave non-ASCII
# characters as they are), so at most 2x a record's UTF-8 bytes. A record that could grow
# past the budget is measured exactly; smaller ones (every record under ~3 MB) never are.
# The budget leaves 16 KB of the payload to the rest of the response (status, headers, the
# body's metadata): MAX_BIN_BYTES' ceiling keeps 64 KB, so a record at that ceiling may
# still carry ~48 KB of escapes.
MAX_ESCAPE_GROWTH = 2
RESPONSE_ENVELOPE_BYTES = 16 * 1024
RESPONSE_RECORD_BUDGET = LAMBDA_PAYLOAD_BYTES - RESPONSE_ENVELOPE_BYTES


def escaped_bytes(served: str) -> int:
    """The bytes ``served`` (the response body's record) takes in Lambda's response payload."""
    return len(json.dumps(served, ensure_ascii=False).encode("utf-8"))


def if_match(value: str | None) -> list[str] | None:
    """The entity tags of an If-Match header (``*`` kept as is); None when absent."""
    if value is None:
        return None
    tags = [tag.strip() for tag in value.split(",") if tag.strip()]
    if not tags:
        raise InvalidIfMatch()
    # Lenient with hand-typed tags: curl users often drop the quotes.
    return [tag if tag == "*" or tag.startswith(('"', "W/")) else f'"{tag}"' for tag in tags]


def master_key(value: str | None) -> str | None:
    """The X-Master-Key, or None when it is absent or empty."""
    if value is None or not value.strip():
        return None
    return value.strip()


def idempotency_key(value: str | None) -> str | None:
    if value is None:
        return None
    if not 1 <= len(value) <= 255 or not value.isascii() or not value.isprintable():
        raise InvalidIdempotencyKey()
    return value
