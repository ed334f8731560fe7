"""The one settings object, read from the environment once and validated.

A frozen dataclass rather than a pydantic model on purpose: pydantic costs ~0.2 s of
cold start and the request path never needs it (see README, "Cold start").
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache

# One DynamoDB item holds 400 KB including attribute names and the bin's metadata; a
# record is stored at most once per item, so this leaves room for everything else even
# when a record does not compress at all.
ITEM_RECORD_CEILING = 380_000
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


def _required(env: dict[str, str], name: str) -> str:
    value = env.get(name, "").strip()
    if not value:
        raise SettingsError(f"{name} must be set")
    return value


@dataclass(frozen=True)
class Settings:
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
    max_access_keys: int = 4
    max_collections: int = 10

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ if env is None else env)
        return cls(
            table_name=_required(env, "TABLE_NAME"),
            idempotency_table_name=env.get("IDEMPOTENCY_TABLE_NAME", "").strip()
            or f"{_required(env, 'TABLE_NAME')}-idempotency",
            purchase_url=env.get("PURCHASE_URL", "").strip() or "https://binvault.example/pricing",
            max_bin_bytes=_int(env, "MAX_BIN_BYTES", 100 * 1024, 1, ITEM_RECORD_CEILING),
            max_versions=_int(env, "MAX_VERSIONS", 1000, 1, VERSION_CEILING),
            key_cache_seconds=_float(env, "KEY_CACHE_SECONDS", 300.0, 0.0, 86_400.0),
            idempotency_ttl_seconds=_int(env, "IDEMPOTENCY_TTL_SECONDS", 86_400, 60, 7 * 86_400),
            write_attempts=_int(env, "WRITE_ATTEMPTS", 10, 1, 50),
            # at most 6: a longer backoff would leave no time for an attempt (dal/client.py budgets)
            dynamodb_max_attempts=_int(env, "DYNAMODB_MAX_ATTEMPTS", 3, 1, 6),
            endpoint_url=env.get("AWS_ENDPOINT_URL_DYNAMODB", "").strip() or None,
            quota_lease_size=_int(env, "QUOTA_LEASE_SIZE", 1, 1, 1000),
            quota_lease_seconds=_int(env, "QUOTA_LEASE_SECONDS", 30, 1, 900),
            max_access_keys=_int(env, "MAX_ACCESS_KEYS", 4, 1, 100),
            max_collections=_int(env, "MAX_COLLECTIONS", 10, 1, 1000),
        )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings; tests call ``get_settings.cache_clear()`` after changing env."""
    return Settings.from_env()
