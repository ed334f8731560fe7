"""Shared pieces of the benchmarks: the local stack in a subprocess, a keep-alive HTTP
client, percentiles, sample records, machine facts and the results folder.

Everything here talks to 127.0.0.1 only, and every wait is bounded.
"""

from __future__ import annotations

import http.client
import json
import os
import platform
import random
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
SRC = ROOT / "src"
PYTHON = sys.executable
STACK_START_SECONDS = 60.0
# The local stream poller retries a failed purge record 10 times, 0.25 s apart.
PURGE_RETRY_SETTLE_SECONDS = 2.75
SETTLE_SECONDS = 6.0
QUIET_PROBES = 6  # consecutive idle-fast probes, 50 ms apart: longer than one poll interval
STACK_STOP_SECONDS = 15.0
HTTP_TIMEOUT_SECONDS = 30.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def child_env(**extra: str) -> dict[str, str]:
    """The environment for a child process: src on the path, no real AWS reachable."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "POWERTOOLS_"))}
    env.update(
        PYTHONPATH=str(SRC),
        PYTHONDONTWRITEBYTECODE="1",
        AWS_ACCESS_KEY_ID="bench",
        AWS_SECRET_ACCESS_KEY="bench",  # noqa: S106 - a dummy for the local emulator
        AWS_DEFAULT_REGION="us-east-1",
    )
    env.update(extra)
    return env


def machine_info() -> dict[str, Any]:
    return {
        "platform": platform.platform(),
        "machine": platform.machine(),
        "processor": platform.processor() or _cpu_model(),
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "load_average_at_start": load_average(),
    }


def load_average() -> list[float]:
    """1/5/15-minute load averages: anything else running on the machine skews the numbers."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return []


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return ""


# ---- statistics -----------------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float:
    """Linear-interpolated percentile (q in 0..100) of a non-empty sequence."""
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    position = (len(ordered) - 1) * q / 100
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def summary_ms(seconds: Sequence[float]) -> dict[str, float]:
    """n, mean and p50/p95/p99/max of durations given in seconds, reported in ms."""
    if not seconds:
        return {"n": 0}
    ms = [s * 1000 for s in seconds]
    return {
        "n": len(ms),
        "mean_ms": round(statistics.fmean(ms), 2),
        "p50_ms": round(percentile(ms, 50), 2),
        "p95_ms": round(percentile(ms, 95), 2),
        "p99_ms": round(percentile(ms, 99), 2),
        "max_ms": round(max(ms), 2),
    }


# ---- sample records -------------------------------------------------------------------

_FIRST = ["Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Margaret", "Linus", "Ken", "Radia"]
_LAST = ["Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Knuth", "Hamilton", "Torvalds", "Perlman"]
_CITIES = ["Lisbon", "Nairobi", "Osaka", "Lima", "Tallinn", "Austin", "Pune", "Hobart", "Oslo", "Cusco"]
_TAGS = ["admin", "beta", "trial", "pro", "legacy", "eu", "us", "apac", "mobile", "api"]


def user(rng: random.Random, number: int) -> dict[str, Any]:
    first, last = rng.choice(_FIRST), rng.choice(_LAST)
    return {
        "id": number,
        "uuid": f"{rng.getrandbits(128):032x}",
        "name": f"{first} {last}",
        "email": f"{first.lower()}.{last.lower()}{rng.randint(1, 999)}@example.com",
        "age": rng.randint(18, 90),
        "active": rng.random() < 0.8,
        "balance": round(rng.uniform(0, 10_000), 2),
        "address": {"city": rng.choice(_CITIES), "zip": f"{rng.randint(10000, 99999)}"},
        "tags": rng.sample(_TAGS, rng.randint(0, 3)),
        "lastLogin": f"2025-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}T"
        f"{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}Z",
    }


def users_record(target_bytes: int, seed: int = 7) -> dict[str, Any]:
    """A realistic JSON document ({"users": [...]}) of about ``target_bytes`` compact bytes."""
    rng = random.Random(seed)
    users: list[dict[str, Any]] = []
    size = len('{"users":[]}')
    while True:
        candidate = user(rng, len(users) + 1)
        extra = len(json.dumps(candidate, separators=(",", ":"))) + (1 if users else 0)
        if users and size + extra > target_bytes:
            return {"users": users}
        users.append(candidate)
        size += extra


