"""Durability for the embedded DynamoDB: a write-ahead journal in front of moto's server.

Why a journal of requests (and not, say, pickling moto's tables after each write): moto
keeps its tables in memory and has no storage of its own, and no persistent
DynamoDB-compatible engine installs from PyPI without Java or Docker. Every mutating
DynamoDB request that succeeds is appended to ``journal.jsonl`` (one JSON line: sequence
number, region, operation, request body) and the file is fdatasync'ed *before* the HTTP
response leaves, so anything a client was told about survives Ctrl-C, ``kill -9`` or a
power cut. On start, the snapshot and then the journal are replayed in order through
moto's own request handling; requests are deterministic given the same prior state
(condition expressions re-evaluate the same way in the same order; binvault and
Powertools pass their own timestamps, and moto expires nothing by TTL), so the replayed
tables equal the acknowledged ones. The cost is one append and one fdatasync per write;
concurrent writers share an fdatasync (group commit).

Compaction keeps start-up fast: the tables are dumped (as CreateTable/UpdateTimeToLive
requests plus one PutItem per item, i.e. a journal that rebuilds the same state) to a
temporary file, fsync'ed and atomically renamed to ``snapshot.jsonl``; then the journal
is truncated. The snapshot names the last sequence number it contains, so a crash
between the rename and the truncation never replays an entry twice. A torn last journal
line (a crash during its write) was never acknowledged and is dropped.

S3 (large records, served by the same moto app) is kept differently: each object is a file
under ``objects/<bucket>/<key>``, written (and fsync'ed, then renamed) or removed right after
moto applied a mutating S3 request and *before* its response leaves, read back from moto's
own S3 state so that no request encoding (chunked uploads, checksums, DeleteObjects' XML)
needs parsing here. Objects are not in the journal because they would make it, and its
compaction, carry megabytes per write; a file per object is what S3 is anyway. On start
the files are loaded into moto before the journal is replayed. binvault writes an object
before the item that points at it (dal/records.py), so after a crash every journalled
pointer finds its object on disk.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import threading
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

log = logging.getLogger("binvault.local.durable")

JOURNAL = "journal.jsonl"
SNAPSHOT = "snapshot.jsonl"
OBJECTS = "objects"
COMPACT_BYTES = 32 * 1024 * 1024
TARGET_PREFIX = "DynamoDB_20120810."
READ_ONLY = frozenset(
    {"GetItem", "BatchGetItem", "Query", "Scan", "TransactGetItems", "DescribeTable", "DescribeTimeToLive"}
)
SCHEMA = frozenset({"CreateTable", "UpdateTable", "UpdateTimeToLive", "DeleteTable"})
AMZ_JSON = "application/x-amz-json-1.0"

WsgiApp = Callable[[dict[str, Any], Any], Iterable[bytes]]


def operation_of(environ: dict[str, Any]) -> str | None:
    """The DynamoDB operation a request names (``PutItem``), or None for anything else."""
    target = str(environ.get("HTTP_X_AMZ_TARGET") or "")
    return target[len(TARGET_PREFIX) :] if target.startswith(TARGET_PREFIX) else None


def is_mutating(operation: str | None) -> bool:
    return (
        operation is not None and operation not in READ_ONLY and not operation.startswith(("Describe", "List", "Get"))
    )


def service_of(environ: dict[str, Any]) -> str:
    """The service of a SigV4 request's credential scope (``dynamodb``, ``s3``)."""
    auth = str(environ.get("HTTP_AUTHORIZATION") or "")
    try:
        return auth.split(",")[0].split()[1].split("/")[3]
    except IndexError:
        return ""


def region_of(environ: dict[str, Any]) -> str:
    """The region of a SigV4 request's credential scope (moto keeps one backend per region)."""
    auth = str(environ.get("HTTP_AUTHORIZATION") or "")
    try:
        return auth.split(",")[0].split()[1].split("/")[2]
    except IndexError:
        return os.environ.get("AWS_DEFAULT_REGION", "us-east-1")


