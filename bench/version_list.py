"""GET /v3/b/{id}/versions (the console's version history): what a page costs, whatever the
number of versions. In-process on moto with every DynamoDB call metered (bench/units.py):
calls and read units per page, pages to walk the whole history, and the in-process time of
one page (moto's, not DynamoDB's latency: compare the calls, not the milliseconds).

    python -m bench.version_list [--quick]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections import Counter
from typing import Any

from bench.inproc import session

COUNTS = [0, 10, 100, 1000]
RECORD_FIELDS = 20  # a record of ~0.5 KB, like a small settings document


def _record(n: int) -> dict[str, Any]:
    return {f"field{i}": f"value {i} of version {n}" for i in range(RECORD_FIELDS)}


def measure(count: int, repeats: int) -> dict[str, Any]:
    with session() as s:
        bin_id = s.create(_record(0))
        s.add_versions(bin_id, [_record(n) for n in range(1, count + 1)])
        s.ok("GET", f"/b/{bin_id}/versions/count")  # a warm key cache
        first_page: list[float] = []
        for _ in range(repeats):
            started = time.perf_counter()
            s.ok("GET", f"/b/{bin_id}/versions")
            first_page.append(1000 * (time.perf_counter() - started))
        s.meter.start()
        s.ok("GET", f"/b/{bin_id}/versions")
        calls = s.meter.stop()
        # the whole history, page by page
        pages, before, listed = 0, None, 0
        s.meter.start()
        while True:
            query = {"before": str(before)} if before is not None else None
            body = s.api("GET", f"/b/{bin_id}/versions", query=query).body
            pages += 1
            listed += len(body["versions"])
            before = body["next"]
            if before is None:
                break
        walk = s.meter.stop()
    query = [c for c in calls if c.operation == "Query"]
    return {
        "versions": count,
        "first_page_calls": dict(Counter(c.operation for c in calls)),
        "first_page_query_rcu": round(sum(c.rcu for c in query), 2),
        "first_page_total_rcu": round(sum(c.rcu for c in calls), 2),
        "first_page_ms_median_in_process": round(statistics.median(first_page), 2),
        "pages_for_all": pages,
        "versions_listed": listed,
        "queries_for_all": sum(1 for c in walk if c.operation == "Query"),
        "rcu_for_all": round(sum(c.rcu for c in walk), 2),
    }


def run(quick: bool) -> list[dict[str, Any]]:
    counts = [0, 10, 100] if quick else COUNTS
    return [measure(count, 5 if quick else 20) for count in counts]


def markdown(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| versions | calls for the first page | its Query's RCU | its total RCU | first page, ms (moto, in-process) "
        "| pages for all | Queries for all | RCU for all |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        calls = ", ".join(f"{name} {n}" for name, n in sorted(row["first_page_calls"].items()))
        lines.append(
            f"| {row['versions']} | {calls} | {row['first_page_query_rcu']} | {row['first_page_total_rcu']} | "
            f"{row['first_page_ms_median_in_process']} | {row['pages_for_all']} | {row['queries_for_all']} | "
            f"{row['rcu_for_all']} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.version_list", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    from bench.common import RESULTS, write_json

    rows = run(args.quick)
    out = RESULTS / "quick" if args.quick else RESULTS
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "version_list.json", rows)
    (out / "version_list.md").write_text(markdown(rows))
    print(markdown(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
