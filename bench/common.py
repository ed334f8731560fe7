"""Shared pieces of the benchmarks: the local stack as they run it, percentiles, sample
records, machine facts and the results folder. The stack launcher, the HTTP client and the
table helpers are the tests' own (tests/support, imported as ``tests.support``).

Everything here talks to 127.0.0.1 only, and every wait is bounded.
"""

from __future__ import annotations

import json
import os
import platform
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tests.support.stack import ROOT, Stack, local_stack

RESULTS = ROOT / "bench" / "results"
PYTHON = sys.executable
TABLE = "binvault-bench"


@contextmanager
def bench_stack(scratch: Path, data: str | None = None) -> Iterator[Stack]:
    """`make run` in a subprocess on free ports (so client threads do not share its GIL),
    durable as `make run` is, with its data in a fresh directory in ``scratch`` (or
    ``data``: a directory, or "memory")."""
    with local_stack(data or tempfile.mkdtemp(prefix="data-", dir=scratch), table=TABLE) as stack:
        yield stack


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


# ---- results ---------------------------------------------------------------------------


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
