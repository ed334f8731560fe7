"""Stored data efficiency: records are zlib-compressed when that is smaller
(``binvault/dal/records.py``). For realistic JSON of about 1, 10 and 100 KB: raw vs stored
bytes, the items as they land in the table, and the units a versioned PUT and a GET /latest
cost with the stored items vs the same items holding the raw JSON.

Every versioned PUT rewrites the base item (in a transaction, so 2x) and every read reads
it (strongly consistent), and the base item carries the base record: its size is paid on
every request, not just the version's.
"""

from __future__ import annotations

import time
from typing import Any

from bench.common import users_record
from bench.inproc import session
from bench.units import item_size, read_units, value_size, write_units

TARGETS = (1_000, 10_000, 100_000)
QUOTA_WRU = 1  # the per-request quota decrement (the account item is ~150 bytes)


def _raw_equivalent(item: dict[str, Any], raw_bytes: int) -> int:
    """The item's size had its record been stored as the plain JSON string."""
    return item_size(item) - value_size(item["record"]) + raw_bytes


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


def _units(base: int, version: int) -> tuple[int, float]:
    """(WRU of a versioned PUT, RCU of a GET /latest) for these item sizes, warm key cache."""
    put = QUOTA_WRU + write_units(base, transactional=True) + write_units(version, transactional=True)
    get = read_units(base, consistent=True) + read_units(version, consistent=True)
    return put, get


def run(quick: bool = False) -> dict[str, Any]:
    from binvault.dal import records

    rows = []
    with session() as s:
        for target in TARGETS:
            record, next_record = users_record(target, seed=target), users_record(target, seed=target + 1)
            raw = len(records.dumps(next_record))
            bin_id = s.create(record)
            s.meter.start()
            s.ok("PUT", f"/b/{bin_id}", next_record, X_Bin_Versioning="true")
            put_calls = s.meter.stop()
            s.meter.start()
            s.ok("GET", f"/b/{bin_id}/latest")
            get_calls = s.meter.stop()
            items = {("base" if i["sk"]["S"] == "BIN" else "version"): i for i in s.bin_items(bin_id)}
            base, version = items["base"], items["version"]
            stored = value_size(version["record"])
            stored_units = _units(item_size(base), item_size(version))
            raw_units = _units(_raw_equivalent(base, len(records.dumps(record))), _raw_equivalent(version, raw))
            encode_ms, decode_ms = _codec_ms(next_record, 5 if quick else 20)
            # What-if: the base item without its record (kept in an item of its own).
            lean_base = item_size(base) - len("record") - value_size(base["record"])
            lean_units = _units(lean_base, item_size(version))
            rows.append(
                {
                    "target_bytes": target,
                    "raw_bytes": raw,
                    "stored_bytes": stored,
                    "stored_as": "B (zlib)" if "B" in version["record"] else "S (plain)",
                    "ratio": round(raw / stored, 2),
                    "version_item_bytes": item_size(version),
                    "version_item_bytes_if_raw": _raw_equivalent(version, raw),
                    "version_wru": write_units(item_size(version)),
                    "version_wru_if_raw": write_units(_raw_equivalent(version, raw)),
                    "version_rcu": read_units(item_size(version), True),
                    "version_rcu_if_raw": read_units(_raw_equivalent(version, raw), True),
                    "put_versioned_wru": stored_units[0],
                    "put_versioned_wru_if_raw": raw_units[0],
                    "put_versioned_wru_metered": sum(c.wru for c in put_calls),
                    "get_latest_rcu": stored_units[1],
                    "get_latest_rcu_if_raw": raw_units[1],
                    "get_latest_rcu_metered": sum(c.rcu for c in get_calls),
                    "put_versioned_wru_if_base_without_record": lean_units[0],
                    "get_latest_rcu_if_base_without_record": lean_units[1],
                    "encode_ms": encode_ms,
                    "decode_ms": decode_ms,
                }
            )
    return {"rows": rows}


def markdown(result: dict[str, Any]) -> str:
    lines = [
        "| record | raw JSON bytes | stored bytes | ratio | version item WRU / RCU (raw) "
        "| versioned PUT WRU (raw) | GET /latest RCU (raw) | zlib encode / decode ms |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in result["rows"]:
        lines.append(
            f"| ~{r['target_bytes'] // 1000} KB users list | {r['raw_bytes']:,} | {r['stored_bytes']:,} "
            f"| {r['ratio']:g}x | {r['version_wru']} / {r['version_rcu']:g} "
            f"({r['version_wru_if_raw']} / {r['version_rcu_if_raw']:g}) "
            f"| {r['put_versioned_wru']} ({r['put_versioned_wru_if_raw']}) "
            f"| {r['get_latest_rcu']:g} ({r['get_latest_rcu_if_raw']:g}) "
            f"| {r['encode_ms']:g} / {r['decode_ms']:g} |"
        )
    return "\n".join(lines) + "\n"
