"""The local stack's CloudWatch Logs subscription: its API log lines -> the usage-logs Lambda.

Deployed, the API's log lines go to its log group, the template's subscription filter
selects the usage lines and CloudWatch Logs invokes the usage-logs function with
``{"awslogs": {"data": base64(gzip(...))}}`` batches, asynchronously: a failed invocation
is retried twice, then dead-lettered. ``Shipper`` does the same with the local stack's log
output (the execution environments' stdout, or the in-process handler's usage logger):
it selects the same lines (``logic.usage_logs.usage_of``), builds the same events, calls
the same ``binvault.handlers.usage_logs.lambda_handler`` every ``interval`` seconds, retries
a failed event as it was (same log event ids, so the same object names) and sets aside
what still fails. So a request shows up in ``GET /l`` about a second after it was made.
"""

from __future__ import annotations

import io
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from binvault.local.events import LocalContext
from binvault.logic import usage_logs

log = logging.getLogger("binvault.local.usage_logs")
# Lambda's asynchronous invocation: the first attempt and two retries.
ATTEMPTS = 3
INTERVAL_SECONDS = 1.0
BATCH_EVENTS = 10_000  # CloudWatch Logs' largest batch (1 MB or 10,000 events)
LOG_GROUP = "/aws/lambda/binvault-local-api"


class Shipper:
    def __init__(self, interval: float = INTERVAL_SECONDS) -> None:
        self.interval = interval
        self._pending: list[dict[str, Any]] = []
        self._retries: list[tuple[dict[str, Any], int]] = []
        self._lock = threading.Lock()
        self._delivering = threading.Lock()
        self._prefix = f"{time.time_ns():020d}"
        self._count = 0
        self.delivered = 0  # log events in events the handler took
        self.dead_letters: list[dict[str, Any]] = []

    def feed(self, line: str) -> bool:
        """Take one log line; True when it is a usage line (the others are not shipped)."""
        text = line.strip()
        if usage_logs.usage_of(text) is None:
            return False
        with self._lock:
            self._count += 1
            # CloudWatch's ids are unique decimal strings; these are, within and across runs
            self._pending.append(
                {"id": f"{self._prefix}{self._count:012d}", "timestamp": int(time.time() * 1000), "message": text}
            )
        return True

    def _event(self, log_events: list[dict[str, Any]]) -> dict[str, Any]:
        return usage_logs.encode_subscription_event(
            {
                "messageType": "DATA_MESSAGE",
                "owner": "000000000000",
                "logGroup": LOG_GROUP,
                "logStream": "local",
                "subscriptionFilters": ["usage"],
                "logEvents": log_events,
            }
        )

    def flush(self) -> int:
        """Deliver what is pending and the retries due; returns the log events delivered."""
        from binvault.handlers.usage_logs import lambda_handler

        with self._delivering:
            with self._lock:
                fresh, self._pending = self._pending, []
                retries, self._retries = self._retries, []
            queue = retries + [
                (self._event(fresh[start : start + BATCH_EVENTS]), 0) for start in range(0, len(fresh), BATCH_EVENTS)
            ]
            delivered = 0
            for event, attempts in queue:
                count = len(usage_logs.decode_subscription_event(event)["logEvents"])
                try:
                    lambda_handler(event, LocalContext(function_name="binvault-usage-logs-local"))
                except Exception:
                    if attempts + 1 >= ATTEMPTS:
                        log.error("usage log batch failed %d times, dead-lettered", attempts + 1, exc_info=True)
                        self.dead_letters.append(event)
                    else:
                        log.warning("usage log batch failed, retrying", exc_info=True)
                        with self._lock:
                            self._retries.append((event, attempts + 1))
                    continue
                delivered += count
            self.delivered += delivered
            return delivered

    def idle(self) -> bool:
        with self._lock:
            return not self._pending and not self._retries

    def run(self, stop: threading.Event) -> None:
        """Flush every ``interval`` until ``stop``, then once more."""
        while not stop.wait(self.interval):
            try:
                self.flush()
            except Exception:  # must outlive a bad round, as CloudWatch Logs would
                log.exception("usage log shipping failed")
        self.flush()

    def start(self) -> tuple[threading.Event, threading.Thread]:
        stop = threading.Event()
        thread = threading.Thread(target=self.run, args=(stop,), name="usage-logs", daemon=True)
        thread.start()
        return stop, thread


class LineFeed(io.TextIOBase):
    """A text stream whose complete lines go to ``Shipper.feed`` (what a log group receives)."""

    def __init__(self, shipper: Shipper) -> None:
        self._shipper = shipper
        self._partial = ""

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        lines = (self._partial + text).split("\n")
        self._partial = lines.pop()
        for line in lines:
            self._shipper.feed(line)
        return len(text)


def capture_in_process(shipper: Shipper) -> Callable[[], None]:
    """The in-process handler's usage lines go to ``shipper`` instead of stdout; returns
    what puts stdout back (the stack calls it when it stops)."""
    from binvault.handlers import api

    handlers = [h for h in api.usage_log.handlers if isinstance(h, logging.StreamHandler)]
    before = [handler.setStream(LineFeed(shipper)) for handler in handlers]

    def restore() -> None:
        for handler, stream in zip(handlers, before, strict=True):
            handler.setStream(stream)

    return restore
