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
    binvault-admin import-jsonbin --source-url URL ...  copy a whole JSONBin account (admin/imports.py)
    binvault-admin export ACCOUNT_ID --out FILE     one account in one zip (admin/backups.py)
    binvault-admin import-backup FILE [--account ID]   restore an export, exactly

A new master key is printed exactly once, when it is created; only its SHA-256 is stored.
The table comes from --table or TABLE_NAME, the endpoint from --endpoint-url or
AWS_ENDPOINT_URL_DYNAMODB (unset: AWS DynamoDB in the configured region); the records
bucket from BUCKET_NAME (default ``<table>-records``) and AWS_ENDPOINT_URL_S3.

One module a command group (``accounts``, ``maintenance``, ``imports``, ``backups``), each with a ``register`` that
adds its sub-commands; a command's ``run(args)`` returns the JSON to print (a list: one line
an item) or, when it prints its own output (long work that streams), the exit status.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

from binvault.admin import accounts as account_commands
from binvault.admin import backups, imports, maintenance
from binvault.admin.accounts import create_account, rotate_key, set_quota, show_account
from binvault.dal import accounts
from binvault.exceptions import AccessKeyNotFound, InvalidAccessKeyId, InvalidBinId
from binvault.models.settings import get_settings

__all__ = ["create_account", "main", "rotate_key", "set_quota", "show_account"]

GROUPS = (account_commands, maintenance, imports, backups)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="binvault-admin", description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--table", help="bins table name (default: $TABLE_NAME)")
    parser.add_argument("--endpoint-url", help="DynamoDB endpoint (default: $AWS_ENDPOINT_URL_DYNAMODB)")
    commands = parser.add_subparsers(dest="command", required=True)
    for group in GROUPS:
        group.register(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.table:
        os.environ["TABLE_NAME"] = args.table
    if args.endpoint_url:
        os.environ["AWS_ENDPOINT_URL_DYNAMODB"] = args.endpoint_url
    get_settings.cache_clear()
    try:
        result: Any = args.run(args)
    except accounts.AccountNotFound:
        print(json.dumps({"error": "account not found"}), file=sys.stderr)
        return 1
    except (InvalidBinId, InvalidAccessKeyId, AccessKeyNotFound) as error:
        print(json.dumps({"error": error.message}), file=sys.stderr)
        return 1
    except Exception as error:  # an operator needs the reason, never a traceback with secrets
        print(json.dumps({"error": f"{type(error).__name__}: {error}"}), file=sys.stderr)
        return 1
    if isinstance(result, int):
        return result
    for line in result if isinstance(result, list) else [result]:
        print(json.dumps(line))
    return 0


if __name__ == "__main__":
    sys.exit(main())
