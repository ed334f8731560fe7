"""The Access Keys API (master key only): create, list and delete an account's access keys.

An access key is shown once, when it is created, and stored only as its SHA-256 (like a
master key); the list answers it masked to its last four characters, a deliberate
deviation from JSONBin (whose list returns the secret itself). Deleting a key refuses its
very next request (``dal.access_keys``).
"""

from __future__ import annotations

import json
import os
import re
from typing import Any

from binvault.dal import access_keys
from binvault.exceptions import (
    AccessKeyNameTooLong,
    InvalidAccessKeyId,
    InvalidAccessKeyName,
    InvalidAccessKeyPermissions,
    MissingAccessKeyName,
    MissingMasterKey,
    MissingMasterKeyToDeleteAccessKey,
    MissingMasterKeyToListAccessKeys,
)
from binvault.logic.auth import authenticate, hash_key, new_master_key
from binvault.models.bins import PERMISSIONS, AccessKey, Credentials, Outcome
from binvault.models.clock import now_iso
from binvault.models.settings import get_settings

MAX_NAME_CHARS = 32
MAX_PERMISSIONS_BYTES = 1024
_KEY_ID = re.compile(r"[0-9a-f]{24}")
MASK = "*" * 8


# ---- input (validated before any I/O) -----------------------------------------------------


def key_name(value: str | None) -> str:
    if value is None or not value.strip():
        raise MissingAccessKeyName()
    if len(value) > MAX_NAME_CHARS:
        raise AccessKeyNameTooLong()
    if not value.isprintable():
        raise InvalidAccessKeyName()
    return value


def permissions(raw: bytes) -> frozenset[str]:
    """``{"bins": {"create": bool, "read": bool, "update": bool, "delete": bool}}``; a
    missing permission is false, anything else is refused."""
    if len(raw) > MAX_PERMISSIONS_BYTES:  # a valid body is under 100 bytes; deep nesting would recurse
        raise InvalidAccessKeyPermissions()
    try:
        body = json.loads(raw.decode("utf-8")) if raw.strip() else {}
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise InvalidAccessKeyPermissions() from None
    bins = body.get("bins", {}) if isinstance(body, dict) else None
    if not isinstance(bins, dict) or set(body) - {"bins"} or set(bins) - set(PERMISSIONS):
        raise InvalidAccessKeyPermissions()
    if any(not isinstance(value, bool) for value in bins.values()):
        raise InvalidAccessKeyPermissions()
    return frozenset(p for p in PERMISSIONS if bins.get(p) is True)


def key_id(value: str) -> str:
    if not _KEY_ID.fullmatch(value):
        raise InvalidAccessKeyId()
    return value


# ---- use cases ------------------------------------------------------------------------------


def _permissions_body(allowed: frozenset[str]) -> dict[str, Any]:
    return {"bins": {p: p in allowed for p in PERMISSIONS}}


def _master(master_key: str | None, missing: type[MissingMasterKey]) -> str:
    if master_key is None:
        raise missing()
    return authenticate(Credentials(master_key=master_key))  # a master key holds every permission


def create(master_key: str | None, name: str, allowed: frozenset[str]) -> Outcome:
    account_id = _master(master_key, MissingMasterKey)
    secret = new_master_key()
    key = AccessKey(os.urandom(12).hex(), name, allowed, now_iso(), secret[-4:])
    access_keys.create(account_id, hash_key(secret), key, get_settings().max_access_keys)
    body = {
        "accessKey": secret,
        "accessKeyId": key.id,
        "keyPermissions": _permissions_body(allowed),
        "metadata": {"name": name, "createdAt": key.created_at},
    }
    return Outcome(body)


def listing(account_id: str) -> list[dict[str, Any]]:
    """The account's access keys as the list answers them (each key masked to its last 4
    characters); also what the operator CLI prints."""
    return [
        {
            "keyPermissions": _permissions_body(key.permissions),
            "accessKeyId": key.id,
            "accessKey": MASK + key.last4,
            "metadata": {"name": key.name, "createdAt": key.created_at},
        }
        for key in access_keys.list_keys(account_id)
    ]


def list_keys(master_key: str | None) -> Outcome:
    return Outcome(listing(_master(master_key, MissingMasterKeyToListAccessKeys)))


def revoke(account_id: str, access_key_id: str) -> AccessKey:
    """Delete the key: its very next request is refused (also the operator CLI's revoke)."""
    return access_keys.delete(account_id, key_id(access_key_id))


def delete(master_key: str | None, access_key_id: str) -> Outcome:
    account_id = _master(master_key, MissingMasterKeyToDeleteAccessKey)
    key = revoke(account_id, access_key_id)
    return Outcome({"metadata": {"id": key.id, "name": key.name}, "message": "Access Key deleted successfully"})
