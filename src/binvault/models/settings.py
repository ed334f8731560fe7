"""The one settings object, read from the environment once and validated.

A NamedTuple rather than a pydantic model or a dataclass on purpose: pydantic costs ~0.2 s
of cold start and the request path never needs it, and ``@dataclass`` generates and
compiles each class's methods at import (README, "Cold start").
"""

from __future__ import annotations

import os
from functools import lru_cache
from typing import NamedTuple

# Records of any size up to MAX_BIN_BYTES: one that does not fit an item goes to S3
# (dal/records.py), so the ceiling is set by the Lambda payload limits, not DynamoDB's 400 KB.
# Lambda's synchronous payload limit is 6 MB (6,291,456 bytes) each way: a read answers the
# record inside the proxy response (a JSON string: quotes and backslashes escaped again,
# plus headers and metadata), and a write receives it inside the event the same way. API
# Gateway's 10 MB request limit never binds first. The envelope reserve covers headers,
# metadata and the event's request context; logic/inputs.py refuses at write time a record
# whose *escaped* form would not fit (quote-heavy JSON expands up to 2x, astral characters
# 3x), so nothing accepted is ever unreadable.
LAMBDA_PAYLOAD_BYTES = 6 * 1024 * 1024
ENVELOPE_RESERVE_BYTES = 64 * 1024
MAX_BIN_BYTES_CEILING = LAMBDA_PAYLOAD_BYTES - ENVELOPE_RESERVE_BYTES  # 6,225,920
DEFAULT_MAX_BIN_BYTES = 1024 * 1024  # JSONBin's 1 MB
# An account's quota is split over this many counter items (dal/accounts.py, docs/quota.md):
# each takes DynamoDB's 1000 write units/s per item, 500 exact charges/s (a charge is a
# one-item transaction, 2 units), so the default 32 allows 16,000 charged requests/s per
# account. A rotation or access-key change writes every shard in one transaction
# (at most 100 items, 3 of them not shards): hence the ceiling.
DEFAULT_QUOTA_SHARDS = 32
MAX_QUOTA_SHARDS = 64
# Version numbers are zero-padded to six digits in sort keys (dal/keys.py).
VERSION_CEILING = 999_999


class SettingsError(ValueError):
    """The environment does not describe a valid configuration."""


def _int(env: dict[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = env.get(name, "").strip()
    if raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be an integer, got {raw!r}") from None
    if not low <= value <= high:
        raise SettingsError(f"{name} must be between {low} and {high}, got {value}")
    return value


def _float(env: dict[str, str], name: str, default: float, low: float, high: float) -> float:
    raw = env.get(name, "").strip()
    if raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a number, got {raw!r}") from None
    if not low <= value <= high:
        raise SettingsError(f"{name} must be between {low} and {high}, got {value}")
    return value


def _bool(env: dict[str, str], name: str, default: bool) -> bool:
    raw = env.get(name, "").strip().lower()
    if raw == "":
        return default
    if raw not in ("true", "false"):
        raise SettingsError(f"{name} must be true or false, got {raw!r}")
    return raw == "true"


def _required(env: dict[str, str], name: str) -> str:
    value = env.get(name, "").strip()
    if not value:
        raise SettingsError(f"{name} must be set")
    return value


class Settings(NamedTuple):
    table_name: str
    idempotency_table_name: str
    purchase_url: str
    max_bin_bytes: int
    max_versions: int
    key_cache_seconds: float
    idempotency_ttl_seconds: int
    write_attempts: int
    dynamodb_max_attempts: int
    endpoint_url: str | None
    quota_lease_size: int = 1
    quota_lease_seconds: int = 30
    quota_shards: int = DEFAULT_QUOTA_SHARDS
    max_access_keys: int = 4
    max_collections: int = 10
    max_schema_docs: int = 100
    bucket_name: str = ""
    s3_endpoint_url: str | None = None
    # Usage logs (logic/usage_logs.py): keep only a source IP's network part (IPv4 /24, IPv6 /48).
    usage_log_truncate_ip: bool = False

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ if env is None else env)
        return cls(
            table_name=_required(env, "TABLE_NAME"),
            idempotency_table_name=env.get("IDEMPOTENCY_TABLE_NAME", "").strip()
            or f"{_required(env, 'TABLE_NAME')}-idempotency",
            purchase_url=env.get("PURCHASE_URL", "").strip() or "https://binvault.example/pricing",
            max_bin_bytes=_int(env, "MAX_BIN_BYTES", DEFAULT_MAX_BIN_BYTES, 1, MAX_BIN_BYTES_CEILING),
            max_versions=_int(env, "MAX_VERSIONS", 1000, 1, VERSION_CEILING),
            key_cache_seconds=_float(env, "KEY_CACHE_SECONDS", 300.0, 0.0, 86_400.0),
            idempotency_ttl_seconds=_int(env, "IDEMPOTENCY_TTL_SECONDS", 86_400, 60, 7 * 86_400),
            write_attempts=_int(env, "WRITE_ATTEMPTS", 10, 1, 50),
            # at most 6: a longer backoff would leave no time for an attempt (dal/client.py budgets)
            dynamodb_max_attempts=_int(env, "DYNAMODB_MAX_ATTEMPTS", 3, 1, 6),
            endpoint_url=env.get("AWS_ENDPOINT_URL_DYNAMODB", "").strip() or None,
            quota_lease_size=_int(env, "QUOTA_LEASE_SIZE", 1, 1, 1000),
            quota_lease_seconds=_int(env, "QUOTA_LEASE_SECONDS", 30, 1, 900),
            quota_shards=_int(env, "QUOTA_SHARDS", DEFAULT_QUOTA_SHARDS, 1, MAX_QUOTA_SHARDS),
            max_access_keys=_int(env, "MAX_ACCESS_KEYS", 4, 1, 100),
            max_collections=_int(env, "MAX_COLLECTIONS", 10, 1, 1000),
            max_schema_docs=_int(env, "MAX_SCHEMA_DOCS", 100, 1, 1000),
            # The records bucket (large records, dal/blobs.py); derived like the idempotency table's.
            bucket_name=env.get("BUCKET_NAME", "").strip() or f"{_required(env, 'TABLE_NAME').lower()}-records",
            s3_endpoint_url=env.get("AWS_ENDPOINT_URL_S3", "").strip() or None,
            usage_log_truncate_ip=_bool(env, "USAGE_LOG_TRUNCATE_IP", False),
        )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings; tests call ``get_settings.cache_clear()`` after changing env."""
    return Settings.from_env()
