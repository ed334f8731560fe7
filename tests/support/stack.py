"""The local stack (``make run``: ``python -m binvault.local.stack``) in a subprocess, on
free loopback ports, for the integration tests, the fuzzer and the benchmarks.

A subprocess because that is what ``make run`` starts, and so that neither the test's
per-test environment nor its GIL reaches the stack. The child's environment is built from
scratch for binvault (``child_env``): no AWS or Powertools setting of the caller's shell
or test leaks in, so no real account is ever reachable. Every wait is bounded.
"""

from __future__ import annotations

import os
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.support.client import Client, Headers, Reply

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "src"
DEFAULT_TABLE = "binvault-local"  # binvault.local.stack's LOCAL_ENV
START_SECONDS = 90.0
STOP_SECONDS = 15.0
# settle(): consecutive idle-fast probes, 50 ms apart (longer than one poll interval), within
SETTLE_SECONDS, QUIET_PROBES = 6.0, 6
# What the child never inherits: the stack sets its own (binvault.local.stack.LOCAL_ENV).
NOT_INHERITED = ("AWS_", "POWERTOOLS_", "TABLE_NAME", "IDEMPOTENCY_TABLE_NAME", "BINVAULT_", "PORT", "DYNAMODB_PORT")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def child_env(**extra: str) -> dict[str, str]:
    """The environment for a binvault child process: src on the path, dummy credentials."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(NOT_INHERITED)}
    env.update(
        PYTHONPATH=str(SRC),
        PYTHONDONTWRITEBYTECODE="1",
        PYTHONUNBUFFERED="1",
        AWS_ACCESS_KEY_ID="local",
        AWS_SECRET_ACCESS_KEY="local",
        AWS_DEFAULT_REGION="us-east-1",
    )
    env.update(extra)
    return env


def stack_env(data: Path | str, port: int, dynamodb_port: int, **extra: str) -> dict[str, str]:
    """``make run``'s environment: the data directory (or "memory") and the two ports."""
    return child_env(PORT=str(port), DYNAMODB_PORT=str(dynamodb_port), BINVAULT_DATA=str(data), **extra)


@dataclass
class Stack:
    """A running stack: its URLs, the demo account's key, and what it printed."""

    process: subprocess.Popen[str]
    api_url: str
    dynamodb_url: str
    key: str
    table: str
    data: Path | None  # None: BINVAULT_DATA=memory
    output: list[str] = field(default_factory=list)  # stdout and stderr, line by line
    idle_probe: float | None = None

    @property
    def url(self) -> str:
        return self.api_url

    @property
    def pid(self) -> int:
        return self.process.pid

    def text(self) -> str:
        return "".join(self.output)

    def client(self, key: str | None = None) -> Client:
        return Client(self.api_url, key or self.key)

    def request(
        self, method: str, path: str, body: Any = None, headers: Headers | None = None, key: str | bool | None = True
    ) -> Reply:
        return self.client().request(method, path, body, headers, key)

    def dynamodb(self) -> Any:
        """A plain boto3 client on the stack's embedded DynamoDB (for checks, not timing)."""
        import boto3

        return boto3.client(
            "dynamodb",
            endpoint_url=self.dynamodb_url,
            region_name="us-east-1",
            aws_access_key_id="local",
            aws_secret_access_key="local",
        )

    def settle(self) -> float:
        """Wait, bounded, until the stack answers as fast as when idle (after a large purge
        the stream poller still has records to read); returns the wait. For benchmarks."""
        started = time.perf_counter()
        if self.idle_probe is None:
            self.idle_probe = statistics.median(self._probe() for _ in range(9))
        quiet, deadline = 0, time.monotonic() + SETTLE_SECONDS
        while quiet < QUIET_PROBES and time.monotonic() < deadline:
            quiet = quiet + 1 if self._probe() < 2 * self.idle_probe + 0.002 else 0
            time.sleep(0.05)
        return time.perf_counter() - started

    def _probe(self) -> float:
        """One request that never reaches DynamoDB: how busy the stack is right now."""
        return self.request("GET", "/b/not-a-bin-id").seconds

    def stop(self) -> None:
        """SIGINT (the stack's own clean shutdown), then SIGKILL if that does not end it."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(STOP_SECONDS)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(STOP_SECONDS)


def start_stack(
    data: Path | str = "memory",
    table: str | None = None,
    port: int | None = None,
    dynamodb_port: int | None = None,
    **extra: str,
) -> Stack:
    """Start ``python -m binvault.local.stack`` and wait (bounded) for its banner's demo key.

    ``data``: the data directory, or "memory"; ``table``: TABLE_NAME (and its idempotency
    table), the stack's own default if None; ``extra`` goes into its environment.
    """
    port, dynamodb_port = port or free_port(), dynamodb_port or free_port()
    if table:
        extra = {"TABLE_NAME": table, "IDEMPOTENCY_TABLE_NAME": f"{table}-idempotency", **extra}
    process = subprocess.Popen(
        [sys.executable, "-m", "binvault.local.stack"],
        cwd=ROOT,
        env=stack_env(data, port, dynamodb_port, **extra),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    output: list[str] = []
    keys: list[str] = []
    ready = threading.Event()

    def drain() -> None:
        """Keep the pipe flowing (a chatty stack would block on a full one); note the key."""
        for line in process.stdout or []:
            output.append(line)
            if not keys and line.strip().startswith("demo key"):
                keys.append(line.split()[-1])
                ready.set()
        ready.set()

    threading.Thread(target=drain, name="stack-output", daemon=True).start()
    ready.wait(START_SECONDS)
    stack = Stack(
        process=process,
        api_url=f"http://127.0.0.1:{port}/v3",
        dynamodb_url=f"http://127.0.0.1:{dynamodb_port}",
        key=keys[0] if keys else "",
        table=table or DEFAULT_TABLE,
        data=None if str(data) == "memory" else Path(data),
        output=output,
    )
    if not keys:
        stack.stop()
        raise RuntimeError(f"the local stack did not start within {START_SECONDS:.0f} s:\n{stack.text()}")
    return stack


@contextmanager
def local_stack(data: Path | str = "memory", table: str | None = None, **extra: str) -> Iterator[Stack]:
    """``start_stack`` for the length of a ``with`` block."""
    stack = start_stack(data, table, **extra)
    try:
        yield stack
    finally:
        stack.stop()


@contextmanager
def moto_server(table: str, idempotency_table: str, bucket: str | None = None) -> Iterator[str]:
    """moto's server (DynamoDB and S3) on a free loopback port with template.yaml's tables
    and, given ``bucket``, the records bucket; yields its URL. For a child process that
    cannot share the test's in-process ``mock_aws`` (a cold start, the artifact rehearsal)."""
    import boto3
    from moto.server import ThreadedMotoServer

    from binvault.local.template_tables import create_tables

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    url = f"http://127.0.0.1:{port}"
    credentials = {"region_name": "us-east-1", "aws_access_key_id": "x", "aws_secret_access_key": "x"}
    try:
        create_tables(boto3.client("dynamodb", endpoint_url=url, **credentials), table, idempotency_table, False)
        if bucket is not None:
            boto3.client("s3", endpoint_url=url, **credentials).create_bucket(Bucket=bucket)
        yield url
    finally:
        server.stop()
