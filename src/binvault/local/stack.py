"""`make run`: the whole service on this machine, no Docker, no AWS account.

1. an embedded DynamoDB endpoint (moto, behind a keep-alive HTTP server) on
   127.0.0.1:$DYNAMODB_PORT, durable by default: a write-ahead journal in $BINVAULT_DATA
   (default ``.binvault/``; ``BINVAULT_DATA=memory`` for a throw-away run), replayed on start.
   The same endpoint serves S3 (the records bucket, for large records: moto dispatches by
   the request's signing scope), kept as one file per object in $BINVAULT_DATA/objects
2. the tables and the records bucket, created from template.yaml's own definitions (when
   not already there)
3. a demo account, whose key is printed with ready-to-paste curl lines (kept in the data
   directory, so a restart prints the same key)
4. the stream poller feeding the purge Lambda, as the deployed event source mapping does
5. the API on http://127.0.0.1:$PORT/v3: werkzeug's HTTP server in front of
   $BINVAULT_CONCURRENCY (default 4) Lambda execution environments running the real
   lambda_handler

A busy port or a data directory another stack is using stops it at once, non-zero, with
the reason. ``python -m binvault.local.stack --reset`` wipes the data directory.
"""

from __future__ import annotations

import contextlib
import gc
import json
import logging
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

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
DATA_ENV, MEMORY = "BINVAULT_DATA", "memory"
DEFAULT_DATA = ".binvault"
CONCURRENCY_ENV, DEFAULT_CONCURRENCY = "BINVAULT_CONCURRENCY", 4
STACK_FILE, DEMO_FILE, LOCK_FILE = "stack.json", "demo.json", "lock"


class StartupError(Exception):
    """Why the stack cannot start (printed as is, exit status 1)."""


def data_dir_from_env() -> Path | None:
    value = os.environ.get(DATA_ENV) or DEFAULT_DATA
    return None if value == MEMORY else Path(value).resolve()


def concurrency_from_env() -> int:
    value = os.environ.get(CONCURRENCY_ENV) or str(DEFAULT_CONCURRENCY)
    if not value.isdigit():
        raise StartupError(f"{CONCURRENCY_ENV} must be a whole number (0 runs the handler in this process)")
    return int(value)


def configure_environment(dynamodb_port: int) -> None:
    for name, value in LOCAL_ENV.items():
        os.environ.setdefault(name, value)
    os.environ["AWS_ENDPOINT_URL_DYNAMODB"] = f"http://127.0.0.1:{dynamodb_port}"
    # S3 from the same embedded moto server (botocore reads AWS_ENDPOINT_URL_<SERVICE>)
    os.environ["AWS_ENDPOINT_URL_S3"] = f"http://127.0.0.1:{dynamodb_port}"
    # Never reach a real AWS account from the local stack, whatever the shell has.
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
        os.environ.pop(name, None)


def quiet_moto() -> None:
    for name in ("werkzeug", "moto", "botocore", "urllib3"):
        logging.getLogger(name).setLevel(logging.ERROR)


