"""The whole local stack (`make run`) in a subprocess, reached over loopback HTTP."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Http:
    status: int
    headers: dict[str, str]
    body: Any


@dataclass
class LocalService:
    url: str
    dynamodb_url: str
    key: str
    output: list[str]
    data: Path | None = None

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        headers: dict[str, str] | None = None,
        key: bool = True,
    ) -> Http:
        data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
        all_headers = {"Content-Type": "application/json"} if body is not None else {}
        if key:
            all_headers["X-Master-Key"] = self.key
        all_headers.update(headers or {})
        request = urllib.request.Request(self.url + path, data=data, method=method, headers=all_headers)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                raw, status, got = response.read(), response.status, dict(response.headers)
        except urllib.error.HTTPError as error:
            raw, status, got = error.read(), error.code, dict(error.headers)
        return Http(status, {k.lower(): v for k, v in got.items()}, json.loads(raw) if raw else None)

    def table(self) -> Any:
        import boto3

        return boto3.client(
            "dynamodb",
            endpoint_url=self.dynamodb_url,
            region_name="us-east-1",
            aws_access_key_id="local",
            aws_secret_access_key="local",
        )


@dataclass
class StackProcess:
    """`python -m binvault.local.stack` in a subprocess: what `make run` starts."""

    process: subprocess.Popen[str]
    key: str
    output: list[str]
    port: int
    dynamodb_port: int
    data: Path

    @property
    def service(self) -> LocalService:
        return LocalService(
            f"http://127.0.0.1:{self.port}/v3",
            f"http://127.0.0.1:{self.dynamodb_port}",
            self.key,
            self.output,
            self.data,
        )

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def stack_env(data: Path | str, port: int, dynamodb_port: int, **extra: str) -> dict[str, str]:
    env = {**os.environ, "PORT": str(port), "DYNAMODB_PORT": str(dynamodb_port), "PYTHONUNBUFFERED": "1"}
    env.update(PYTHONPATH=str(ROOT / "src"), BINVAULT_DATA=str(data), BINVAULT_CONCURRENCY="4", **extra)
    return env


def start_stack(
    data: Path | str, port: int | None = None, dynamodb_port: int | None = None, **extra: str
) -> StackProcess:
    """Start a stack and wait (bounded) for its banner; fails the test if it does not come."""
    port, dynamodb_port = port or free_port(), dynamodb_port or free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "binvault.local.stack"],
        cwd=ROOT,
        env=stack_env(data, port, dynamodb_port, **extra),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    output: list[str] = []
    key = None
    deadline = time.monotonic() + 90
    assert process.stdout is not None
    while time.monotonic() < deadline and key is None:
        line = process.stdout.readline()
        if not line:
            break
        output.append(line)
        if line.strip().startswith("demo key"):
            key = line.split()[-1]
    if key is None:
        process.kill()
        pytest.fail("local stack did not start:\n" + "".join(output))
    # keep draining its output, or a chatty stack would block on a full pipe
    threading.Thread(target=lambda: output.extend(process.stdout or []), daemon=True).start()
    return StackProcess(process, key, output, port, dynamodb_port, Path(data))


@pytest.fixture(scope="session")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalService]:
    stack = start_stack(tmp_path_factory.mktemp("binvault-data"))
    try:
        yield stack.service
    finally:
        stack.stop()
