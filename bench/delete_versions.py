"""DELETE /v3/b/{id}/versions against the real local stack, for bins with 1 to 1000 versions,
at two record sizes: ~1 KB (``run``) and ~1 MB (``run_large``: every record in S3, issue 16).

Bins are built through the API (versioned PUTs), then deleted in an interleaved order
(1, 10, 100, 1000, 1, 10, ...) so that drift hits every size alike. After each delete the
benchmark waits, bounded, until the purge has physically removed the old versions, so one
measurement's background work never lands in the next one's response time; that wait is
reported too (the purge is O(versions) by nature, the response should not be).

Before deleting, each bin's items are read back to compute the write units of the whole
operation from their sizes: the request path (quota decrement, the cut-over UpdateItem of
the base item) plus the purge (one BatchWriteItem delete per version and its key Query),
against the floor of one delete per version item.
"""

from __future__ import annotations

import math
import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from tests.support.client import expect
from tests.support.stack import Stack
from tests.support.tables import bin_item_count, bin_items

from bench.common import Deadline, summary_ms, users_record
from bench.units import item_size, read_units, write_units

FULL = {1: 6, 10: 4, 100: 3, 1000: 3}  # versions -> bins (repetitions)
QUICK = {1: 2, 10: 2, 50: 2}
# 1 MB records: building 1000 versions of 1 MB takes minutes on two cores, so fewer bins.
LARGE = {1: 3, 100: 2, 1000: 1}
LARGE_QUICK = {1: 2, 20: 1}
LARGE_RECORD_BYTES = 1_000_000
LARGE_RECORDS = 4  # distinct records the versions cycle through
BUILD_WORKERS = 4
PURGE_WAIT_SECONDS = 60.0  # per delete
PURGE_BUDGET_SECONDS = 180.0  # all waits together
QUERY_PAGE_BYTES = 1024 * 1024
RECORD_BYTES = 1000


@dataclass
class BinUnderTest:
    id: str
    target: int
    versions: int = 0
    reads: dict[str, list[float]] = field(default_factory=dict)


def _records(count: int, record_bytes: int = RECORD_BYTES) -> list[Any]:
    return [users_record(record_bytes, seed=1000 + n) for n in range(count)]


def _build(stack: Stack, target: int, records: list[Any], deadline: Deadline) -> BinUnderTest:
    client = stack.client()
    bin_under_test = BinUnderTest(client.create(records[0]), target)
    for n in range(1, target + 1):
        if deadline.expired:
            break
        expect(client.update(bin_under_test.id, records[n % len(records)]), f"version {n}")
        bin_under_test.versions = n
    return bin_under_test


def _read_latencies(stack: Stack, bin_under_test: BinUnderTest, records: list[Any]) -> None:
    """Request latency on a bin of this many versions, before it is deleted."""
    client = stack.client()
    plan = [
        ("GET /latest", lambda: client.request("GET", f"/b/{bin_under_test.id}/latest")),
        ("GET /1", lambda: client.request("GET", f"/b/{bin_under_test.id}/1")),
        ("GET count", lambda: client.request("GET", f"/b/{bin_under_test.id}/versions/count")),
        ("PUT unversioned", lambda: client.update(bin_under_test.id, records[0], versioning=False)),
    ]
    for _ in range(3):
        for name, send in plan:
            reply = expect(send(), name)
            bin_under_test.reads.setdefault(name, []).append(reply.seconds)


def _query_units(sizes: list[int]) -> float:
    """An eventually consistent Query over these items, 1 MB pages, each rounded up."""
    units, page = 0.0, 0
    for size in sizes:
        if page and page + size > QUERY_PAGE_BYTES:
            units += read_units(page, consistent=False)
            page = 0
        page += size
    return units + read_units(page, consistent=False)


def write_unit_budget(items_before: list[dict[str, Any]], base_after: dict[str, Any]) -> dict[str, Any]:
    base = next(i for i in items_before if i["sk"]["S"] == "BIN")
    versions = sorted((i for i in items_before if i["sk"]["S"] != "BIN"), key=lambda i: i["sk"]["S"])
    sizes = [item_size(v) for v in versions]
    cut_over = write_units(item_size(base), item_size(base_after))
    purge = sum(write_units(size) for size in sizes)
    count = len(versions)
    return {
        "versions": count,
        "version_item_bytes_mean": round(statistics.fmean(sizes), 1),
        "base_item_bytes": [item_size(base), item_size(base_after)],
        "request_wru": {"quota": 1, "cut_over": cut_over},
        "request_rcu": read_units(item_size(base), True) + read_units(sizes[-1], True),
        "purge_wru": purge,
        "purge_rcu": _query_units(sizes),
        "purge_calls": 1 + math.ceil(count / 25),
        "floor_wru": purge,
        "wru_per_version": round((cut_over + purge) / count, 3),
        "wru_per_version_with_quota": round((1 + cut_over + purge) / count, 3),
        "floor_wru_per_version": round(purge / count, 3),
        "vs_floor": round((cut_over + purge) / purge, 3),
        "transactional_delete_wru_per_version": round(2 * purge / count, 3),
    }


def _wait_for_purge(reader: Any, table: str, bin_id: str, seconds: float) -> float | None:
    """Seconds until only the base item is left, and the version item it points to when
    preserve-latest kept a record too large for the base item (dal/keys.py)."""
    started = time.perf_counter()
    deadline = Deadline(seconds)
    base = reader.get_item(TableName=table, Key={"pk": {"S": f"BIN#{bin_id}"}, "sk": {"S": "BIN"}}).get("Item", {})
    remaining = 2 if "recordAt" in base else 1
    while not deadline.expired:
        count = bin_item_count(reader, table, bin_id)
        if count <= remaining:
            return time.perf_counter() - started
        time.sleep(0.05)
    return None


