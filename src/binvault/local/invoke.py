"""`make invoke` / `python -m binvault.local.invoke EVENT.json`: run one Lambda on one event,
as `sam local invoke -e EVENT.json` would, without Docker.

- an API Gateway event goes to ``binvault.handlers.api.lambda_handler``; an event with
  ``Records`` (a DynamoDB Stream batch) to ``binvault.handlers.purge.lambda_handler``;
- with AWS_ENDPOINT_URL_DYNAMODB set (e.g. to a running `make run`, whose tables are
  binvault-local), the handler uses that endpoint and its data;
- otherwise it runs against an in-process moto with the tables of template.yaml. That
  database starts empty, so unless ``--no-seed`` is given, the event's X-Master-Key is
  registered as an account and the bin its path names is created with a few versions:
  the event then exercises the route, not a 401/404.

The handler's response is printed as JSON on stdout; the function's own output (logs,
metrics) goes to stderr, as with sam.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import sys
import traceback
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, cast

from binvault.local.events import LocalContext

SEED_VERSIONS = 3
SEED_REQUESTS = 1000
_BIN_IN_PATH = re.compile(r"/b/([0-9a-f]{24})(?:/|$)")


def _environment() -> None:
    """The local stack's settings for whatever the shell does not set; never an AWS profile."""
    from binvault.local.stack import LOCAL_ENV

    for name, value in LOCAL_ENV.items():
        os.environ.setdefault(name, value)
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
        os.environ.pop(name, None)


def _header(event: dict[str, Any], name: str) -> str | None:
    for key, value in (event.get("headers") or {}).items():
        if key.lower() == name.lower() and isinstance(value, str):
            return value
    return None


Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


def handler_for(event: dict[str, Any]) -> Handler:
    """The function template.yaml wires to this kind of event."""
    if "Records" in event:
        from binvault.handlers.purge import lambda_handler as purge_handler

        return cast(Handler, purge_handler)
    from binvault.handlers.api import lambda_handler as api_handler

    return cast(Handler, api_handler)


def seed(event: dict[str, Any]) -> list[str]:
    """Make the event's key and bin exist; returns what was created (for stderr)."""
    from binvault.dal import accounts, bins, records
    from binvault.logic import auth
    from binvault.models.bins import Bin, StoredRecord
    from binvault.models.clock import now_iso

    notes: list[str] = []
    key = _header(event, "X-Master-Key")
    if not key or not key.strip():
        return notes
    account_id = uuid.uuid4().hex
    accounts.create_account(account_id, auth.hash_key(key.strip()), SEED_REQUESTS, now_iso())
    notes.append(f"registered the event's X-Master-Key as account {account_id}")
    match = _BIN_IN_PATH.search(str(event.get("path") or ""))
    if match is None:
        return notes
    bin_id = match.group(1)
    now = now_iso()
    bins.put_new_bin(
        Bin(
            id=bin_id,
            owner=account_id,
            private=True,
            name=None,
            created_at=now,
            record=StoredRecord(records.encode({"version": 0})),
            generation=0,
            version_count=0,
            rev=1,
        )
    )
    for number in range(1, SEED_VERSIONS + 1):
        base = bins.get_bin(bin_id)
        assert base is not None
        bins.append_version(base, StoredRecord(records.encode({"version": number})), now_iso())
    notes.append(f"created bin {bin_id} with {SEED_VERSIONS} versions")
    return notes


@contextlib.contextmanager
def in_process_dynamodb() -> Iterator[None]:
    from moto import mock_aws

    from binvault.dal.client import dynamodb
    from binvault.local import moto_fixes
    from binvault.local.template_tables import create_tables
    from binvault.models.settings import get_settings

    moto_fixes.install()
    with mock_aws():
        settings = get_settings()
        create_tables(dynamodb(), settings.table_name, settings.idempotency_table_name)
        yield


def invoke(event: dict[str, Any], seed_data: bool = True) -> dict[str, Any]:
    """Run the event's handler and return its response (logs and metrics go to stderr)."""
    _environment()
    with contextlib.ExitStack() as stack:
        # Powertools binds its log stream to sys.stdout when the handler module is imported
        # and prints metrics there: importing and running under this redirect keeps stdout
        # for the response alone.
        stack.enter_context(contextlib.redirect_stdout(sys.stderr))
        if not os.environ.get("AWS_ENDPOINT_URL_DYNAMODB"):
            stack.enter_context(in_process_dynamodb())
            if seed_data and "Records" not in event:
                for note in seed(event):
                    print(f"invoke: {note}", file=sys.stderr)
        return handler_for(event)(event, LocalContext())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m binvault.local.invoke", description=__doc__.split("\n")[0])
    parser.add_argument("event", type=Path, help="a JSON event file (API Gateway REST proxy, or DynamoDB Stream)")
    parser.add_argument("--no-seed", action="store_true", help="in-process moto: start from empty tables")
    args = parser.parse_args(argv)
    try:
        event = json.loads(args.event.read_text())
    except (OSError, ValueError) as error:
        parser.error(f"cannot read {args.event}: {error}")
    if not isinstance(event, dict):
        parser.error(f"{args.event} does not hold a JSON object")
    where = os.environ.get("AWS_ENDPOINT_URL_DYNAMODB") or "in-process moto (tables from template.yaml)"
    print(f"invoke: {args.event} against {where}", file=sys.stderr)
    try:
        response = invoke(event, seed_data=not args.no_seed)
    except Exception as error:  # what Lambda reports for an unhandled exception
        trace = traceback.format_exception(error)
        response = {"errorMessage": str(error), "errorType": type(error).__name__, "stackTrace": trace}
        print(json.dumps(response, indent=2, ensure_ascii=False))
        return 1
    print(json.dumps(response, indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
