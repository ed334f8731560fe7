"""`make run`: the whole service on this machine, no Docker, no AWS account.

1. an embedded DynamoDB endpoint (moto's server, quiet) on 127.0.0.1:$DYNAMODB_PORT
2. the tables, created from template.yaml's own definitions
3. a demo account, whose key is printed with ready-to-paste curl lines
4. the stream poller feeding the purge Lambda, as the deployed event source mapping does
5. the API on http://127.0.0.1:$PORT/v3, every request served by the real lambda_handler
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

LOCAL_ENV = {
    "AWS_ACCESS_KEY_ID": "local",
    "AWS_SECRET_ACCESS_KEY": "local",
    "AWS_DEFAULT_REGION": "us-east-1",
    "TABLE_NAME": "binvault-local",
    "IDEMPOTENCY_TABLE_NAME": "binvault-local-idempotency",
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_METRICS_DISABLED": "true",
    "POWERTOOLS_LOG_LEVEL": "WARNING",
    "PURCHASE_URL": "https://binvault.example/pricing",
}


def configure_environment(dynamodb_port: int) -> None:
    for name, value in LOCAL_ENV.items():
        os.environ.setdefault(name, value)
    os.environ["AWS_ENDPOINT_URL_DYNAMODB"] = f"http://127.0.0.1:{dynamodb_port}"
    # Never reach a real AWS account from the local stack, whatever the shell has.
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
        os.environ.pop(name, None)


def quiet_moto() -> None:
    for name in ("werkzeug", "moto", "botocore", "urllib3"):
        logging.getLogger(name).setLevel(logging.ERROR)


@dataclass
class LocalStack:
    api_url: str
    dynamodb_url: str
    demo: dict[str, str]
    poller: Any
    stop: threading.Event


@contextmanager
def running(port: int, dynamodb_port: int, demo_requests: int = 100_000) -> Iterator[LocalStack]:
    """Start everything; stop everything on exit (also used by the integration tests)."""
    configure_environment(dynamodb_port)
    quiet_moto()
    from moto.server import ThreadedMotoServer

    from binvault import admin
    from binvault.dal.client import dynamodb
    from binvault.local import moto_fixes
    from binvault.local.server import make_server
    from binvault.local.streams import StreamPoller
    from binvault.local.template_tables import create_tables
    from binvault.models.settings import get_settings

    moto_fixes.install()
    get_settings.cache_clear()
    dynamodb.cache_clear()  # type: ignore[attr-defined]
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=dynamodb_port, verbose=False)
    moto.start()
    stop = threading.Event()
    server = None
    try:
        settings = get_settings()
        create_tables(dynamodb(), settings.table_name, settings.idempotency_table_name)
        demo = admin.create_account(demo_requests)
        poller = StreamPoller(settings.table_name, settings.endpoint_url)
        threading.Thread(target=poller.run, args=(stop,), name="stream-poller", daemon=True).start()
        server = make_server("127.0.0.1", port)
        threading.Thread(target=server.serve_forever, name="api", daemon=True).start()
        yield LocalStack(
            api_url=f"http://127.0.0.1:{server.server_address[1]}/v3",
            dynamodb_url=settings.endpoint_url or "",
            demo=demo,
            poller=poller,
            stop=stop,
        )
    finally:
        stop.set()
        if server is not None:
            server.shutdown()
            server.server_close()
        moto.stop()


def banner(stack: LocalStack) -> str:
    key, url = stack.demo["masterKey"], stack.api_url
    return f"""
binvault is running (Ctrl-C stops everything)
  API        {url}
  DynamoDB   {stack.dynamodb_url}  (embedded, table {os.environ["TABLE_NAME"]})
  demo key   {key}

Try it:
  export KEY='{key}'
  ID=$(curl -s -X POST {url}/b -H 'Content-Type: application/json' -H "X-Master-Key: $KEY" \\
        -d '{{"greeting": "hello"}}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["metadata"]["id"])')
  curl -s -X PUT {url}/b/$ID -H 'Content-Type: application/json' -H "X-Master-Key: $KEY" \\
        -H 'X-Bin-Versioning: true' -d '{{"greeting": "hello again"}}'
  curl -s -X PUT {url}/b/$ID -H 'Content-Type: application/json' -H "X-Master-Key: $KEY" \\
        -H 'X-Bin-Versioning: true' -d '{{"greeting": "third time"}}'
  curl -s {url}/b/$ID/latest -H "X-Master-Key: $KEY"
  curl -s {url}/b/$ID/versions/count -H "X-Master-Key: $KEY"
  curl -s -X DELETE {url}/b/$ID/versions -H "X-Master-Key: $KEY" -H 'X-Preserve-Latest: true'
  curl -s {url}/b/$ID -H "X-Master-Key: $KEY"
"""


def main() -> int:
    port = int(os.environ.get("PORT", "3000"))
    dynamodb_port = int(os.environ.get("DYNAMODB_PORT", "8000"))
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    with running(port, dynamodb_port) as stack:
        print(banner(stack), flush=True)
        try:
            stack.stop.wait()
        except KeyboardInterrupt:
            print("\nstopping binvault", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
