"""The quota at Lambda scale (issue 23, docs/quota.md): what one charge costs and how many
charged requests/s one account can sustain, from 1 to 10,000 containers, before and after
the quota shards.

- after (measured): N cold containers each charge one account once, as threads (each
  charge a fresh identity: nothing of a previous charge is remembered, which is what the
  shards need anyway) against the local DynamoDB (moto behind binvault's own server, with
  binvault's moto fixes: the ``make run`` emulator), bounded in time. Read back: the
  account item's size, the largest shard's size, and every transaction item the charges
  sent (refills included);
- before (a model of the previous algorithm, kept here): every cold container's charge
  added a token (16 hex characters -> its expiry) to the account item's ``charges`` map for
  300 s, and only the same warm container removed it; so within 5 minutes N cold
  containers leave N tokens in the item. The issue measured 251 B, 2.9 KB, 27 KB and 81 KB
  at 1, 100, 1,000 and 3,000 containers (about 27 B a token, by moto's sizes); DynamoDB's
  rules give 23 B a token (16 for the name, 6 for a 10-digit number, 1), so the model is
  a little kinder to the old algorithm than the issue's table;
- write units from item sizes by DynamoDB's rules (bench/units.py): 1 per started KB of the
  larger of the item before and after, 2x in a transaction. moto's own counts are not AWS's;
- the ceiling per account: one item takes at most 1000 write units/s, so before it is
  1000 / (units per charge) for the one account item; after, each of the shards takes
  1000 / (units per charge), and the charges spread over them at random.
"""

from __future__ import annotations

import math
import os
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench.common import RESULTS, write_json
from bench.units import item_size, write_units

CONTAINERS = (1, 10, 100, 1000, 10_000)
QUICK_CONTAINERS = (1, 10, 100, 1000)
ITEM_WRITE_LIMIT = 1000  # write units/s one item (one partition's key) accepts
ITEM_LIMIT_BYTES = 400 * 1024
THREADS = 16
SECONDS_PER_POINT = 240  # a point stops there, reporting the containers it reached
QUICK_SECONDS_PER_POINT = 30
TABLE = "binvault-quota-bench"
TOKEN_SECONDS = 300  # the previous algorithm's charge-token lifetime


# ---- before: the previous algorithm's account item, modelled ----------------------------


def old_account_item(tokens: int) -> dict[str, Any]:
    """The account item as the previous release left it after ``tokens`` cold charges."""
    until = str(int(time.time()) + TOKEN_SECONDS)
    return {
        "pk": {"S": "ACCOUNT#" + uuid.uuid4().hex},
        "sk": {"S": "ACCOUNT"},
        "type": {"S": "account"},
        "keyHash": {"S": "0" * 64},
        "requestsRemaining": {"N": str(10**9)},
        "createdAt": {"S": "2026-12-03T09:00:00.000000Z"},
        "accessKeys": {"M": {}},
        "leases": {"M": {}},
        "charges": {"M": {uuid.uuid4().hex[:16]: {"N": until} for _ in range(tokens)}},
    }


def before(containers: int) -> dict[str, Any]:
    size = item_size(old_account_item(containers))
    units = write_units(size) if size <= ITEM_LIMIT_BYTES else None  # a plain UpdateItem
    return {
        "account_item_bytes": size,
        "write_units_per_charge": units,
        "ceiling_requests_per_s": ITEM_WRITE_LIMIT // units if units else 0,  # 0: every charge fails
    }


# ---- after: measured against the local DynamoDB ---------------------------------------