def compact_size(record: Any) -> int:
    return len(json.dumps(record, separators=(",", ":"), ensure_ascii=False).encode())


# ---- HTTP ------------------------------------------------------------------------------


@dataclass
class Reply:
    status: int
    body: Any
    seconds: float


class Client:
    """HTTP/1.1 to the local API (one per thread).

    A fresh connection per request by default: the local API server (werkzeug's) closes
    each connection after its response (``Connection: close``), so a kept-alive client
    reconnects for every request anyway (see ``keep_alive_stall`` in load.py).
    """

    def __init__(self, api_url: str, key: str, keep_alive: bool = False) -> None:
        rest = api_url.removeprefix("http://")
        hostport, _, prefix = rest.partition("/")
        self.host, _, port = hostport.partition(":")
        self.port = int(port)
        self.prefix = "/" + prefix
        self.key = key
        self.keep_alive = keep_alive
        self._conn: http.client.HTTPConnection | None = None

    def _connection(self) -> http.client.HTTPConnection:
        if self._conn is None:
            self._conn = http.client.HTTPConnection(self.host, self.port, timeout=HTTP_TIMEOUT_SECONDS)
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def request(self, method: str, path: str, body: Any = None, **headers: str) -> Reply:
        sent = {name.replace("_", "-"): value for name, value in headers.items()}
        sent["X-Master-Key"] = self.key
        payload = None
        if body is not None:
            payload = body if isinstance(body, bytes) else json.dumps(body, separators=(",", ":")).encode()
            sent["Content-Type"] = "application/json"
        if not self.keep_alive:
            self.close()
        for attempt in (1, 2):  # one reconnect if the server closed an idle connection
            conn = self._connection()
            try:
                started = time.perf_counter()
                conn.request(method, self.prefix + path, body=payload, headers=sent)
                response = conn.getresponse()
                raw = response.read()
                elapsed = time.perf_counter() - started
                break
            except (http.client.HTTPException, ConnectionError):
                self.close()
                if attempt == 2:
                    raise
        return Reply(response.status, json.loads(raw) if raw else None, elapsed)

    # the calls the benchmarks make
    def create(self, record: Any) -> str:
        reply = self.request("POST", "/b", record)
        expect(reply, "create")
        return str(reply.body["metadata"]["id"])

    def update(self, bin_id: str, record: Any, versioning: bool = True) -> Reply:
        return self.request("PUT", f"/b/{bin_id}", record, X_Bin_Versioning="true" if versioning else "false")

    def delete_versions(self, bin_id: str, preserve: bool = True) -> Reply:
        return self.request("DELETE", f"/b/{bin_id}/versions", X_Preserve_Latest="true" if preserve else "false")


def expect(reply: Reply, what: str) -> Reply:
    if reply.status != 200:
        raise RuntimeError(f"{what}: HTTP {reply.status} {reply.body}")
    return reply


# ---- the local stack -------------------------------------------------------------------


@dataclass
class Stack:
    api_url: str
    dynamodb_url: str
    key: str
    table: str
    pid: int
    log_path: Path
    idle_probe: float | None = None

    def purge_failures(self) -> int:
        """Purge deliveries the stack logged as failed (see the bench report: a local-only bug)."""
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return text.count("All records failed processing")

    def probe_seconds(self) -> float:
        """One request that never reaches DynamoDB: how busy the stack process is right now."""
        return Client(self.api_url, self.key).request("GET", "/b/not-a-bin-id").seconds

    def settle(self) -> float:
        """Wait, bounded, until the stack is idle again before the next measurement.

        After a large purge the stream poller still has its REMOVE records to read, in the
        same process as the API; the probe sees that as slow answers. Returns the wait.
        """
        started = time.perf_counter()
        if self.purge_failures():  # the poller retries a failed record 10 times, 0.25 s apart
            time.sleep(PURGE_RETRY_SETTLE_SECONDS)
        if self.idle_probe is None:
            self.idle_probe = statistics.median(self.probe_seconds() for _ in range(9))
        quiet, deadline = 0, Deadline(SETTLE_SECONDS)
        while quiet < QUIET_PROBES and not deadline.expired:
            quiet = quiet + 1 if self.probe_seconds() < 2 * self.idle_probe + 0.002 else 0
            time.sleep(0.05)
        return time.perf_counter() - started

    def client(self, keep_alive: bool = False) -> Client:
        return Client(self.api_url, self.key, keep_alive)

    def dynamodb(self) -> Any:
        """A plain boto3 client on the stack's embedded DynamoDB (for checks, not timing)."""
        import boto3

        return boto3.client(
            "dynamodb",
            endpoint_url=self.dynamodb_url,
            region_name="us-east-1",
            aws_access_key_id="bench",
            aws_secret_access_key="bench",  # noqa: S106 - a dummy for the local emulator
        )


