"""The one way binvault writes a timestamp (JSONBin's shape: ISO 8601, UTC, milliseconds)."""

from __future__ import annotations

from datetime import UTC, datetime


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