@contextmanager
def local_dynamodb() -> Iterator[str]:
    """binvault's local DynamoDB (moto, its fixes, its server) on a free port; the
    binvault client pointed at it with a fresh table."""
    from tests.support.stack import free_port

    from binvault.dal.client import dynamodb
    from binvault.local import moto_fixes
    from binvault.local.dynamodb_server import DynamoDBServer, moto_app
    from binvault.local.template_tables import create_tables
    from binvault.models.settings import get_settings

    moto_fixes.install()
    server = DynamoDBServer("127.0.0.1", free_port(), moto_app())
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    saved = dict(os.environ)
    os.environ.update(
        {
            "TABLE_NAME": TABLE,
            "AWS_ENDPOINT_URL_DYNAMODB": url,
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": "bench",
            "AWS_SECRET_ACCESS_KEY": "bench",
        }
    )
    get_settings.cache_clear()
    dynamodb.cache_clear()  # type: ignore[attr-defined]
    try:
        create_tables(dynamodb(), TABLE, f"{TABLE}-idempotency", records_bucket=False)  # charges only
        yield url
    finally:
        os.environ.clear()
        os.environ.update(saved)
        get_settings.cache_clear()
        dynamodb.cache_clear()  # type: ignore[attr-defined]
        server.shutdown()
        server.server_close()


