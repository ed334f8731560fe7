"""Stored data efficiency and the units each request costs, by record size (issue 16).

Records are zlib-compressed when that is smaller (``binvault/dal/records.py``) and live out
of the base item unless small (``dal/keys.py``): a version item holds its record inline up
to 64 KB stored, an S3 object beyond. For realistic JSON of about 1 KB, 10 KB, 100 KB and
1 MB: raw vs stored bytes, where the record landed, and what a versioned PUT, a GET /latest
and a GET of the base record cost, metered on the service's own DynamoDB and S3 clients
(warm key cache: the quota decrement is included). ``bench/results/units_before.json`` holds
the same measurement on the code before records moved out of the base item; each row
carries its "before" for comparison, and ``costs`` prices everything per million requests.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from pathlib import Path
from typing import Any

from bench.common import users_record
from bench.inproc import session
from bench.units import item_size, read_units, value_size, write_units

TARGETS = (1_000, 10_000, 100_000, 1_000_000)
QUOTA_WRU = 1  # the per-request quota decrement (the account item is ~150 bytes)
BEFORE = Path(__file__).resolve().parent / "results" / "units_before.json"

# us-east-1 list prices used on paper (on-demand DynamoDB, S3 Standard). DynamoDB's on-demand
# request prices were halved in November 2024 ($0.625 / $0.125 per million); the README's
# earlier tables use the prices below, so these do too: halve the DynamoDB request columns
# for today's bill.
PRICE_PER_MILLION_WRU = 1.25
PRICE_PER_MILLION_RRU = 0.25
PRICE_DYNAMODB_GB_MONTH = 0.25
PRICE_PER_MILLION_S3_PUT = 5.00
PRICE_PER_MILLION_S3_GET = 0.40
PRICE_S3_GB_MONTH = 0.023
GB = 1024**3


def _codec_ms(record: Any, rounds: int) -> tuple[float, float]:
    from binvault.dal import records

    started = time.perf_counter()
    for _ in range(rounds):
        attribute = records.encode(record)
    encode = (time.perf_counter() - started) / rounds
    started = time.perf_counter()
    for _ in range(rounds):
        records.decode(attribute)
    decode = (time.perf_counter() - started) / rounds
    return round(encode * 1000, 3), round(decode * 1000, 3)


class S3Calls:
    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()

    def __call__(self, event_name: str, **_: Any) -> None:
        self.calls[event_name.split(".")[-1]] += 1


def _before() -> dict[int, dict[str, Any]]:
    if not BEFORE.exists():
        return {}
    return {row["target_bytes"]: row for row in json.loads(BEFORE.read_text())["rows"]}


def _where(version: dict[str, Any]) -> str:
    if "blob" in version:
        return "S3"
    return "version item (zlib)" if "B" in version["record"] else "version item (plain)"


def _measure(s: Any, s3_calls: S3Calls, method: str, path: str, body: Any = None, **headers: str) -> dict[str, float]:
    s3_calls.calls.clear()
    s.meter.start()
    s.ok(method, path, body, **headers)
    calls = s.meter.stop()
    return {
        "wru": sum(c.wru for c in calls),
        "rcu": sum(c.rcu for c in calls),
        "dynamodb_calls": len(calls),
        "s3_put": s3_calls.calls["PutObject"],
        "s3_get": s3_calls.calls["GetObject"],
    }


def run(quick: bool = False) -> dict[str, Any]:
    from binvault.dal import records
    from binvault.dal.blobs import s3

    before = _before()
    rows = []
    with session() as s:
        s3_calls = S3Calls()
        s3().meta.events.register("before-call.s3", s3_calls)
        for target in TARGETS:
            record, next_record = users_record(target, seed=target), users_record(target, seed=target + 1)
            raw = len(records.dumps(next_record))
            bin_id = s.create(record)
            put = _measure(s, s3_calls, "PUT", f"/b/{bin_id}", next_record, X_Bin_Versioning="true")
            latest = _measure(s, s3_calls, "GET", f"/b/{bin_id}/latest")
            base_read = _measure(s, s3_calls, "GET", f"/b/{bin_id}")
            in_place = _measure(s, s3_calls, "PUT", f"/b/{bin_id}", record, X_Bin_Versioning="false")
            items = {i["sk"]["S"]: i for i in s.bin_items(bin_id)}
            base, version = items["BIN"], items["V#0000000000#000001"]
            stored = len(records.encode(next_record).get("B") or records.encode(next_record)["S"].encode())
            encode_ms, decode_ms = _codec_ms(next_record, 2 if quick else 5)
            old = before.get(target, {})
            rows.append(
                {
                    "target_bytes": target,
                    "raw_bytes": raw,
                    "stored_bytes": stored,
                    "ratio": round(raw / stored, 2),
                    "stored_in": _where(version),
                    "base_item_bytes": item_size(base),
                    "version_item_bytes": item_size(version),
                    "put_versioned": put,
                    "get_latest": latest,
                    "get_base": base_read,
                    "put_in_place": in_place,
                    "put_versioned_wru": put["wru"],
                    "get_latest_rcu": latest["rcu"],
                    "before_put_versioned_wru": old.get("put_versioned_wru_metered"),
                    "before_get_latest_rcu": old.get("get_latest_rcu_metered"),
                    # What the old layout would cost here: the base item carrying the record too.
                    "put_versioned_wru_if_record_in_base": QUOTA_WRU
                    + write_units(item_size(base) + value_size(version.get("record", {"S": ""})), transactional=True)
                    + write_units(item_size(version), transactional=True),
                    "version_wru": write_units(item_size(version)),
                    "version_rcu": read_units(item_size(version), True),
                    "encode_ms": encode_ms,
                    "decode_ms": decode_ms,
                }
            )
        s3().meta.events.unregister("before-call.s3", s3_calls)
    return {"rows": rows, "costs": costs(rows)}


def _dollars(op: dict[str, float], stored_bytes: int, in_s3: bool) -> float:
    """$ per million of one operation (requests only)."""
    return (
        op["wru"] * PRICE_PER_MILLION_WRU
        + op["rcu"] * PRICE_PER_MILLION_RRU
        + op["s3_put"] * PRICE_PER_MILLION_S3_PUT
        + op["s3_get"] * PRICE_PER_MILLION_S3_GET
    )


def costs(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per record size: $ per million versioned PUTs and GET /latest, and what a million
    versioned updates cost in a month: the requests plus a month of storing the versions."""
    table = []
    for row in rows:
        in_s3 = row["stored_in"] == "S3"
        put = _dollars(row["put_versioned"], row["stored_bytes"], in_s3)
        get = _dollars(row["get_latest"], row["stored_bytes"], in_s3)
        item_gb = row["version_item_bytes"] * 10**6 / GB
        stored_gb = row["stored_bytes"] * 10**6 / GB
        storage = item_gb * PRICE_DYNAMODB_GB_MONTH + (stored_gb * PRICE_S3_GB_MONTH if in_s3 else 0.0)
        table.append(
            {
                "target_bytes": row["target_bytes"],
                "stored_in": row["stored_in"],
                "put_versioned_per_million": round(put, 2),
                "get_latest_per_million": round(get, 2),
                "million_versioned_updates_month": round(put + storage, 2),
                "storage_month_of_a_million_versions": round(storage, 2),
            }
        )
    return table