@contextmanager
def local_stack(log_path: Path, data: str | None = None, **extra: str) -> Iterator[Stack]:
    """`make run` in a subprocess on free ports, so client threads do not share its GIL.

    Durable as `make run` is, with its data in a fresh directory beside the log (or
    ``data``: a directory, or "memory"); ``extra`` goes into its environment.
    """
    port, dynamodb_port = free_port(), free_port()
    table = "binvault-bench"
    env = child_env(
        PORT=str(port),
        DYNAMODB_PORT=str(dynamodb_port),
        TABLE_NAME=table,
        IDEMPOTENCY_TABLE_NAME=f"{table}-idempotency",
        POWERTOOLS_LOG_LEVEL="WARNING",
        PYTHONUNBUFFERED="1",
        BINVAULT_DATA=data or str(log_path.parent / f"data-{port}"),
        **extra,
    )
    log = log_path.open("a")  # shared with the child's stderr: append keeps both
    process = subprocess.Popen(
        [PYTHON, "-m", "binvault.local.stack"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
    )
    drain = threading.Thread(target=_drain, args=(process, log), daemon=True)
    try:
        key = _demo_key(process)
        drain.start()
        yield Stack(
            api_url=f"http://127.0.0.1:{port}/v3",
            dynamodb_url=f"http://127.0.0.1:{dynamodb_port}",
            key=key,
            table=table,
            pid=process.pid,
            log_path=log_path,
        )
    finally:
        _stop(process)
        if drain.is_alive():
            drain.join(STACK_STOP_SECONDS)
        log.close()


def _demo_key(process: subprocess.Popen[str]) -> str:
    found: list[str] = []

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            if line.strip().startswith("demo key"):
                found.append(line.split()[-1])
                return

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(STACK_START_SECONDS)
    if not found:
        raise RuntimeError(f"the local stack did not start within {STACK_START_SECONDS:.0f} s")
    return found[0]


def _drain(process: subprocess.Popen[str], log: TextIO) -> None:
    """Keep the pipe flowing; the stack's own logs (Powertools logs to stdout) go to the log."""
    assert process.stdout is not None
    for line in process.stdout:
        log.write(line)


def _stop(process: subprocess.Popen[str]) -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGINT)  # the stack's own clean shutdown path
    try:
        process.wait(STACK_STOP_SECONDS)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(STACK_STOP_SECONDS)


# ---- results ---------------------------------------------------------------------------


def _bin_query(table: str, bin_id: str) -> dict[str, Any]:
    return {
        "TableName": table,
        "KeyConditionExpression": "pk = :pk",
        "ExpressionAttributeValues": {":pk": {"S": f"BIN#{bin_id}"}},
        "ConsistentRead": True,
    }


def bin_items(client: Any, table: str, bin_id: str) -> list[dict[str, Any]]:
    """Every item of one bin (base and versions, any generation), all pages."""
    items: list[dict[str, Any]] = []
    request = _bin_query(table, bin_id)
    while True:
        page = client.query(**request)
        items.extend(page["Items"])
        if "LastEvaluatedKey" not in page:
            return items
        request["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def bin_item_count(client: Any, table: str, bin_id: str) -> int:
    """How many items one bin has in the table (base and versions)."""
    return int(client.query(**_bin_query(table, bin_id), Select="COUNT")["Count"])


def write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, sort_keys=False) + "\n")


class Deadline:
    """A wall-clock budget for a loop that also has a count bound."""

    def __init__(self, seconds: float) -> None:
        self.end = time.monotonic() + seconds

    @property
    def expired(self) -> bool:
        return time.monotonic() >= self.end

    @property
    def remaining(self) -> float:
        return max(0.0, self.end - time.monotonic())