def call(app: WsgiApp, operation: str, body: dict[str, Any], region: str) -> tuple[int, bytes]:
    """Send one DynamoDB request straight to the WSGI app (no socket): for replay and dumps."""
    raw = json.dumps(body).encode()
    environ = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": "/",
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "0",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "CONTENT_TYPE": AMZ_JSON,
        "CONTENT_LENGTH": str(len(raw)),
        "HTTP_HOST": "127.0.0.1",
        "HTTP_X_AMZ_TARGET": TARGET_PREFIX + operation,
        "HTTP_AUTHORIZATION": f"AWS4-HMAC-SHA256 Credential=local/20260101/{region}/dynamodb/aws4_request, "
        "SignedHeaders=host, Signature=0",
        "wsgi.input": io.BytesIO(raw),
        "wsgi.errors": io.StringIO(),
        "wsgi.url_scheme": "http",
        "wsgi.version": (1, 0),
        "wsgi.multithread": True,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }
    status, _, payload = call_wsgi(app, environ)
    return int(status.split()[0]), payload


def call_wsgi(app: WsgiApp, environ: dict[str, Any]) -> tuple[str, list[tuple[str, str]], bytes]:
    """Run one request through a WSGI application: (status line, headers, body)."""
    response: list[Any] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        response[:] = [status, headers]
        return lambda data: None

    chunks = app(environ, start_response)
    try:
        body = b"".join(chunks)
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:
            close()
    return response[0], response[1], body


