"""`make admin ARGS='...'`: ``binvault-admin`` against the local stack, without guessing.

    python -m binvault.local.admin create-account --requests 1000

The table and the endpoint come from the running stack's ``stack.json`` in the data
directory ($BINVAULT_DATA, default ``.binvault/``); without one (an in-memory stack) from
the local defaults (table ``binvault-local``, DynamoDB on 127.0.0.1:$DYNAMODB_PORT).
``--table`` / ``--endpoint-url`` still win, as with ``binvault-admin`` itself.
"""

from __future__ import annotations

import json
import os
import sys

from binvault.local.stack import LOCAL_ENV, STACK_FILE, data_dir_from_env


def local_settings() -> dict[str, str]:
    """TABLE_NAME and the endpoint of the local stack (and its dummy credentials)."""
    settings = {
        name: os.environ.get(name) or LOCAL_ENV[name]
        for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION", "TABLE_NAME")
    }
    port = os.environ.get("DYNAMODB_PORT", "8000")
    settings["AWS_ENDPOINT_URL_DYNAMODB"] = f"http://127.0.0.1:{port}"
    settings["AWS_ENDPOINT_URL_S3"] = settings["AWS_ENDPOINT_URL_DYNAMODB"]  # the same embedded moto
    data_dir = data_dir_from_env()
    saved = data_dir / STACK_FILE if data_dir else None
    if saved is not None and saved.exists():
        stack = json.loads(saved.read_text())
        settings.update(
            TABLE_NAME=stack["table"],
            AWS_ENDPOINT_URL_DYNAMODB=stack["dynamodb_url"],
            AWS_ENDPOINT_URL_S3=stack.get("s3_url", stack["dynamodb_url"]),
            AWS_DEFAULT_REGION=stack["region"],
        )
        if "bucket" in stack:
            settings["BUCKET_NAME"] = stack["bucket"]
    return settings


def main(argv: list[str] | None = None) -> int:
    from binvault import admin

    os.environ.update(local_settings())
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):  # never a real account from here
        os.environ.pop(name, None)
    return admin.main(argv)


if __name__ == "__main__":
    sys.exit(main())
