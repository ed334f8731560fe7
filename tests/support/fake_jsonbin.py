"""A fake JSONBin v3 account over loopback HTTP, written from ../shared/JSONBIN-PARITY.md:
the source the import tests copy from.

- ``GET /v3/c``: ``[{"record", "collectionMeta": {"name"}, "schemaDocId", "createdAt"}]``;
- ``GET /v3/c/{id|uncategorized}/bins[/{lastBinId}]``: pages of 10, metadata only
  (``{"snippetMeta": {"name"}?, "private", "record", "createdAt"}``), ``X-Sort-Order``;
- ``GET /v3/b/{id}`` (the base record), ``/latest`` (``metadata.version`` = its number, 0 =
  base), ``/{n}`` (version n, ``metadata.createdAt`` = the version's), ``/versions/count``;
- ``GET /v3/s/{id}``: a schema doc as JSONBin gives it (``record`` = the schema);
- ``GET /v3/a``: the access keys **unmasked** (JSONBin returns each key's secret);
- ``X-Master-Key`` on every call; every call counts against ``budget`` and past it the answer
  is ``403 {"message": "Requests exhausted. Buy additional requests at https://jsonbin.io/pricing"}``;
- injectable faults: ``fail_next(status | "network", times)`` (a network fault closes the
  connection without an answer), ``refuse(bin_id, status, message)`` (a record the source
  will not give, every time).

Bound to 127.0.0.1 on a port the OS picks (safe under pytest-xdist).
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

EXHAUSTED = "Requests exhausted. Buy additional requests at https://jsonbin.io/pricing"
PAGE = 10


def object_id() -> str:
    return os.urandom(12).hex()


def jsonbin_key() -> str:
    """A key shaped like JSONBin's (a bcrypt string: ``$2a$10$`` and 53 more characters)."""
    alphabet = "./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
    return "$2a$10$" + "".join(alphabet[b % 64] for b in os.urandom(53))


@dataclass
class FakeBin:
    id: str
    record: Any
    created_at: str
    private: bool = True
    name: str | None = None
    collection_id: str | None = None
    versions: list[tuple[Any, str]] = field(default_factory=list)  # (record, createdAt), version n at n-1


@dataclass
class FakeAccount:
    master_key: str = field(default_factory=jsonbin_key)
    bins: dict[str, FakeBin] = field(default_factory=dict)
    collections: dict[str, dict[str, Any]] = field(default_factory=dict)
    schema_docs: dict[str, dict[str, Any]] = field(default_factory=dict)
    access_keys: list[dict[str, Any]] = field(default_factory=list)
    clock: int = 0

    def now(self) -> str:
        """Distinct, increasing timestamps (ISO 8601 UTC, milliseconds, as JSONBin's)."""
        self.clock += 1
        seconds, millis = divmod(self.clock, 1000)
        minutes, seconds = divmod(seconds, 60)
        hours, minutes = divmod(minutes, 60)
        return f"2024-03-01T{hours:02d}:{minutes:02d}:{seconds:02d}.{millis:03d}Z"

    def add_bin(
        self,
        record: Any,
        versions: list[Any] | None = None,
        private: bool = True,
        name: str | None = None,
        collection_id: str | None = None,
    ) -> FakeBin:
        created = FakeBin(object_id(), record, self.now(), private, name, collection_id)
        created.versions = [(v, self.now()) for v in versions or []]
        self.bins[created.id] = created
        return created

    def add_collection(self, name: str, schema: dict[str, Any] | None = None, schema_name: str = "Schema") -> str:
        collection_id = object_id()
        doc_id = None
        if schema is not None:
            doc_id = object_id()
            self.schema_docs[doc_id] = {"name": schema_name, "schema": schema, "createdAt": self.now()}
        self.collections[collection_id] = {"name": name, "createdAt": self.now(), "schemaDocId": doc_id}
        return collection_id

    def add_access_key(self, name: str, permissions: dict[str, bool]) -> dict[str, Any]:
        key = {
            "keyPermissions": {"bins": permissions},
            "accessKeyId": object_id(),
            "accessKey": jsonbin_key(),
            "metadata": {"name": name},
        }
        self.access_keys.append(key)
        return key