def run_large(stack: Stack, quick: bool = False) -> dict[str, Any]:
    """The same measurement with ~1 MB records (stored ~230 KB: in S3): delete-versions is
    still one conditional write, so its latency must not grow with the versions either."""
    plan = LARGE_QUICK if quick else LARGE
    return run(stack, quick, budget_seconds=600.0, plan=plan, record_bytes=LARGE_RECORD_BYTES, distinct=LARGE_RECORDS)


def run(
    stack: Stack,
    quick: bool = False,
    budget_seconds: float = 240.0,
    plan: dict[int, int] | None = None,
    record_bytes: int = RECORD_BYTES,
    distinct: int = 50,
) -> dict[str, Any]:
    plan = plan or (QUICK if quick else FULL)
    records = _records(distinct, record_bytes)
    deadline = Deadline(budget_seconds)
    started = time.perf_counter()
    tasks = sorted(((size, rep) for size, reps in plan.items() for rep in range(reps)), reverse=True)
    with ThreadPoolExecutor(BUILD_WORKERS) as pool:
        built = list(pool.map(lambda task: _build(stack, task[0], records, deadline), tasks))
    build_seconds = time.perf_counter() - started
    complete = [b for b in built if b.versions == b.target]
    if len(complete) < len(built):
        print(f"  delete_versions: {len(built) - len(complete)} bins not built within the budget, skipped")

    reader = stack.dynamodb()
    client = stack.client()
    stack.settle()
    for b in complete:
        _read_latencies(stack, b, records)
    warm_up = client.create(records[0])  # the stack's first cut-over and purge, unmeasured
    expect(client.update(warm_up, records[1]), "warm-up version")
    expect(client.delete_versions(warm_up), "warm-up delete")
    _wait_for_purge(reader, stack.table, warm_up, PURGE_WAIT_SECONDS)
    stack.settle()
    by_size: dict[int, list[BinUnderTest]] = {size: [b for b in complete if b.target == size] for size in plan}
    deletes: dict[int, list[float]] = {size: [] for size in plan}
    purges: dict[int, list[float | None]] = {size: [] for size in plan}
    units: dict[int, dict[str, Any]] = {}
    purge_budget = Deadline(PURGE_BUDGET_SECONDS)
    for rep in range(max(plan.values())):
        for size in plan:
            if rep >= len(by_size[size]):
                continue
            bin_under_test = by_size[size][rep]
            items = bin_items(reader, stack.table, bin_under_test.id) if size not in units else []
            reply = expect(client.delete_versions(bin_under_test.id, preserve=True), "delete versions")
            if reply.body["metadata"]["versionsDeleted"] != size:
                raise RuntimeError(f"deleted {reply.body['metadata']['versionsDeleted']}, expected {size}")
            deletes[size].append(reply.seconds)
            if items:
                base_after = reader.get_item(
                    TableName=stack.table, Key={"pk": {"S": f"BIN#{bin_under_test.id}"}, "sk": {"S": "BIN"}}
                )["Item"]
                units[size] = write_unit_budget(items, base_after)
            wait = min(PURGE_WAIT_SECONDS, purge_budget.remaining)
            purges[size].append(_wait_for_purge(reader, stack.table, bin_under_test.id, wait))
            stack.settle()

    sizes = [size for size in plan if deletes[size]]
    medians = {size: statistics.median(deletes[size]) for size in sizes}
    largest, smallest = max(sizes), min(sizes)
    reads: dict[str, dict[int, dict[str, float]]] = {}
    for size in sizes:
        for name in by_size[size][0].reads:
            samples = [s for b in by_size[size] for s in b.reads[name]]
            reads.setdefault(name, {})[size] = summary_ms(samples)
    return {
        "plan": {str(size): reps for size, reps in plan.items()},
        "record_bytes": record_bytes,
        "build_seconds": round(build_seconds, 1),
        "versioned_puts": sum(b.versions for b in built),
        "delete_ms": {str(size): summary_ms(deletes[size]) for size in sizes},
        "delete_samples_ms": {str(size): [round(s * 1000, 2) for s in deletes[size]] for size in sizes},
        "purge_seconds": {str(size): [None if p is None else round(p, 3) for p in purges[size]] for size in sizes},
        "ratio": round(medians[largest] / medians[smallest], 2),
        # Other work on the machine only ever adds time: the fastest of each is the steadiest.
        "ratio_of_minimums": round(min(deletes[largest]) / min(deletes[smallest]), 2),
        "ratio_sizes": [smallest, largest],
        "latency_vs_versions": {name: {str(k): v for k, v in rows.items()} for name, rows in reads.items()},
        "units": {str(size): units[size] for size in sizes if size in units},
    }


def markdown(result: dict[str, Any]) -> str:
    lines = [
        "| versions | bins | DELETE p50 ms | min | max | purge done after (s, median) "
        "| WRU per version (floor) | vs floor |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for size, row in result["delete_ms"].items():
        purges = [p for p in result["purge_seconds"][size] if p is not None]
        unit = result["units"].get(size, {})
        lines.append(
            f"| {size} | {row['n']} | {row['p50_ms']:g} | {min(result['delete_samples_ms'][size]):g} "
            f"| {row['max_ms']:g} | {round(statistics.median(purges), 2) if purges else 'n/a'} "
            f"| {unit.get('wru_per_version', 'n/a')} ({unit.get('floor_wru_per_version', 'n/a')}) "
            f"| {unit.get('vs_floor', 'n/a')}x |"
        )
    return "\n".join(lines) + "\n"
