"""Listing bins and schema doc validation (issue 15): `python -m bench.listing [--quick]`.

- list-page latency (p50/p95) through the real handler on moto in-process: the first page
  of a collection, a page after a cursor, the uncategorized listing; and the DynamoDB calls
  and read units of each page. Units are computed from the items each call reads or writes
  by DynamoDB's documented rules (bench/units.py): moto does not report ConsumedCapacity;
- what a listing item costs a bin's writes: write units of a create and a delete, plain
  (the listing item rides in the same transaction, which doubles the base item's units);
- validation of the largest allowed record (MAX_BIN_BYTES, a realistic users document)
  against a realistic schema: jsonschema-rs's import, compiling the schema (once per
  container and schema doc revision), validating (every filed write), and a filed create
  end to end against a plain one.

Results: bench/results/listing.json and listing.md.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from typing import Any

from bench.common import RESULTS, compact_size, load_average, summary_ms, users_record, write_json
from bench.inproc import session
from binvault.models.settings import DEFAULT_MAX_BIN_BYTES

# the largest record a default deployment accepts (1 MB since records may live in S3)
MAX_BIN_BYTES = DEFAULT_MAX_BIN_BYTES

USERS_SCHEMA: dict[str, Any] = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "type": "object",
    "required": ["users"],
    "properties": {
        "users": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["id", "uuid", "name", "email", "age", "active"],
                "additionalProperties": False,
                "properties": {
                    "id": {"type": "integer", "minimum": 1},
                    "uuid": {"type": "string", "pattern": "^[0-9a-f]{32}$"},
                    "name": {"type": "string", "minLength": 1, "maxLength": 100},
                    "email": {"type": "string", "pattern": "^[^@]+@[^@]+$"},
                    "age": {"type": "integer", "minimum": 0, "maximum": 150},
                    "active": {"type": "boolean"},
                    "balance": {"type": "number", "minimum": 0},
                    "address": {
                        "type": "object",
                        "required": ["city"],
                        "properties": {"city": {"type": "string"}, "zip": {"type": "string", "pattern": "^[0-9]{5}$"}},
                    },
                    "tags": {
                        "type": "array",
                        "items": {
                            "enum": ["admin", "beta", "trial", "pro", "legacy", "eu", "us", "apac", "mobile", "api"]
                        },
                        "uniqueItems": True,
                    },
                    "lastLogin": {"type": "string"},
                },
            },
        }
    },
}

IMPORT_TIME = "import time; t = time.perf_counter(); import jsonschema_rs; print(time.perf_counter() - t)"


def _timed(call: Any, times: int) -> list[float]:
    durations = []
    for _ in range(times):
        started = time.perf_counter()
        call()
        durations.append(time.perf_counter() - started)
    return durations


def _units(calls: list[Any]) -> dict[str, Any]:
    counted: dict[str, int] = {}
    for call in calls:
        counted[call.operation] = counted.get(call.operation, 0) + 1
    return {"calls": counted, "rru": round(sum(c.rcu for c in calls), 2), "wru": round(sum(c.wru for c in calls), 2)}


def listing(quick: bool) -> dict[str, Any]:
    pages = 30 if quick else 200
    bins = 25 if quick else 100
    with session() as api:
        collection = api.ok("POST", "/c", X_Collection_Name="bench").body["record"]
        made = [
            api.ok("POST", "/b", {"n": n, "name": f"user {n}"}, X_Collection_Id=collection, X_Bin_Name=f"bin {n}")
            for n in range(bins)
        ]
        for n in range(bins):
            api.ok("POST", "/b", {"n": n}, X_Bin_Name=f"loose {n}")
        newest_first = sorted(made, key=lambda r: (r.body["metadata"]["createdAt"], r.body["metadata"]["id"]))[::-1]
        cursor = newest_first[9].body["metadata"]["id"]
        routes = {
            "collection, first page": f"/c/{collection}/bins",
            "collection, after a cursor": f"/c/{collection}/bins/{cursor}",
            "uncategorized, first page": "/c/uncategorized/bins",
        }
        measured: dict[str, Any] = {}
        for label, path in routes.items():
            api.ok("GET", path)  # warm: key cache, client
            api.meter.start()
            api.ok("GET", path)
            one = _units(api.meter.stop())
            durations = _timed(lambda path=path: api.ok("GET", path), pages)
            measured[label] = {"latency": summary_ms(durations), **one}
        # what the listing item adds to a bin's own writes
        api.meter.start()
        small = api.ok("POST", "/b", {"hello": "world"}).body["metadata"]["id"]
        create_small = _units(api.meter.stop())
        big_record = users_record(MAX_BIN_BYTES)
        api.meter.start()
        api.ok("POST", "/b", big_record)
        create_big = _units(api.meter.stop())
        api.meter.start()
        api.ok("DELETE", f"/b/{small}")
        delete_small = _units(api.meter.stop())
    return {
        "bins_in_collection": bins,
        "pages_timed": pages,
        "pages": measured,
        "create_small_record": create_small,
        "create_max_record": {**create_big, "record_bytes": compact_size(big_record)},
        "delete_bin": delete_small,
    }


def validation(quick: bool) -> dict[str, Any]:
    runs = 5 if quick else 30
    record = users_record(MAX_BIN_BYTES)
    imports = [
        float(subprocess.run([sys.executable, "-c", IMPORT_TIME], capture_output=True, text=True, check=True).stdout)
        for _ in range(3)
    ]
    from binvault.logic import schema_docs

    compile_times = _timed(lambda: schema_docs.check(USERS_SCHEMA), runs)
    from binvault.models.bins import SchemaDoc

    doc = SchemaDoc("0123456789abcdef01234567", "bench", "users", "", json.dumps(USERS_SCHEMA), 1)

    def validate() -> None:
        schema_docs.validate(doc, record)  # raises on a mismatch

    validate_times = _timed(validate, runs)
    with session() as api:
        doc = api.ok("POST", "/s", USERS_SCHEMA, X_Schema_Doc_Name="users").body["metadata"]["id"]
        collection = api.ok("POST", "/c", X_Collection_Name="validated").body["record"]
        api.ok("PUT", f"/c/{collection}/schemadoc/add", X_Schema_Doc_Id=doc)
        plain_collection = api.ok("POST", "/c", X_Collection_Name="plain").body["record"]
        api.ok("POST", "/b", record, X_Collection_Id=collection)  # warm: the validator is compiled once
        filed = _timed(lambda: api.ok("POST", "/b", record, X_Collection_Id=collection), runs)
        unvalidated = _timed(lambda: api.ok("POST", "/b", record, X_Collection_Id=plain_collection), runs)
        plain = _timed(lambda: api.ok("POST", "/b", record), runs)
    return {
        "record_bytes": compact_size(record),
        "users": len(record["users"]),
        "schema_bytes": len(json.dumps(USERS_SCHEMA)),
        "runs": runs,
        "import_jsonschema_rs_ms_median_of_3": round(statistics.median(imports) * 1000, 1),
        "compile": summary_ms(compile_times),
        "validate": summary_ms(validate_times),
        "create_filed_with_schema": summary_ms(filed),
        "create_filed_without_schema": summary_ms(unvalidated),
        "create_plain": summary_ms(plain),
    }


def markdown(results: dict[str, Any]) -> str:
    lines = [
        "## Listing bins (in-process handler on moto; units computed from item sizes, bench/units.py)",
        "",
        f"{results['listing']['bins_in_collection']} bins in the collection; each page timed "
        f"{results['listing']['pages_timed']} times.",
        f"Load average at the end: {results.get('load_average_at_end', '?')} (2 cores shared with other work: "
        "latencies vary several-fold with it; calls and units do not).",
        "",
        "| page | p50 ms | p95 ms | DynamoDB calls | RRU | WRU (the quota charge) |",
        "|---|---|---|---|---|---|",
    ]
    for label, page in results["listing"]["pages"].items():
        calls = ", ".join(f"{name} {n}" for name, n in sorted(page["calls"].items()))
        latency = page["latency"]
        lines.append(
            f"| {label} | {latency['p50_ms']} | {latency['p95_ms']} | {calls} | {page['rru']} | {page['wru']} |"
        )
    listing = results["listing"]
    lines += [
        "",
        "What a bin's listing item costs its own writes (the same transaction):",
        "",
        "| write | DynamoDB calls | WRU | WRU without the listing item (computed: a plain PutItem / DeleteItem) |",
        "|---|---|---|---|",
    ]
    for label, key in (
        ("create, small record", "create_small_record"),
        (f"create, {listing['create_max_record']['record_bytes']} B record", "create_max_record"),
        ("delete", "delete_bin"),
    ):
        calls = ", ".join(f"{name} {n}" for name, n in sorted(listing[key]["calls"].items()))
        # quota charge 1 WRU + the transaction: 2 x (base item + listing item of 1 KB)
        before = (listing[key]["wru"] - 1 - 2) / 2 + 1
        lines.append(f"| {label} | {calls} | {listing[key]['wru']} | {before:g} |")
    v = results["validation"]
    lines += [
        "",
        f"## Validation of the largest allowed record ({v['record_bytes']} B, {v['users']} users) "
        f"against a {v['schema_bytes']} B draft-07 schema",
        "",
        "| step | p50 ms | p95 ms |",
        "|---|---|---|",
        f"| import jsonschema-rs (first filed write of a container; median of 3 fresh processes) | "
        f"{v['import_jsonschema_rs_ms_median_of_3']} | - |",
        f"| compile the schema (check_schema + validator; once per container and revision) | "
        f"{v['compile']['p50_ms']} | {v['compile']['p95_ms']} |",
        f"| validate the record | {v['validate']['p50_ms']} | {v['validate']['p95_ms']} |",
        f"| POST /b filed, schema attached (end to end, in-process) | {v['create_filed_with_schema']['p50_ms']} | "
        f"{v['create_filed_with_schema']['p95_ms']} |",
        f"| POST /b filed, no schema | {v['create_filed_without_schema']['p50_ms']} | "
        f"{v['create_filed_without_schema']['p95_ms']} |",
        f"| POST /b plain | {v['create_plain']['p50_ms']} | {v['create_plain']['p95_ms']} |",
        "",
    ]
    return "\n".join(lines)


def run(quick: bool) -> dict[str, Any]:
    return {"listing": listing(quick), "validation": validation(quick), "load_average_at_end": load_average()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.listing", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    results = run(args.quick)
    out = RESULTS / "quick" if args.quick else RESULTS
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "listing.json", results)
    (out / "listing.md").write_text(markdown(results))
    print(markdown(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