class Transactions:
    """Counts the transaction items (and Queries) the charges send."""

    def __init__(self) -> None:
        self.items = 0
        self.transactions = 0
        self.queries = 0
        self._lock = threading.Lock()

    def __call__(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        with self._lock:
            if model.name == "TransactWriteItems":
                self.transactions += 1
                self.items += len(params["TransactItems"])
            elif model.name == "Query":
                self.queries += 1


def after(containers: int, seconds: float) -> dict[str, Any]:
    from binvault.dal import accounts, keys
    from binvault.dal.client import dynamodb, get_item
    from binvault.logic import auth
    from binvault.models.bins import Charging
    from binvault.models.settings import get_settings

    key = auth.new_master_key()
    account_id = uuid.uuid4().hex
    accounts.create_account(account_id, auth.hash_key(key), 10**9, "2026-12-03T09:00:00.000000Z")
    charging = Charging(master_hash=auth.hash_key(key))
    first_item = item_size(get_item(keys.account_key(account_id)))
    meter = Transactions()
    dynamodb().meta.events.register("provide-client-params.dynamodb", meter)
    deadline = time.monotonic() + seconds
    charged = 0
    charged_lock = threading.Lock()

    def container(_: int) -> None:  # a cold container's first (and only) charge
        nonlocal charged
        if time.monotonic() >= deadline:
            return
        accounts.consume_request(account_id, charging)
        with charged_lock:
            charged += 1

    started = time.perf_counter()
    try:
        with ThreadPoolExecutor(THREADS) as pool:
            list(pool.map(container, range(containers)))
    finally:
        dynamodb().meta.events.unregister("provide-client-params.dynamodb", meter)
    elapsed = time.perf_counter() - started
    shards = accounts.shard_items(account_id, projection="pk, sk, requestsRemaining, keyHash, accessKeys, leases")
    shard_bytes = max(item_size(item) for item in shards.values())
    account_bytes = item_size(get_item(keys.account_key(account_id)))
    per_item = write_units(shard_bytes, transactional=True)
    units = per_item * meter.items / max(charged, 1)
    count = get_settings().quota_shards
    return {
        "containers_reached": charged,
        "account_item_bytes": account_bytes,
        "account_item_bytes_after_one": first_item,
        "largest_shard_bytes": shard_bytes,
        "shards": count,
        "transaction_items_per_charge": round(meter.items / max(charged, 1), 3),
        "queries_per_charge": round(meter.queries / max(charged, 1), 4),
        "write_units_per_charge": round(units, 2),
        # each shard takes ITEM_WRITE_LIMIT units/s; the common charge writes one shard
        "ceiling_requests_per_s": count * ITEM_WRITE_LIMIT // per_item,
        "charges_per_s_measured_local": round(charged / elapsed, 1),
        "requests_left_exact": accounts.get_account(account_id).requests_remaining == 10**9 - charged,
    }


def run(quick: bool) -> dict[str, Any]:
    points = QUICK_CONTAINERS if quick else CONTAINERS
    seconds = QUICK_SECONDS_PER_POINT if quick else SECONDS_PER_POINT
    rows = []
    with local_dynamodb():
        for containers in points:
            rows.append({"containers": containers, "before": before(containers), "after": after(containers, seconds)})
    return {"seconds_per_point": seconds, "threads": THREADS, "rows": rows}


def markdown(result: dict[str, Any]) -> str:
    lines = [
        "| cold containers | account item before (model) | write units / charge before | "
        "ceiling before (req/s) | account item after | largest shard after | write units / charge after | "
        "ceiling after (req/s) | Queries / charge after | exact |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in result["rows"]:
        b, a = row["before"], row["after"]
        reached = "" if a["containers_reached"] == row["containers"] else f" ({a['containers_reached']:,} reached)"
        lines.append(
            f"| {row['containers']:,}{reached} | {_bytes(b['account_item_bytes'])} | "
            f"{b['write_units_per_charge'] or 'fails (> 400 KB)'} | {b['ceiling_requests_per_s']:,} | "
            f"{_bytes(a['account_item_bytes'])} | {_bytes(a['largest_shard_bytes'])} | "
            f"{a['write_units_per_charge']} | {a['ceiling_requests_per_s']:,} | {a['queries_per_charge']} | "
            f"{'yes' if a['requests_left_exact'] else 'NO'} |"
        )
    return "\n".join(lines) + "\n"


def _bytes(size: int) -> str:
    return f"{size} B" if size < 1024 else f"{size / 1024:.1f} KB"


def plot(result: dict[str, Any], path: Path) -> None:
    from bench.plots import _log_axis, plt

    rows = result["rows"]
    xs = [row["containers"] for row in rows]
    figure, (sizes, units, ceiling) = plt.subplots(1, 3, figsize=(15, 4.4))
    sizes.plot(xs, [r["before"]["account_item_bytes"] for r in rows], marker="o", label="before: account item")
    sizes.plot(xs, [r["after"]["account_item_bytes"] for r in rows], marker="o", label="after: account item")
    sizes.plot(xs, [r["after"]["largest_shard_bytes"] for r in rows], marker="s", label="after: largest shard")
    sizes.axhline(ITEM_LIMIT_BYTES, color="tab:red", linestyle="--", label="400 KB item limit")
    sizes.set_yscale("log")
    sizes.set_ylabel("item size (bytes)")
    sizes.set_title("Item size", fontsize=10)
    before_units = [r["before"]["write_units_per_charge"] or math.nan for r in rows]
    units.plot(xs, before_units, marker="o", label="before (UpdateItem, 1 per KB)")
    units.plot(xs, [r["after"]["write_units_per_charge"] for r in rows], marker="o", label="after (transaction, 2x)")
    units.set_yscale("log")
    units.set_ylabel("write units per charge")
    units.set_title("Cost of one charge", fontsize=10)
    ceiling.plot(xs, [max(r["before"]["ceiling_requests_per_s"], 0.5) for r in rows], marker="o", label="before")
    ceiling.plot(xs, [r["after"]["ceiling_requests_per_s"] for r in rows], marker="o", label="after")
    ceiling.axhline(10_000, color="tab:green", linestyle="--", label="10,000 req/s")
    ceiling.set_yscale("log")
    ceiling.set_ylabel("charged requests/s per account (model)")
    ceiling.set_title("Ceiling: 1000 write units/s per item", fontsize=10)
    for axis in (sizes, units, ceiling):
        _log_axis(axis, xs)
        axis.set_xlabel("cold containers (within 5 minutes)")
        axis.grid(True, which="both", alpha=0.3)
        axis.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def write(result: dict[str, Any], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "quota_scale.json", result)
    (out / "quota_scale.md").write_text(markdown(result))
    plot(result, out / "quota_scale.png")


if __name__ == "__main__":
    import sys

    quick = "--quick" in sys.argv
    result = run(quick)
    write(result, RESULTS / "quick" if quick else RESULTS)
    print(markdown(result))