def lock_data_dir(data_dir: Path) -> IO[str]:
    """One stack per data directory: an exclusive lock held while it runs."""
    import fcntl

    data_dir.mkdir(parents=True, exist_ok=True)
    handle = (data_dir / LOCK_FILE).open("a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as error:
        handle.seek(0)
        holder = handle.read().strip() or "?"
        handle.close()
        raise StartupError(
            f"data directory {data_dir} is in use by another binvault stack (pid {holder}); "
            f"stop it, or set {DATA_ENV} to another directory"
        ) from error
    handle.seek(0)
    handle.truncate()
    handle.write(str(os.getpid()))
    handle.flush()
    return handle


def _write_private(path: Path, data: dict[str, Any]) -> None:
    temporary = path.with_suffix(".tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as out:
        json.dump(data, out)
    os.replace(temporary, path)


def _ensure_tables(client: Any, table_name: str, idempotency_table_name: str) -> None:
    from binvault.dal import blobs
    from binvault.local.template_tables import create_table

    existing = set(client.list_tables()["TableNames"])
    for logical_id, name in (("BinsTable", table_name), ("IdempotencyTable", idempotency_table_name)):
        if name not in existing:
            create_table(client, logical_id, name)
    blobs.ensure_bucket()


def _demo_account(data_dir: Path | None, demo_requests: int) -> dict[str, str]:
    """The demo account of the previous run when it is still there, else a new one."""
    from binvault import admin
    from binvault.dal import accounts

    saved = data_dir / DEMO_FILE if data_dir else None
    if saved is not None and saved.exists():
        demo: dict[str, str] = json.loads(saved.read_text())
        try:
            accounts.get_account(demo["accountId"])
            return demo
        except accounts.AccountNotFound:
            pass
    demo = admin.create_account(demo_requests)
    if saved is not None:
        _write_private(saved, demo)
    return demo


def _listen(what: str, variable: str, port: int, bind: Any) -> Any:
    try:
        return bind()
    except OSError as error:
        raise StartupError(
            f"cannot listen on 127.0.0.1:{port} for the {what} ({variable}={port}): {error.strerror or error}; "
            f"stop what uses it, or pick another port, e.g. {variable}={port + 1} make run"
        ) from error


class Gateway:
    """The HTTP front and the execution environments in a process of their own
    (``binvault.local.gateway``), serving the API socket this process bound."""

    def __init__(self, api_socket: socket.socket, concurrency: int) -> None:
        ready, self._ready_writer = os.pipe()
        self._ready = ready
        self.process = subprocess.Popen(  # noqa: S603 - this interpreter, our module
            [
                sys.executable,
                "-m",
                "binvault.local.gateway",
                str(api_socket.fileno()),
                str(concurrency),
                str(self._ready_writer),
            ],
            stdin=subprocess.PIPE,
            pass_fds=(api_socket.fileno(), self._ready_writer),
        )
        os.close(self._ready_writer)

    def wait_ready(self, timeout: float = 120.0) -> None:
        try:
            if select.select([self._ready], [], [], timeout)[0] and os.read(self._ready, 16) == b"ready\n":
                return
        finally:
            os.close(self._ready)
        self.stop()
        raise StartupError("the API's execution environments did not start (see the output above)")

    def stop(self) -> None:
        if self.process.stdin is not None:
            with contextlib.suppress(OSError):
                self.process.stdin.close()  # the gateway stops when its stdin closes
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@dataclass
class LocalStack:
    api_url: str
    dynamodb_url: str
    demo: dict[str, str]
    poller: Any
    stop: threading.Event
    data_dir: Path | None = None
    concurrency: int = 0
    replayed: int = 0
    purges_replayed: int = 0
    usage_logs: Any = None  # the in-process handler's usage-log shipper (the gateway has its own)


@contextmanager
def running(
    port: int,
    dynamodb_port: int,
    demo_requests: int = 100_000,
    data_dir: Path | None = None,
    concurrency: int = 0,
    freeze_gc: bool = False,
) -> Iterator[LocalStack]:
    """Start everything; stop everything on exit (also used by the soak and the tests).

    ``freeze_gc``: this process is the stack's own (``make run``), so its objects may be
    frozen for the collector (``freeze_survivors``); not in a test's process.

    ``data_dir`` None keeps the data in memory only; ``concurrency`` 0 runs the handler in
    this process, one event at a time (the soak injects faults into this process's client).
    """
    configure_environment(dynamodb_port)
    quiet_moto()
    from binvault.dal.blobs import s3
    from binvault.dal.client import dynamodb
    from binvault.local import moto_fixes
    from binvault.local.durable import Journal, JournalingApp, ObjectStore, reset_s3
    from binvault.local.dynamodb_server import DynamoDBServer, moto_app
    from binvault.local.pool import InProcess
    from binvault.local.server import listening_socket, make_server
    from binvault.local.streams import StreamPoller
    from binvault.local.usage_logs import Shipper, capture_in_process
    from binvault.models.settings import get_settings

    moto_fixes.install()
    moto_fixes.reset_dynamodb()  # an emulator starts empty, even a second time in one process
    reset_s3()
    get_settings.cache_clear()
    dynamodb.cache_clear()  # type: ignore[attr-defined]
    s3.cache_clear()  # type: ignore[attr-defined]
    stop, wake = threading.Event(), threading.Event()
    with contextlib.ExitStack() as cleanup:
        journal, objects, usage_shipper = None, None, None
        if data_dir is not None:
            cleanup.enter_context(lock_data_dir(data_dir))
            journal = Journal(data_dir)
            cleanup.callback(journal.close)
            objects = ObjectStore(data_dir)
        app = JournalingApp(moto_app(), journal, objects)
        app.on_write.append(wake.set)
        database = _listen(
            "embedded DynamoDB", "DYNAMODB_PORT", dynamodb_port, lambda: DynamoDBServer("127.0.0.1", dynamodb_port, app)
        )
        cleanup.callback(database.server_close)
        api_socket = _listen("API", "PORT", port, lambda: listening_socket("127.0.0.1", port))
        cleanup.callback(api_socket.close)
        api_port = api_socket.getsockname()[1]
        settings = get_settings()
        replayed, pending = 0, []
        if objects is not None:
            replayed += objects.load(os.environ["AWS_DEFAULT_REGION"])
        if journal is not None:
            applied = journal.replay(app.app)
            replayed += applied
            for table in (settings.table_name, settings.idempotency_table_name):
                moto_fixes.release_stream_records(table, 10**40)  # history, not news for the purge
            # ...but a purge still pending when the stack stopped is news: asked again below
            if applied:  # else there is no table yet
                pending = _pending_purges(app.app, settings.table_name, settings.bucket_name)
            journal.maybe_compact(app.app)
        threading.Thread(target=database.serve_forever, name="dynamodb", daemon=True).start()
        cleanup.callback(database.shutdown)
        _ensure_tables(dynamodb(), settings.table_name, settings.idempotency_table_name)
        demo = _demo_account(data_dir, demo_requests)
        poller = StreamPoller(settings.table_name, settings.endpoint_url, release=True)
        poller.enqueue(pending)
        if freeze_gc:
            freeze_survivors()  # what the replay built
        polling = threading.Thread(
            target=poller.run,
            args=(stop,),
            kwargs={"wake": wake, "on_idle": freeze_survivors if freeze_gc else None},
            name="stream-poller",
        )
        polling.daemon = True
        polling.start()
        cleanup.callback(polling.join, 10)
        cleanup.callback(wake.set)
        cleanup.callback(stop.set)
        if concurrency:
            gateway = Gateway(api_socket, concurrency)
            cleanup.callback(gateway.stop)
            gateway.wait_ready()
            api_socket.close()  # the gateway's now
        else:
            # The in-process handler's usage lines go to the usage-logs function, as the
            # environments' do in the gateway (binvault.local.usage_logs).
            shipper = usage_shipper = Shipper()
            cleanup.callback(capture_in_process(shipper))
            shipping, shipper_thread = shipper.start()
            cleanup.callback(shipper_thread.join, 10)
            cleanup.callback(shipping.set)
            api = make_server("127.0.0.1", api_port, InProcess(), sock=api_socket)
            cleanup.callback(api.server_close)
            threading.Thread(target=api.serve_forever, name="api", daemon=True).start()
            cleanup.callback(api.shutdown)
        api_url = f"http://127.0.0.1:{api_port}/v3"
        dynamodb_url = settings.endpoint_url or ""
        if data_dir is not None:
            _write_private(
                data_dir / STACK_FILE,
                {
                    "api_url": api_url,
                    "dynamodb_url": dynamodb_url,
                    "table": settings.table_name,
                    "idempotency_table": settings.idempotency_table_name,
                    "bucket": settings.bucket_name,
                    "s3_url": settings.s3_endpoint_url or "",
                    "region": os.environ["AWS_DEFAULT_REGION"],
                    "pid": os.getpid(),
                },
            )
        yield LocalStack(
            api_url=api_url,
            dynamodb_url=dynamodb_url,
            demo=demo,
            poller=poller,
            stop=stop,
            data_dir=data_dir,
            concurrency=concurrency,
            replayed=replayed,
            purges_replayed=len(pending),
            usage_logs=usage_shipper,
        )


def freeze_survivors() -> None:
    """Collect, then move every object left to the collector's permanent generation.

    This process holds the emulator's whole table as Python objects (moto's items: ~200 k
    tracked objects for a few thousand versions), and CPython's full collection walks every
    one of them, holding the GIL: 0.4 to 1.6 s on a busy two-core machine, several times a
    minute right after a 1000-version purge (its Query deep-copies the partition, its 1000
    REMOVE records carry old images), each one stalling every request in flight. Frozen
    objects are never walked again, so a later collection only walks what is newer; it runs
    when the stream poller is caught up after a burst of writes (``on_idle``), so the walk
    stays small. What frozen objects later drop is freed by reference counting as before
    (moto's items, stream records and requests hold no cycles that outlive a request)."""
    gc.collect()
    gc.freeze()


def _pending_purges(app: Any, table: str, bucket: str) -> list[dict[str, Any]]:
    """The purges the replayed data still needs (``streams.pending_purges``), read straight
    from the emulator: one scan of the table, and the records bucket's keys."""
    from binvault.local.durable import _s3_backend, scan
    from binvault.local.streams import PURGE_PROJECTION, pending_purges

    region = os.environ["AWS_DEFAULT_REGION"]
    stored = _s3_backend().buckets.get(bucket)
    objects = list(stored.keys.keys()) if stored is not None else []
    return pending_purges(scan(app, table, region, PURGE_PROJECTION), objects)


def reset(data_dir: Path | None) -> str:
    """Wipe the data directory (refused while a stack uses it)."""
    if data_dir is None:
        return f"{DATA_ENV}={MEMORY}: nothing to wipe"
    if not data_dir.exists():
        return f"{data_dir} does not exist: nothing to wipe"
    with lock_data_dir(data_dir):
        shutil.rmtree(data_dir)
    return f"wiped {data_dir}"


def admin_line(stack: LocalStack) -> str:
    """A ready-to-paste binvault-admin command against this stack."""
    script = Path(sys.executable).with_name("binvault-admin")
    command = str(script) if script.exists() else "binvault-admin"
    return (
        f"TABLE_NAME={os.environ['TABLE_NAME']} AWS_ENDPOINT_URL_DYNAMODB={stack.dynamodb_url} "
        f"AWS_ENDPOINT_URL_S3={stack.dynamodb_url} "
        f"AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local AWS_DEFAULT_REGION={os.environ['AWS_DEFAULT_REGION']} "
        f"{command} create-account --requests 1000"
    )


def banner(stack: LocalStack) -> str:
    key, url = stack.demo["masterKey"], stack.api_url
    if stack.data_dir is None:
        data = f"in memory only ({DATA_ENV}={MEMORY}): gone when the stack stops"
    else:
        pending = f", {stack.purges_replayed} pending purges run again" if stack.purges_replayed else ""
        data = f"{stack.data_dir}  (durable: {stack.replayed} writes replayed{pending}; make reset wipes it)"
    workers = (
        f"{stack.concurrency} execution environments, {CONCURRENCY_ENV}"
        if stack.concurrency
        else "handler in this process, one request at a time"
    )
    return f"""
binvault is running (Ctrl-C stops everything)
  API        {url}  ({workers})
  console    {url}/console/  (sign in with the demo key; the web console, same origin as the API)
  DynamoDB   {stack.dynamodb_url}  (embedded, table {os.environ["TABLE_NAME"]}; S3 too, for large records)
  data       {data}
  demo key   {key}

Operator CLI (accounts and keys) against this stack:
  make admin ARGS='create-account --requests 1000'
  {admin_line(stack)}

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

Usage logs (a second or so after the requests; docs/usage-logs.md):
  curl -s {url}/l -H "X-Master-Key: $KEY"
  curl -s {url}/l/$(date -u +%d-%m-%Y) -H "X-Master-Key: $KEY" -o usage.zip && unzip -p usage.zip
"""


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        data_dir = data_dir_from_env()
        if args == ["--reset"]:
            print(reset(data_dir))
            return 0
        port = int(os.environ.get("PORT", "3000"))
        dynamodb_port = int(os.environ.get("DYNAMODB_PORT", "8000"))
        concurrency = concurrency_from_env()
        with running(port, dynamodb_port, data_dir=data_dir, concurrency=concurrency, freeze_gc=True) as stack:
            # SIGTERM (a supervisor, a test) stops as cleanly as Ctrl-C; kill -9 loses nothing
            # acknowledged either (the journal is synced before each write is answered).
            signal.signal(signal.SIGTERM, lambda *_: stack.stop.set())
            print(banner(stack), flush=True)
            with contextlib.suppress(KeyboardInterrupt):
                stack.stop.wait()
            print("\nstopping binvault", file=sys.stderr)
    except StartupError as error:
        print(f"binvault: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