class FakeJsonBin:
    """The server around one FakeAccount; ``url`` is its v3 root."""

    def __init__(self, account: FakeAccount, budget: int | None = None) -> None:
        self.account = account
        self.budget = budget
        self.requests = 0
        self.paths: list[str] = []
        self._faults: list[int | str] = []
        self._refused: dict[str, tuple[int, str]] = {}
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/v3"

    def fail_next(self, fault: int | str, times: int = 1) -> None:
        self._faults.extend([fault] * times)

    def refuse(self, bin_id: str, status: int, message: str) -> None:
        self._refused[bin_id] = (status, message)

    def _answer(self, method: str, path: str, headers: Any) -> tuple[int, Any] | str:
        with self._lock:
            self.requests += 1
            self.paths.append(path)
            if self._faults:
                fault = self._faults.pop(0)
                return fault if isinstance(fault, str) else (fault, {"message": "Something went wrong"})
            if self.budget is not None and self.requests > self.budget:
                return 403, {"message": EXHAUSTED}
        if method != "GET":
            return 405, {"message": "Method not allowed"}
        key = headers.get("X-Master-Key")
        if key is None:
            return 401, {"message": "You need to pass X-Master-Key in the header"}
        if key != self.account.master_key:
            return 401, {"message": "Invalid X-Master-Key provided"}
        parts = [p for p in path.split("?")[0].split("/") if p][1:]  # without "v3"
        ascending = (headers.get("X-Sort-Order") or "descending").lower() == "ascending"
        return self._route(parts, ascending)

    def _route(self, parts: list[str], ascending: bool) -> tuple[int, Any]:
        account = self.account
        if parts == ["c"]:
            return 200, [
                {
                    "record": cid,
                    "collectionMeta": {"name": c["name"]},
                    "schemaDocId": c["schemaDocId"],
                    "createdAt": c["createdAt"],
                }
                for cid, c in account.collections.items()
            ]
        if len(parts) in (3, 4) and parts[0] == "c" and parts[2] == "bins":
            collection = None if parts[1] == "uncategorized" else parts[1]
            if collection is not None and collection not in account.collections:
                return 404, {"message": "Collection not found"}
            return 200, self._page(collection, ascending, parts[3] if len(parts) == 4 else None)
        if parts == ["a"]:
            return 200, account.access_keys
        if len(parts) == 2 and parts[0] == "s":
            doc = account.schema_docs.get(parts[1])
            if doc is None:
                return 404, {"message": "Schema Doc not found"}
            return 200, {
                "record": doc["schema"],
                "metadata": {"id": parts[1], "createdAt": doc["createdAt"], "name": doc["name"]},
            }
        if parts and parts[0] == "b" and len(parts) in (2, 3, 4):
            return self._bin(parts[1:])
        return 404, {"message": "Route not found"}

    def _page(self, collection: str | None, ascending: bool, after: str | None) -> list[dict[str, Any]]:
        listed = sorted(
            (b for b in self.account.bins.values() if b.collection_id == collection),
            key=lambda b: (b.created_at, b.id),
            reverse=not ascending,
        )
        if after is not None:
            ids = [b.id for b in listed]
            listed = listed[ids.index(after) + 1 :] if after in ids else []
        return [
            {
                "snippetMeta": {"name": b.name} if b.name is not None else {},
                "private": b.private,
                "record": b.id,
                "createdAt": b.created_at,
            }
            for b in listed[:PAGE]
        ]

    def _bin(self, parts: list[str]) -> tuple[int, Any]:
        found = self.account.bins.get(parts[0])
        if found is None:
            return 404, {"message": "Bin not found or it doesn't belong to your account"}
        if found.id in self._refused:
            return self._refused[found.id]
        metadata: dict[str, Any] = {"id": found.id, "private": found.private, "createdAt": found.created_at}
        if found.name is not None:
            metadata["name"] = found.name
        if found.collection_id is not None:
            metadata["collectionId"] = found.collection_id
        if parts[1:] == ["versions", "count"]:
            return 200, {"metadata": {"id": found.id, "versionCount": len(found.versions), "private": found.private}}
        if len(parts) == 1:
            return 200, {"record": found.record, "metadata": metadata}
        number = len(found.versions) if parts[1] == "latest" else int(parts[1]) if parts[1].isdigit() else -1
        if parts[1] == "latest" and number == 0:
            return 200, {"record": found.record, "metadata": {**metadata, "version": 0}}
        if not 1 <= number <= len(found.versions):
            return 404, {"message": "Bin version not found"}
        record, created_at = found.versions[number - 1]
        return 200, {"record": record, "metadata": {**metadata, "createdAt": created_at, "version": number}}

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _serve(self) -> None:
                answer = fake._answer(self.command, self.path, self.headers)
                if isinstance(answer, str):  # a network fault: no answer at all
                    self.close_connection = True
                    self.connection.close()
                    return
                status, body = answer
                payload = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PUT = do_DELETE = _serve

        return Handler

    def start(self) -> None:
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@contextmanager
def fake_jsonbin(account: FakeAccount, budget: int | None = None) -> Iterator[FakeJsonBin]:
    server = FakeJsonBin(account, budget)
    server.start()
    try:
        yield server
    finally:
        server.stop()
