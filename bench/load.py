"""Throughput and latency on the local stack under a fixed, bounded load.

- ``mixed``: a fixed number of requests from several client threads over a shared set of
  bins, in a seeded order: reads (GET /latest, GET base), versioned PUTs and
  delete-versions; req/s overall and p50/p95/p99 per operation (``single_thread``: the
  same mix from one thread, for reference);
- ``record_size``: sequential versioned PUTs and GET /latest of ~1, 10 and 100 KB records.

Everything runs on this machine: the numbers are those of the emulated DynamoDB (moto) and
the local HTTP server on two cores, good for comparing routes and sizes, not for quoting
as AWS latencies.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from tests.support.client import Client, expect
from tests.support.stack import Stack

from bench.common import Deadline, summary_ms, users_record

MIX = (("GET /latest", 35), ("GET base", 25), ("PUT versioned", 30), ("DELETE versions", 10))
FULL = {
    "requests": 1200,
    "threads": 8,
    "single_requests": 100,
    "bins": 16,
    "seconds": 90.0,
    "size_rounds": 15,
}
QUICK = {"requests": 200, "threads": 8, "single_requests": 40, "bins": 8, "seconds": 40.0, "size_rounds": 5}
SIZES = (1_000, 10_000, 100_000)
START_VERSIONS = 5


def _send(client: Client, operation: str, bin_id: str, record: Any) -> Any:
    if operation == "GET /latest":
        return client.request("GET", f"/b/{bin_id}/latest")
    if operation == "GET base":
        return client.request("GET", f"/b/{bin_id}")
    if operation == "PUT versioned":
        return client.update(bin_id, record)
    return client.delete_versions(bin_id, preserve=True)


def seed_bins(stack: Stack, count: int) -> tuple[list[str], list[Any]]:
    records = [users_record(1000, seed=5000 + n) for n in range(20)]
    setup = stack.client()
    bins = [setup.create(records[0]) for _ in range(count)]
    for bin_id in bins:
        for n in range(START_VERSIONS):
            expect(setup.update(bin_id, records[n]), "seed version")
    return bins, records


def mixed(
    stack: Stack, bins: list[str], records: list[Any], requests: int, threads: int, seconds: float
) -> dict[str, Any]:
    rng = random.Random(42)
    names, weights = zip(*MIX, strict=True)
    plan = [(op, rng.choice(bins), rng.choice(records)) for op in rng.choices(names, weights, k=requests)]
    position = iter(range(len(plan)))
    lock = threading.Lock()
    deadline = Deadline(seconds)
    samples: dict[str, list[float]] = defaultdict(list)
    statuses: dict[str, Counter[int]] = defaultdict(Counter)

    def worker() -> None:
        client = stack.client()
        while not deadline.expired:
            with lock:
                index = next(position, None)
            if index is None:
                return
            operation, bin_id, record = plan[index]
            reply = _send(client, operation, bin_id, record)
            with lock:
                statuses[operation][reply.status] += 1
                if reply.status == 200:
                    samples[operation].append(reply.seconds)

    started = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        for future in [pool.submit(worker) for _ in range(threads)]:
            future.result()
    wall = time.perf_counter() - started
    done = sum(sum(c.values()) for c in statuses.values())
    ok = sum(len(s) for s in samples.values())
    return {
        "requests_planned": len(plan),
        "requests_done": done,
        "ok": ok,
        "threads": threads,
        "bins": len(bins),
        "seconds": round(wall, 2),
        "requests_per_second": round(done / wall, 1),
        "all": summary_ms([s for values in samples.values() for s in values]),
        "operations": {op: summary_ms(samples[op]) for op, _ in MIX},
        "statuses": {op: {str(k): v for k, v in statuses[op].items()} for op, _ in MIX},
        "stopped_by_time_budget": done < len(plan),
    }


def record_size(stack: Stack, rounds: int) -> dict[str, Any]:
    client = stack.client()
    rows = {}
    for size in SIZES:
        records = [users_record(size, seed=size + n) for n in range(2)]
        bin_id = client.create(records[0])
        puts, gets = [], []
        for n in range(rounds):
            puts.append(expect(client.update(bin_id, records[n % 2]), "PUT").seconds)
            gets.append(expect(client.request("GET", f"/b/{bin_id}/latest"), "GET").seconds)
        rows[str(size)] = {"PUT versioned": summary_ms(puts), "GET /latest": summary_ms(gets)}
    return rows


def run(stack: Stack, quick: bool = False) -> dict[str, Any]:
    settings = QUICK if quick else FULL
    stack.settle()
    sizes = record_size(stack, settings["size_rounds"])
    bins, records = seed_bins(stack, settings["bins"])
    single = mixed(stack, bins, records, settings["single_requests"], 1, settings["seconds"])
    stack.settle()
    return {
        "settings": settings,
        "mix": dict(MIX),
        "mixed": mixed(stack, bins, records, settings["requests"], settings["threads"], settings["seconds"]),
        "single_thread": single,
        "record_size": sizes,
    }


def markdown(result: dict[str, Any]) -> str:
    mixed_result, single = result["mixed"], result["single_thread"]
    lines = [
        f"{mixed_result['requests_done']} requests from {mixed_result['threads']} threads over "
        f"{mixed_result['bins']} bins in {mixed_result['seconds']} s: "
        f"**{mixed_result['requests_per_second']} req/s** (one thread: "
        f"{single['requests_per_second']} req/s, p50 {single['all']['p50_ms']} ms; "
        "the stack serves up to BINVAULT_CONCURRENCY=4 requests at once, on two cores)",
        "",
        "| operation | share | n | p50 ms | p95 ms | p99 ms | non-200 |",
        "|---|---|---|---|---|---|---|",
    ]
    for operation, share in result["mix"].items():
        row = mixed_result["operations"][operation]
        errors = sum(v for k, v in mixed_result["statuses"][operation].items() if k != "200")
        lines.append(
            f"| {operation} | {share}% | {row['n']} | {row.get('p50_ms', '-')} | {row.get('p95_ms', '-')} "
            f"| {row.get('p99_ms', '-')} | {errors} |"
        )
    lines += ["", "| record | PUT versioned p50 / p95 ms | GET /latest p50 / p95 ms |", "|---|---|---|"]
    for size, row in result["record_size"].items():
        put, get = row["PUT versioned"], row["GET /latest"]
        kb = int(size) // 1000
        lines.append(f"| ~{kb} KB | {put['p50_ms']} / {put['p95_ms']} | {get['p50_ms']} / {get['p95_ms']} |")
    return "\n".join(lines) + "\n"
