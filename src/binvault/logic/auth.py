"""Steps 4 and 5 of the contract's check order: who is calling, and may they.

Keys are hashed with SHA-256 before they are looked up: they are 256-bit random tokens,
so a slow password hash would add latency without adding safety. The clear key is never
stored, logged or echoed.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time

from binvault.dal import accounts
from binvault.exceptions import InvalidMasterKey
from binvault.logic import quota
from binvault.logic.inputs import MAX_MASTER_KEY_CHARS
from binvault.models.settings import get_settings

KEY_BYTES = 32  # 256 bits

_cache: dict[str, tuple[str, float]] = {}
_cache_lock = threading.Lock()


def new_master_key() -> str:
    return secrets.token_urlsafe(KEY_BYTES)


def hash_key(master_key: str) -> str:
    return hashlib.sha256(master_key.encode("utf-8", errors="surrogatepass")).hexdigest()


def _account_id(key_hash: str) -> str | None:
    """hash -> account id, cached per warm container for KEY_CACHE_SECONDS.

    Caching is safe for revocation: the quota decrement re-checks that the hash is still
    the account's key, so a rotated key fails on its next request whatever the cache says.
    """
    ttl = get_settings().key_cache_seconds
    now = time.monotonic()
    if ttl > 0:
        with _cache_lock:
            hit = _cache.get(key_hash)
        if hit and hit[1] > now:
            return hit[0]
    account_id = accounts.account_id_for_key(key_hash)
    if account_id and ttl > 0:
        with _cache_lock:
            _cache[key_hash] = (account_id, now + ttl)
    return account_id


def forget(key_hash: str) -> None:
    with _cache_lock:
        _cache.pop(key_hash, None)


def clear_cache() -> None:
    with _cache_lock:
        _cache.clear()


def authenticate(master_key: str) -> str:
    """Return the caller's account id after charging one request to its quota.

    Exact charging (lease size 1) is one conditional decrement that also checks the key,
    so the key lookup may be cached. With leases most requests write nothing, so the key
    is read consistently on every request instead: a rotated key fails at once either way.
    """
    if len(master_key) > MAX_MASTER_KEY_CHARS:
        raise InvalidMasterKey()
    key_hash = hash_key(master_key)
    leased = get_settings().quota_lease_size > 1
    account_id = accounts.account_id_for_key_now(key_hash) if leased else _account_id(key_hash)
    if account_id is None:
        raise InvalidMasterKey()
    try:
        quota.charge(account_id, key_hash)
    except InvalidMasterKey:
        forget(key_hash)
        raise
    return account_id
