"""Accounts, master keys and access keys: create-account, rotate-key, set-quota, show-account,
list-access-keys, revoke-access-key.

A new master key is printed exactly once, when it is created; only its SHA-256 is stored.
``show-account`` never prints a key, not even its hash; access keys are listed masked.
"""

from __future__ import annotations

import argparse
import uuid
from typing import Any

from binvault.dal import accounts
from binvault.logic import access_keys, auth
from binvault.models.clock import now_iso

MAX_REQUESTS = 10**12


def create_account(requests: int) -> dict[str, str]:
    account_id = uuid.uuid4().hex
    master_key = auth.new_master_key()
    accounts.create_account(account_id, auth.hash_key(master_key), requests, now_iso())
    return {"accountId": account_id, "masterKey": master_key}


def rotate_key(account_id: str) -> dict[str, str]:
    account = accounts.get_account(account_id)
    master_key = auth.new_master_key()
    accounts.replace_key(account, auth.hash_key(master_key), now_iso())
    return {"accountId": account_id, "masterKey": master_key}


def set_quota(account_id: str, requests: int) -> dict[str, Any]:
    accounts.set_quota(account_id, requests)
    return show_account(account_id)


def show_account(account_id: str) -> dict[str, Any]:
    account = accounts.get_account(account_id)
    return {
        "accountId": account.id,
        "requestsRemaining": account.requests_remaining,
        "createdAt": account.created_at,
    }


def list_access_keys(account_id: str) -> dict[str, Any]:
    accounts.get_account(account_id)  # AccountNotFound
    return {"accountId": account_id, "accessKeys": access_keys.listing(account_id)}


def revoke_access_key(account_id: str, access_key_id: str) -> dict[str, Any]:
    """Delete an account's access key (a leaked one, say): its very next request is refused."""
    access_keys.key_id(access_key_id)  # InvalidAccessKeyId before any I/O
    accounts.get_account(account_id)
    key = access_keys.revoke(account_id, access_key_id)
    return {"accountId": account_id, "accessKeyId": key.id, "name": key.name, "revoked": True}


def requests_count(value: str) -> int:
    """argparse type of ``--requests``: a whole number from 0 to MAX_REQUESTS."""
    number = int(value)
    if not 0 <= number <= MAX_REQUESTS:
        raise argparse.ArgumentTypeError(f"must be between 0 and {MAX_REQUESTS}")
    return number


def register(commands: Any) -> None:
    """Add this group's sub-commands to the parser's ``commands``; each sets ``run``."""
    create = commands.add_parser("create-account", help="create an account and print its key")
    create.add_argument("--requests", type=requests_count, required=True)
    create.set_defaults(run=lambda args: create_account(args.requests))
    rotate = commands.add_parser("rotate-key", help="replace the key; the old one stops at once")
    rotate.add_argument("account_id")
    rotate.set_defaults(run=lambda args: rotate_key(args.account_id))
    quota = commands.add_parser("set-quota", help="set the requests left")
    quota.add_argument("account_id")
    quota.add_argument("--requests", type=requests_count, required=True)
    quota.set_defaults(run=lambda args: set_quota(args.account_id, args.requests))
    show = commands.add_parser("show-account", help="print the account (never its key)")
    show.add_argument("account_id")
    show.set_defaults(run=lambda args: show_account(args.account_id))
    listed = commands.add_parser("list-access-keys", help="print the account's access keys (masked)")
    listed.add_argument("account_id")
    listed.set_defaults(run=lambda args: list_access_keys(args.account_id))
    revoke = commands.add_parser("revoke-access-key", help="delete an access key; it stops at once")
    revoke.add_argument("account_id")
    revoke.add_argument("access_key_id")
    revoke.set_defaults(run=lambda args: revoke_access_key(args.account_id, args.access_key_id))