class Journal:
    """The data directory's journal and snapshot (see the module docstring)."""

    def __init__(self, directory: Path, compact_bytes: int | None = None) -> None:
        self.directory = directory
        self.compact_bytes = compact_bytes or int(os.environ.get("BINVAULT_COMPACT_BYTES") or COMPACT_BYTES)
        self.lock = threading.Lock()  # orders appends exactly as the writes were applied
        self._sync_lock = threading.Lock()
        self.seq = 0
        self._written = 0
        self._synced = 0
        self._schema: list[dict[str, Any]] = []
        self._regions: set[str] = set()
        self._compacting = False
        directory.mkdir(parents=True, exist_ok=True)
        self._fd = os.open(directory / JOURNAL, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)

    # ---- reading back -----------------------------------------------------------------

    @staticmethod
    def _lines(path: Path) -> Iterator[dict[str, Any]]:
        if not path.exists():
            return
        with path.open("rb") as stream:
            for number, line in enumerate(stream, start=1):
                try:
                    entry = json.loads(line)
                except ValueError:
                    # Only the last line can be torn (a crash during its write, before any
                    # acknowledgement); anything else is damage worth saying out loud.
                    log.warning("%s line %d is incomplete and was skipped", path.name, number)
                    continue
                if isinstance(entry, dict):
                    yield entry

    def replay(self, app: WsgiApp) -> int:
        """Rebuild the tables from the snapshot and the journal; returns entries applied."""
        applied = 0
        snapshot_seq = 0
        for entry in self._lines(self.directory / SNAPSHOT):
            if "snapshot_seq" in entry:
                snapshot_seq = int(entry["snapshot_seq"])
                continue
            applied += self._apply(app, entry)
        self.seq = snapshot_seq
        for entry in self._lines(self.directory / JOURNAL):
            if int(entry.get("seq", 0)) <= snapshot_seq:
                continue  # already in the snapshot (a crash before the journal was truncated)
            applied += self._apply(app, entry)
            self.seq = max(self.seq, int(entry["seq"]))
        self._written = self._synced = self.seq
        return applied

    def _apply(self, app: WsgiApp, entry: dict[str, Any]) -> int:
        operation, body, region = entry["op"], entry["body"], entry.get("region", "us-east-1")
        status, payload = call(app, operation, body, region)
        if status != 200:
            log.warning("replaying %s gave HTTP %d: %s", operation, status, payload[:200])
            return 0
        self._remember(operation, body, region)
        return 1

    def _remember(self, operation: str, body: dict[str, Any], region: str) -> None:
        self._regions.add(region)
        if operation == "DeleteTable":
            name = body.get("TableName")
            self._schema = [e for e in self._schema if e["body"].get("TableName") != name]
        elif operation in SCHEMA:
            self._schema.append({"op": operation, "body": body, "region": region})

    # ---- writing ----------------------------------------------------------------------

    def append(self, operation: str, body: dict[str, Any], region: str) -> int:
        """Write one entry (call with ``self.lock`` held, right after the write applied)."""
        self.seq += 1
        line = json.dumps({"seq": self.seq, "op": operation, "region": region, "body": body}, separators=(",", ":"))
        os.write(self._fd, line.encode() + b"\n")
        self._written = self.seq
        self._remember(operation, body, region)
        return self.seq

    def sync(self, seq: int) -> None:
        """Return once entry ``seq`` is on disk; one fdatasync covers every writer waiting."""
        with self._sync_lock:
            if self._synced >= seq:
                return
            target = self._written
            os.fdatasync(self._fd)
            self._synced = target

    def maybe_compact(self, app: WsgiApp) -> None:
        """Compact in the background once the journal outgrows ``compact_bytes``."""
        with self._sync_lock:
            if self._compacting or os.fstat(self._fd).st_size <= self.compact_bytes:
                return
            self._compacting = True
        threading.Thread(target=self.compact, args=(app,), name="journal-compaction", daemon=True).start()

    def compact(self, app: WsgiApp) -> None:
        """Snapshot every table and truncate the journal (writers wait meanwhile)."""
        with self.lock:
            try:
                self._write_snapshot(app)
                os.ftruncate(self._fd, 0)
                os.fsync(self._fd)
            finally:
                self._compacting = False

    def _write_snapshot(self, app: WsgiApp) -> None:
        temporary = self.directory / (SNAPSHOT + ".tmp")
        with temporary.open("w") as out:
            out.write(json.dumps({"snapshot_seq": self.seq}) + "\n")
            for entry in self._schema:
                out.write(json.dumps(entry, separators=(",", ":")) + "\n")
            for entry in self._schema:
                if entry["op"] != "CreateTable":
                    continue
                for item in scan(app, entry["body"]["TableName"], entry["region"]):
                    body = {"TableName": entry["body"]["TableName"], "Item": item}
                    out.write(json.dumps({"op": "PutItem", "region": entry["region"], "body": body}) + "\n")
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, self.directory / SNAPSHOT)
        directory = os.open(self.directory, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            os.close(self._fd)


def scan(app: WsgiApp, table: str, region: str, extra: dict[str, Any] | None = None) -> Iterator[dict[str, Any]]:
    """Every item of ``table``, straight from the WSGI app (``extra``: a projection, say)."""
    request: dict[str, Any] = {"TableName": table, "ConsistentRead": True, **(extra or {})}
    while True:
        status, payload = call(app, "Scan", request, region)
        if status != 200:
            raise RuntimeError(f"scanning {table} gave HTTP {status}")
        page = json.loads(payload)
        yield from page.get("Items", [])
        if "LastEvaluatedKey" not in page:
            return
        request["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def _s3_backend() -> Any:
    from moto.core.models import DEFAULT_ACCOUNT_ID
    from moto.s3.models import s3_backends

    return s3_backends[DEFAULT_ACCOUNT_ID]["aws"]


def reset_s3() -> None:
    """Empty moto's in-process S3 (an emulator starts empty, even a second time in one process)."""
    from moto.s3.models import s3_backends

    for account in list(s3_backends.values()):
        account.reset()


class ObjectStore:
    """The S3 objects of the data directory, one file each (see the module docstring)."""

    def __init__(self, directory: Path) -> None:
        self.root = directory / OBJECTS
        self.root.mkdir(parents=True, exist_ok=True)
        self.lock = threading.Lock()

    def _path(self, bucket: str, key: str) -> Path:
        path = (self.root / bucket / key).resolve()
        if not path.is_relative_to(self.root.resolve()) or not key or key.endswith("/"):
            raise ValueError(f"unsafe object key {key!r}")
        return path

    def load(self, region: str) -> int:
        """Put every stored object back into moto's S3; returns how many."""
        backend, loaded = _s3_backend(), 0
        for bucket_dir in sorted(p for p in self.root.iterdir() if p.is_dir()):
            if bucket_dir.name not in backend.buckets:
                backend.create_bucket(bucket_dir.name, region)
            for path in sorted(p for p in bucket_dir.rglob("*") if p.is_file() and not p.name.endswith(".tmp")):
                backend.put_object(bucket_dir.name, path.relative_to(bucket_dir).as_posix(), path.read_bytes())
                loaded += 1
        return loaded

    def sync(self, bucket: str, key: str | None) -> None:
        """Make the files match moto's state for one object (``key``) or a whole bucket."""
        from urllib.parse import unquote

        backend = _s3_backend()
        with self.lock:
            if bucket not in backend.buckets:
                return
            (self.root / bucket).mkdir(exist_ok=True)
            stored = backend.buckets[bucket].keys
            if key:
                found = stored.get(unquote(key))
                if found is not None:
                    self._write(self._path(bucket, unquote(key)), found.value)
                    return
                gone = [unquote(key)]
            else:
                # A whole bucket (DeleteObjects): only what differs, never a rewrite of every object.
                files, names = set(self._files(bucket)), set(stored.keys())
                for name in sorted(names - files):
                    self._write(self._path(bucket, name), stored[name].value)
                gone = sorted(files - names)
            for name in gone:
                with contextlib.suppress(FileNotFoundError):
                    self._path(bucket, name).unlink()

    def _files(self, bucket: str) -> list[str]:
        base = self.root / bucket
        return [p.relative_to(base).as_posix() for p in base.rglob("*") if p.is_file() and not p.name.endswith(".tmp")]

    @staticmethod
    def _write(path: Path, data: bytes) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(path.name + ".tmp")
        with temporary.open("wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
        directory = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)


class JournalingApp:
    """WSGI middleware in front of moto's app: journals each successful mutating request
    and makes it durable before the response is returned; tells ``on_write`` listeners
    (the stream poller) that something changed. ``journal=None`` is the in-memory mode."""

    def __init__(self, app: WsgiApp, journal: Journal | None = None, objects: ObjectStore | None = None) -> None:
        self.app = app
        self.journal = journal
        self.objects = objects
        self.on_write: list[Callable[[], None]] = []

    def _s3(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        """An S3 request: a mutating one that succeeded is on disk before it is answered."""
        assert self.objects is not None
        captured: list[Any] = []

        def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            captured[:] = [status, headers, exc_info]
            return lambda data: None

        body = self._run(environ, capture)
        if captured[0].startswith("2"):
            bucket, _, key = str(environ.get("PATH_INFO") or "/").lstrip("/").partition("/")
            # DeleteObjects (POST ?delete) names its keys in XML: sync the whole bucket
            self.objects.sync(bucket, key if environ["REQUEST_METHOD"] != "POST" else None)
        start_response(*captured)
        return [body]

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        if (
            self.objects is not None
            and environ.get("REQUEST_METHOD") in ("PUT", "POST", "DELETE")
            and service_of(environ) == "s3"
        ):
            return self._s3(environ, start_response)
        operation = operation_of(environ)
        if not is_mutating(operation):
            return self.app(environ, start_response)
        assert operation is not None
        length = int(environ.get("CONTENT_LENGTH") or 0)
        raw = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(raw)
        captured: list[Any] = []

        def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            captured[:] = [status, headers, exc_info]
            return lambda data: None  # moto never uses the write() callable

        seq = 0
        if self.journal is None:
            body = self._run(environ, capture)
        else:
            with self.journal.lock:
                body = self._run(environ, capture)
                if captured[0].startswith("200"):
                    seq = self.journal.append(operation, json.loads(raw), region_of(environ))
            if seq:
                self.journal.sync(seq)
                self.journal.maybe_compact(self.app)
        if captured[0].startswith("200"):
            for listener in self.on_write:
                listener()
        start_response(*captured)
        return [body]

    def _run(self, environ: dict[str, Any], capture: Any) -> bytes:
        chunks = self.app(environ, capture)
        try:
            return b"".join(chunks)
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()
