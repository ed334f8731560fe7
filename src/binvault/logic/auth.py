"""Steps 3 to 5 of the contract's check order: who is calling, and may they.

Keys are hashed with SHA-256 before they are looked up: they are 256-bit random tokens,
so a slow password hash would add latency without adding safety. The clear key is never
stored, logged or echoed.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from contextvars import ContextVar
from typing import NamedTuple

from binvault.dal import accounts
from binvault.exceptions import AccessKeyForbidden, InvalidAccessKey, InvalidMasterKey, MissingMasterKey
from binvault.logic import quota
from binvault.logic.inputs import MAX_MASTER_KEY_CHARS
from binvault.models.bins import Charging, Credentials, Grant
from binvault.models.settings import get_settings

KEY_BYTES = 32  # 256 bits

_cache: dict[str, tuple[Grant, float]] = {}
_cache_lock = threading.Lock()


class Caller(NamedTuple):
    """Who the current request is, once its key was found: for the usage log's line."""

    account_id: str
    key: str  # "master", or the access key's id (never the key or its hash)


# Set by authenticate as soon as the key is known, so a request refused after that (403,
# a quota refusal, a revoked key) is still logged against its account.
_caller: ContextVar[Caller | None] = ContextVar("binvault_caller", default=None)


def caller() -> Caller | None:
    return _caller.get()


def forget_caller() -> None:
    """A new request: nobody yet (execution environments serve requests one after another)."""
    _caller.set(None)


def new_master_key() -> str:
    return secrets.token_urlsafe(KEY_BYTES)


def hash_key(master_key: str) -> str:
    return hashlib.sha256(master_key.encode("utf-8", errors="surrogatepass")).hexdigest()


def _grant(key_hash: str, consistent: bool) -> Grant | None:
    """hash -> what the key stands for, cached per warm container for KEY_CACHE_SECONDS.

    Caching is safe for revocation: the quota charge re-checks that the key is still the
    account's (its hash, or the access key's entry), so a rotated or deleted key fails on
    its next request whatever the cache says. With quota leases most requests write
    nothing, so they read the key consistently instead (``consistent``).
    """
    ttl = get_settings().key_cache_seconds
    now = time.monotonic()
    if ttl > 0 and not consistent:
        with _cache_lock:
            hit = _cache.get(key_hash)
        if hit and hit[1] > now:
            return hit[0]
    grant = accounts.grant_for_key(key_hash, consistent)
    if grant is not None and ttl > 0:
        with _cache_lock:
            _cache[key_hash] = (grant, now + ttl)
    return grant


def forget(key_hash: str) -> None:
    with _cache_lock:
        _cache.pop(key_hash, None)


def clear_cache() -> None:
    with _cache_lock:
        _cache.clear()


def authenticate(credentials: Credentials, permission: str = "read") -> str:
    """Steps 3 to 5: return the caller's account id after charging one request to its quota.

    X-Master-Key wins when both keys are sent. An access key must carry ``permission``
    (create, read, update or delete), checked before any bin is read or anything charged.
    Exact charging (lease size 1) is one conditional write that also checks the key, so the
    lookup may be cached; with leases the key is read consistently on every request.
    """
    master = credentials.master_key is not None
    key = credentials.master_key if master else credentials.access_key
    if key is None:
        raise MissingMasterKey()
    invalid: type[InvalidMasterKey | InvalidAccessKey] = InvalidMasterKey if master else InvalidAccessKey
    if len(key) > MAX_MASTER_KEY_CHARS:
        raise invalid()
    key_hash = hash_key(key)
    grant = _grant(key_hash, consistent=get_settings().quota_lease_size > 1)
    # a master key's item has no access key id; an access key's has: neither passes for the other
    if grant is None or grant.is_access_key == master:
        raise invalid()
    _caller.set(Caller(grant.account_id, grant.access_key_id or "master"))
    if permission not in grant.permissions:
        raise AccessKeyForbidden(permission)
    charging = Charging(access_key_id=grant.access_key_id) if grant.is_access_key else Charging(master_hash=key_hash)
    try:
        quota.charge(grant.account_id, charging)
    except (InvalidMasterKey, InvalidAccessKey):
        forget(key_hash)
        raise
    return grant.account_id