def markdown(result: dict[str, Any]) -> str:
    lines = [
        "| record | raw JSON bytes | stored bytes | stored in | versioned PUT: WRU / S3 PUTs (before) "
        "| GET /latest: RCU / S3 GETs (before) | GET base RCU | in-place PUT WRU | zlib encode / decode ms |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in result["rows"]:
        put, get = r["put_versioned"], r["get_latest"]
        before_put = r["before_put_versioned_wru"] if r["before_put_versioned_wru"] is not None else "n/a"
        before_get = r["before_get_latest_rcu"] if r["before_get_latest_rcu"] is not None else "n/a"
        lines.append(
            f"| ~{r['target_bytes'] // 1000} KB users list | {r['raw_bytes']:,} | {r['stored_bytes']:,} "
            f"| {r['stored_in']} | {put['wru']:g} / {put['s3_put']} ({before_put}) "
            f"| {get['rcu']:g} / {get['s3_get']} ({before_get}) | {r['get_base']['rcu']:g} "
            f"| {r['put_in_place']['wru']:g} | {r['encode_ms']:g} / {r['decode_ms']:g} |"
        )
    lines += [
        "",
        f"Prices (us-east-1): ${PRICE_PER_MILLION_WRU}/M WRU, ${PRICE_PER_MILLION_RRU}/M RRU, "
        f"${PRICE_DYNAMODB_GB_MONTH}/GB-month DynamoDB, ${PRICE_PER_MILLION_S3_PUT}/M S3 PUT, "
        f"${PRICE_PER_MILLION_S3_GET}/M S3 GET, ${PRICE_S3_GB_MONTH}/GB-month S3.",
        "",
        "| record | stored in | $ / million versioned PUTs | $ / million GET /latest "
        "| a million versioned updates, one month (requests + storing the versions) |",
        "|---|---|---|---|---|",
    ]
    for c in result["costs"]:
        lines.append(
            f"| ~{c['target_bytes'] // 1000} KB | {c['stored_in']} | {c['put_versioned_per_million']:g} "
            f"| {c['get_latest_per_million']:g} | {c['million_versioned_updates_month']:g} "
            f"(storage {c['storage_month_of_a_million_versions']:g}) |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    from bench.common import RESULTS, write_json

    measured = run()
    write_json(RESULTS / "units.json", measured)
    (RESULTS / "units.md").write_text(markdown(measured))
    print(markdown(measured))
