"""binvault-admin: the operator CLI for accounts and master keys.

    binvault-admin create-account --requests N   -> {"accountId": ..., "masterKey": ...}
    binvault-admin rotate-key ACCOUNT_ID          -> {"accountId": ..., "masterKey": ...}
    binvault-admin set-quota ACCOUNT_ID --requests N
    binvault-admin show-account ACCOUNT_ID        (never prints a key, not even its hash)
    binvault-admin list-access-keys ACCOUNT_ID    each access key masked to its last 4 characters
    binvault-admin revoke-access-key ACCOUNT_ID ACCESS_KEY_ID   its next request is refused
    binvault-admin purge BIN_ID [BIN_ID ...]      re-drive a dead-lettered purge
    binvault-admin backfill-listing               list bins stored before listings existed
    binvault-admin sweep-orphans [--grace-seconds N]   delete S3 objects no item points to

A new master key is printed exactly once, when it is created; only its SHA-256 is stored.
The table comes from --table or TABLE_NAME, the endpoint from --endpoint-url or
AWS_ENDPOINT_URL_DYNAMODB (unset: AWS DynamoDB in the configured region); the records
bucket from BUCKET_NAME (default ``<table>-records``) and AWS_ENDPOINT_URL_S3.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import uuid
from typing import Any

from binvault.dal import accounts, bins, listing
from binvault.dal.purge import ORPHAN_GRACE_SECONDS, purge_unreachable_records, purge_versions, sweep_orphans
from binvault.exceptions import AccessKeyNotFound, InvalidAccessKeyId, InvalidBinId
from binvault.logic import access_keys, auth, inputs
from binvault.models.clock import now_iso
from binvault.models.settings import get_settings

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


def purge(bin_id: str) -> dict[str, Any]:
    """What the purge Lambda does for a cut-over, a dropped record or a bin delete, without
    its time limit: delete every version item (and S3 object) of the generations below the
    bin's current one except the one the base points to, and the record items the base no
    longer points to; or every item and object of the bin when it is gone (S3 objects that
    nothing points to any more are the sweep's: ``sweep-orphans``). Idempotent, so
    re-driving twice is harmless."""
    bin_id = inputs.bin_id(bin_id)
    base = bins.get_bin(bin_id)
    below = None if base is None else base.generation
    keep = None if base is None else base.record_at
    deleted = purge_versions(bin_id, below, keep=keep)
    if base is not None:  # replaced base records whose drop the stream's purge did not get to
        deleted += purge_unreachable_records(bin_id)
    return {"binId": bin_id, "binExists": base is not None, "belowGeneration": below, "deleted": deleted}


def _requests(value: str) -> int:
    number = int(value)
    if not 0 <= number <= MAX_REQUESTS:
        raise argparse.ArgumentTypeError(f"must be between 0 and {MAX_REQUESTS}")
    return number


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="binvault-admin", description=__doc__.split("\n")[0])
    parser.add_argument("--table", help="bins table name (default: $TABLE_NAME)")
    parser.add_argument("--endpoint-url", help="DynamoDB endpoint (default: $AWS_ENDPOINT_URL_DYNAMODB)")
    commands = parser.add_subparsers(dest="command", required=True)
    create = commands.add_parser("create-account", help="create an account and print its key")
    create.add_argument("--requests", type=_requests, required=True)
    rotate = commands.add_parser("rotate-key", help="replace the key; the old one stops at once")
    rotate.add_argument("account_id")
    quota = commands.add_parser("set-quota", help="set the requests left")
    quota.add_argument("account_id")
    quota.add_argument("--requests", type=_requests, required=True)
    show = commands.add_parser("show-account", help="print the account (never its key)")
    show.add_argument("account_id")
    listed = commands.add_parser("list-access-keys", help="print the account's access keys (masked)")
    listed.add_argument("account_id")
    revoke = commands.add_parser("revoke-access-key", help="delete an access key; it stops at once")
    revoke.add_argument("account_id")
    revoke.add_argument("access_key_id")
    purge_command = commands.add_parser(
        "purge", help="delete a bin's unreachable versions (re-drive a purge that ended in the DLQ)"
    )
    purge_command.add_argument("bin_ids", nargs="+", metavar="bin_id")
    commands.add_parser(
        "backfill-listing", help="give bins stored before listings existed their listing item (one Scan)"
    )
    sweep = commands.add_parser(
        "sweep-orphans", help="delete S3 objects no item points to (what a crashed write left behind)"
    )
    sweep.add_argument("--grace-seconds", type=float, default=ORPHAN_GRACE_SECONDS)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.table:
        os.environ["TABLE_NAME"] = args.table
    if args.endpoint_url:
        os.environ["AWS_ENDPOINT_URL_DYNAMODB"] = args.endpoint_url
    get_settings.cache_clear()
    try:
        if args.command == "create-account":
            result: dict[str, Any] = create_account(args.requests)
        elif args.command == "rotate-key":
            result = rotate_key(args.account_id)
        elif args.command == "set-quota":
            result = set_quota(args.account_id, args.requests)
        elif args.command == "list-access-keys":
            result = list_access_keys(args.account_id)
        elif args.command == "revoke-access-key":
            result = revoke_access_key(args.account_id, args.access_key_id)
        elif args.command == "backfill-listing":
            result = listing.backfill()
        elif args.command == "sweep-orphans":
            result = sweep_orphans(args.grace_seconds)
        elif args.command == "purge":
            for bin_id in args.bin_ids:
                print(json.dumps(purge(bin_id)))
            return 0
        else:
            result = show_account(args.account_id)
    except accounts.AccountNotFound:
        print(json.dumps({"error": "account not found"}), file=sys.stderr)
        return 1
    except (InvalidBinId, InvalidAccessKeyId, AccessKeyNotFound) as error:
        print(json.dumps({"error": error.message}), file=sys.stderr)
        return 1
    except Exception as error:  # an operator needs the reason, never a traceback with secrets
        print(json.dumps({"error": f"{type(error).__name__}: {error}"}), file=sys.stderr)
        return 1
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
