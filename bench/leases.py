"""Quota leases: write units per 1000 reads, and how many requests per second one account
can sustain, at lease sizes 1, 10 and 100 (QUOTA_LEASE_SIZE; logic/quota.py).

- measured: 1000 authenticated reads of one bin through the real handler on moto
  in-process, every DynamoDB call metered (units as DynamoDB charges them);
- on paper: from DynamoDB's per-item limits. The quota write goes to one item (the
  account): 1000 WCU/s at most, i.e. 1000 leases/s. With leases every request reads its
  key's item strongly consistently (so that a rotated key fails at once): 3000 RCU/s per
  item, i.e. 3000 requests/s per key (an account can spread its load over several keys).
"""

from __future__ import annotations

import os
import time
from typing import Any

from bench.inproc import reset_caches, session

SIZES = (1, 10, 100)
ITEM_WRITE_LIMIT = 1000  # WCU/s one item accepts
ITEM_READ_LIMIT = 3000  # strongly consistent RCU/s one item serves
WRU_PRICE = 1.25 / 1e6  # on-demand, us-east-1, per write request unit
RRU_PRICE = 0.25 / 1e6  # per read request unit


def on_paper(size: int) -> int:
    """Requests/s one account can sustain on one key, from the item limits."""
    leases = ITEM_WRITE_LIMIT * size
    return leases if size == 1 else min(leases, ITEM_READ_LIMIT)


def measure(size: int, reads: int) -> dict[str, Any]:
    os.environ["QUOTA_LEASE_SIZE"] = str(size)
    reset_caches()
    from binvault.logic import quota

    quota.BOOK = quota.LeaseBook()
    with session() as api:
        bin_id = api.create({"hello": "world"})
        api.meter.start()
        started = time.perf_counter()
        for _ in range(reads):
            api.ok("GET", f"/b/{bin_id}")
        elapsed = time.perf_counter() - started
        calls = api.meter.stop()
    del os.environ["QUOTA_LEASE_SIZE"]
    quota_calls = [c for c in calls if c.target == "account"]
    key_reads = [c for c in calls if c.target == "key"]
    per_thousand = 1000 / reads
    wru = sum(c.wru for c in calls) * per_thousand
    rru = sum(c.rcu for c in calls) * per_thousand
    return {
        "lease_size": size,
        "reads": reads,
        "quota_writes_per_1000_reads": round(len(quota_calls) * per_thousand, 1),
        "key_reads_per_1000_reads": round(len(key_reads) * per_thousand, 1),
        "wru_per_1000_reads": round(wru, 1),
        "rru_per_1000_reads": round(rru, 1),
        "usd_per_million_reads": round((wru * WRU_PRICE + rru * RRU_PRICE) * 1000, 3),
        "measured_req_per_s_in_process": round(reads / elapsed, 1),
        "sustainable_req_per_s_on_paper": on_paper(size),
    }


def run(quick: bool) -> list[dict[str, Any]]:
    return [measure(size, 200 if quick else 1000) for size in SIZES]


def markdown(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| lease size | quota writes / 1000 reads | key reads / 1000 | WRU / 1000 | RRU / 1000 | "
        "$ / million reads | req/s measured (in-process) | req/s per account, on paper |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        lines.append(
            f"| {row['lease_size']} | {row['quota_writes_per_1000_reads']} | {row['key_reads_per_1000_reads']} | "
            f"{row['wru_per_1000_reads']} | {row['rru_per_1000_reads']} | {row['usd_per_million_reads']} | "
            f"{row['measured_req_per_s_in_process']} | {row['sustainable_req_per_s_on_paper']} |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(markdown(run(quick=False)))
