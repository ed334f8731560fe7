"""Lambda execution environments for the local stack.

AWS runs each concurrent request in its own execution environment: a process that
imported the handler once (its module state: caches, clients, Powertools' current
event) and serves one event at a time. ``Pool`` does the same with N worker processes
(``python -m binvault.local.worker``, default 4, ``BINVAULT_CONCURRENCY``) that speak
JSON lines over pipes, so one slow request never holds up another. A request waits only
when all N are busy, as with a function's reserved concurrency. A worker that crashes
answers 502 and is replaced; one that overruns the timeout (API Gateway's 29 s) answers
504 and is replaced.

``InProcess`` is the single environment in this process, one event at a time: for
callers that need the handler in their own process (``bench/soak.py`` injects faults
into its DynamoDB client).
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import select
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from binvault.local.events import LocalContext
from binvault.local.server import InvocationFailed

HANDLER = "binvault.handlers.api:lambda_handler"
TIMEOUT_SECONDS = 29.0
START_SECONDS = 60.0


class Worker:
    def __init__(self, handler: str, name: str, on_output: Callable[[str], bool] | None = None) -> None:
        self.name = name
        read_end, write_end = os.pipe()
        self.process = subprocess.Popen(  # noqa: S603 - this interpreter, our module
            [sys.executable, "-m", "binvault.local.worker", handler, str(write_end)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE if on_output else None,
            pass_fds=(write_end,),
            env={**os.environ, "AWS_LAMBDA_LOG_STREAM_NAME": name},
        )
        os.close(write_end)
        if on_output is not None:
            threading.Thread(target=self._tail, args=(on_output,), name=f"{name}-stdout", daemon=True).start()
        self._replies = read_end
        self._buffer = b""
        self.exited = False

    def _line(self, timeout: float) -> bytes | None:
        """The next line the worker writes, or None if it died or ran out of time."""
        deadline = time.monotonic() + timeout
        while b"\n" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._replies], [], [], left)[0]:
                return None
            chunk = os.read(self._replies, 1 << 20)
            if not chunk:
                self.exited = True
                return None
            self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        return line

    def _tail(self, on_output: Callable[[str], bool]) -> None:
        """The environment's stdout, line by line, as its log group would receive it: a line
        ``on_output`` does not take (not a usage line) is printed as before."""
        assert self.process.stdout is not None
        for raw in self.process.stdout:
            line = raw.decode("utf-8", errors="replace")
            try:
                taken = on_output(line)
            except Exception:  # never stop reading: a full pipe would block the environment
                taken = False
            if not taken:
                sys.stdout.write(line)
                sys.stdout.flush()

    def ready(self, timeout: float) -> bool:
        return self._line(timeout) == b'{"ready": true}'

    def call(self, event: dict[str, Any], timeout: float) -> dict[str, Any]:
        assert self.process.stdin is not None
        try:
            self.process.stdin.write(json.dumps(event).encode() + b"\n")
            self.process.stdin.flush()
        except OSError as error:
            raise InvocationFailed(502) from error
        line = self._line(timeout)
        if line is None:
            raise InvocationFailed(502 if self.exited else 504)
        reply: dict[str, Any] = json.loads(line)
        if "errorType" in reply:  # the handler raised: Lambda reports it, API Gateway answers 502
            raise InvocationFailed(502)
        return reply

    def stop(self) -> None:
        with contextlib.suppress(OSError):
            if self.process.stdin is not None:
                self.process.stdin.close()
        try:
            self.process.wait(5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        with contextlib.suppress(OSError):
            os.close(self._replies)


class Pool:
    def __init__(
        self,
        size: int,
        handler: str = HANDLER,
        timeout: float = TIMEOUT_SECONDS,
        on_output: Callable[[str], bool] | None = None,
    ) -> None:
        if size < 1:
            raise ValueError("the pool needs at least one execution environment")
        self.on_output = on_output
        self.size = size
        self.handler = handler
        self.timeout = timeout
        self._idle: queue.Queue[Worker] = queue.Queue()
        self._all: list[Worker] = []
        self._lock = threading.Lock()
        self._started = 0

    def _spawn(self) -> Worker:
        with self._lock:
            self._started += 1
            worker = Worker(self.handler, f"local-{self._started}", self.on_output)
            self._all.append(worker)
        return worker

    def start(self) -> None:
        """Start every environment and wait (bounded) until each has imported the handler."""
        workers = [self._spawn() for _ in range(self.size)]
        for worker in workers:
            if not worker.ready(START_SECONDS):
                self.close()
                raise RuntimeError(f"execution environment {worker.name} did not start")
            self._idle.put(worker)

    def __call__(self, event: dict[str, Any]) -> dict[str, Any]:
        worker = self._idle.get()
        try:
            reply = worker.call(event, self.timeout)
        except InvocationFailed:
            self._replace(worker)
            raise
        self._idle.put(worker)
        return reply

    def _replace(self, worker: Worker) -> None:
        """A crashed or timed-out environment is discarded; a fresh one takes its place."""
        worker.process.kill()
        worker.stop()
        with self._lock:
            self._all.remove(worker)
        fresh = self._spawn()
        threading.Thread(target=self._admit, args=(fresh,), daemon=True).start()

    def _admit(self, worker: Worker) -> None:
        if worker.ready(START_SECONDS):
            self._idle.put(worker)

    def close(self) -> None:
        with self._lock:
            workers, self._all = self._all, []
        for worker in workers:
            worker.stop()


class InProcess:
    """One execution environment in this very process (events serialised)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()

    def __call__(self, event: dict[str, Any]) -> dict[str, Any]:
        from binvault.handlers.api import lambda_handler

        with self._lock:
            try:
                result: dict[str, Any] = lambda_handler(event, LocalContext())
            except Exception as error:
                raise InvocationFailed(502) from error
        return result

    def close(self) -> None:
        pass
