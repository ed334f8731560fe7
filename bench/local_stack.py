"""`python -m bench.local_stack`: what the local stack itself costs (bounded, loopback only).

- ``durability``: write latency with the journal (``BINVAULT_DATA`` a directory, the
  default) and without (``BINVAULT_DATA=memory``): a raw DynamoDB PutItem on the embedded
  endpoint, and a versioned PUT through the API;
- ``idle``: CPU used by the whole stack (its process and its execution environments) while
  nothing happens, with ``--bins`` bins stored;
- ``memory``: resident memory of the stack before, between and after rounds of versioned
  PUTs of ~93 KB records, each round ending with a delete of the versions (the purge runs
  behind it): it should stay flat once warm.

Results go to bench/results/local_stack.json (``--quick``: bench/results/quick/).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from tests.support.client import expect
from tests.support.stack import Stack
from tests.support.tables import bin_item_count

from bench.common import RESULTS, Deadline, bench_stack, machine_info, summary_ms, users_record, write_json

TICKS = os.sysconf("SC_CLK_TCK")


def _tree(pid: int) -> list[int]:
    """The stack's process and its descendants (the gateway and its execution environments)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parents[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except OSError:
                continue
    tree, grew = {pid}, True
    while grew:
        found = {child for child, parent in parents.items() if parent in tree} - tree
        tree |= found
        grew = bool(found)
    return [pid, *sorted(tree - {pid})]


def cpu_seconds(pid: int) -> float:
    total = 0
    for member in _tree(pid):
        try:
            fields = Path(f"/proc/{member}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime + stime
    return total / TICKS


def rss_mb(pid: int) -> dict[str, float]:
    sizes = {}
    for member in _tree(pid):
        try:
            for line in Path(f"/proc/{member}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    sizes["stack" if member == pid else f"child {member}"] = int(line.split()[1]) / 1024
        except OSError:
            continue
    return {"total": round(sum(sizes.values()), 1), "stack": round(sizes.get("stack", 0.0), 1)}


def durability(scratch: Path, rounds: int) -> dict[str, Any]:
    rows = {}
    for mode in ("durable", "memory"):
        with bench_stack(scratch, None if mode == "durable" else "memory") as stack:
            client, api = stack.dynamodb(), stack.client()
            put_item = []
            for n in range(rounds):
                started = time.perf_counter()
                client.put_item(TableName=stack.table, Item={"pk": {"S": f"BENCH#{n}"}, "sk": {"S": "x"}})
                put_item.append(time.perf_counter() - started)
            bin_id = api.create({"n": 0})
            puts = [expect(api.update(bin_id, {"n": n}), "PUT").seconds for n in range(rounds)]
            rows[mode] = {"PutItem": summary_ms(put_item[2:]), "PUT versioned": summary_ms(puts[2:])}
    durable, memory = rows["durable"], rows["memory"]
    rows["added_p50_ms"] = {
        what: round(durable[what]["p50_ms"] - memory[what]["p50_ms"], 2) for what in ("PutItem", "PUT versioned")
    }
    return rows


def seed(stack: Stack, bins: int) -> None:
    record = users_record(500)

    def create(_: int) -> None:
        stack.client().create(record)

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(create, range(bins)))


def idle(stack: Stack, bins: int, seconds: float) -> dict[str, Any]:
    seed(stack, bins)
    time.sleep(6)  # the poller backs off to its idle interval
    before, started = cpu_seconds(stack.pid), time.monotonic()
    time.sleep(seconds)
    used, wall = cpu_seconds(stack.pid) - before, time.monotonic() - started
    return {
        "bins": bins,
        "seconds": round(wall, 1),
        "cpu_seconds": round(used, 3),
        "percent_of_a_core": round(100 * used / wall, 2),
    }


def memory(stack: Stack, rounds: int, puts: int) -> dict[str, Any]:
    client = stack.client()
    records = [users_record(93_000, seed=n) for n in range(2)]
    bin_id = client.create(records[0])
    samples = [{"after": "start", **rss_mb(stack.pid)}]
    for number in range(1, rounds + 1):
        for n in range(puts):
            expect(client.update(bin_id, records[n % 2]), "PUT")
        expect(client.delete_versions(bin_id), "DELETE versions")
        deadline = Deadline(60)  # the purge behind the 200, and its stream records
        while bin_item_count(stack.dynamodb(), stack.table, bin_id) > 1 and not deadline.expired:
            time.sleep(0.5)
        stack.settle()
        samples.append({"after": f"round {number}: {puts} PUTs of ~93 KB + delete versions", **rss_mb(stack.pid)})
    warm = samples[1]["total"]
    return {
        "samples_mb": samples,
        "growth_after_first_round_mb": round(samples[-1]["total"] - warm, 1),
    }


def run(quick: bool) -> dict[str, Any]:
    results: dict[str, Any] = {
        "command": "python -m bench.local_stack" + (" --quick" if quick else ""),
        "machine": machine_info(),
    }
    with tempfile.TemporaryDirectory(prefix="binvault-local-stack-") as scratch_name:
        scratch = Path(scratch_name)
        print("[local_stack] durability ...", flush=True)
        results["durability"] = durability(scratch, 20 if quick else 100)
        with bench_stack(scratch) as stack:
            print("[local_stack] memory ...", flush=True)
            results["memory"] = memory(stack, 2 if quick else 6, 30 if quick else 100)
            print("[local_stack] idle ...", flush=True)
            results["idle"] = idle(stack, 128 if quick else 1280, 10 if quick else 30)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.local_stack", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    results = run(args.quick)
    out = (RESULTS / "quick" if args.quick else RESULTS) / "local_stack.json"
    write_json(out, results)
    durable = results["durability"]
    print(
        f"write p50 durable vs memory: {durable['durable']['PutItem']['p50_ms']} vs "
        f"{durable['memory']['PutItem']['p50_ms']} ms (PutItem), {durable['durable']['PUT versioned']['p50_ms']} vs "
        f"{durable['memory']['PUT versioned']['p50_ms']} ms (versioned PUT)"
    )
    print(f"idle: {results['idle']['percent_of_a_core']}% of a core with {results['idle']['bins']} bins")
    print(f"memory (MB, stack + environments): {[s['total'] for s in results['memory']['samples_mb']]}")
    print(f"results: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
