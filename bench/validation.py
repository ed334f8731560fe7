"""Schema doc validation, before and after the move to jsonschema-rs (issue 23):
`python -m bench.validation [--quick]`.

- validating a realistic users document of about 10 KB, 100 KB and 1 MB (the default
  MAX_BIN_BYTES) against bench/listing.py's draft-07 schema: "before" is what binvault ran
  until issue 23 (pure-Python jsonschema: the draft's validator, ``best_match`` over
  ``iter_errors``), "after" is ``logic.schema_docs.validate`` itself (jsonschema-rs);
- compiling the schema (once per container and schema doc revision), both ways;
- a hostile pattern, ``^(a+)+$`` against ``"a" * n + "!"``: Python's backtracking ``re``
  (what jsonschema uses) doubles its time with every character, jsonschema-rs's linear
  engine does not notice n = 100,000.

Results: bench/results/validation.json and validation.md.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import time
from typing import Any

from bench.common import RESULTS, compact_size, load_average, users_record, write_json
from bench.listing import USERS_SCHEMA

SIZES = (10_000, 100_000, 1_000_000)
HOSTILE = "^(a+)+$"
BACKTRACKING_N = (16, 18, 20, 22)  # each +2 is 4x the time: 22 is about 1 s here
LINEAR_N = (1_000, 100_000)


def _median_ms(call: Any, times: int) -> float:
    durations = []
    for _ in range(times):
        started = time.perf_counter()
        call()
        durations.append(time.perf_counter() - started)
    return round(statistics.median(durations) * 1000, 3)


def _doc(schema: dict[str, Any], number: int) -> Any:
    from binvault.models.bins import SchemaDoc

    return SchemaDoc(f"{number:024x}", "bench", "users", "", json.dumps(schema), 1)


def run(quick: bool) -> dict[str, Any]:
    from jsonschema import exceptions, validators

    from binvault.logic import schema_docs

    runs = 3 if quick else 11
    before_validator = validators.Draft7Validator(USERS_SCHEMA)
    after_doc = _doc(USERS_SCHEMA, 1)
    schema_docs.validate(after_doc, {"users": []})  # compiled once, as a warm container has it
    sizes: dict[str, Any] = {}
    for size in SIZES:
        record = users_record(size)

        def before(record: Any = record) -> None:
            assert exceptions.best_match(before_validator.iter_errors(record)) is None

        def after(record: Any = record) -> None:
            schema_docs.validate(after_doc, record)

        slow_runs = max(3, runs // 3) if size >= 1_000_000 else runs
        sizes[str(size)] = {
            "record_bytes": compact_size(record),
            "before_ms": _median_ms(before, slow_runs),
            "after_ms": _median_ms(after, runs * 3),
        }
        sizes[str(size)]["speed_up"] = round(sizes[str(size)]["before_ms"] / sizes[str(size)]["after_ms"], 1)
    compile_before = _median_ms(
        lambda: validators.Draft7Validator.check_schema(USERS_SCHEMA) or validators.Draft7Validator(USERS_SCHEMA), runs
    )
    compile_after = _median_ms(lambda: schema_docs.check(USERS_SCHEMA), runs)
    hostile = {"type": "string", "pattern": HOSTILE}
    backtracking = {
        str(n): _median_ms(lambda n=n: re.search(HOSTILE, "a" * n + "!"), 1 if quick and n > 18 else 3)
        for n in BACKTRACKING_N
    }
    linear: dict[str, Any] = {}
    for number, n in enumerate(LINEAR_N, start=2):
        doc = _doc(hostile, number)

        def refused(doc: Any = doc, n: int = n) -> None:
            try:
                schema_docs.validate(doc, "a" * n + "!")
            except schema_docs.SchemaDocValidationMismatch:
                return
            raise AssertionError("the hostile pattern matched")

        linear[str(n)] = _median_ms(refused, runs)
    return {
        "runs": runs,
        "schema_bytes": len(json.dumps(USERS_SCHEMA)),
        "sizes": sizes,
        "compile_ms": {"before": compile_before, "after": compile_after},
        "hostile_pattern": HOSTILE,
        "python_re_ms": backtracking,
        "jsonschema_rs_ms": linear,
        "load_average_at_end": load_average(),
    }


def markdown(result: dict[str, Any]) -> str:
    lines = [
        "## Schema doc validation: pure-Python jsonschema (before) and jsonschema-rs (after)",
        "",
        f"A realistic users document against bench/listing.py's {result['schema_bytes']} B draft-07 schema, "
        f"median of {result['runs']} runs (3x as many after; fewer before at 1 MB). "
        f"Load average at the end: {result['load_average_at_end']} (2 cores shared with other work).",
        "",
        "| record | before ms | after ms | speed-up |",
        "|---|---|---|---|",
    ]
    for row in result["sizes"].values():
        lines.append(f"| {row['record_bytes']} B | {row['before_ms']} | {row['after_ms']} | {row['speed_up']}x |")
    compiled = result["compile_ms"]
    lines += [
        f"| compile the schema (once per container and revision) | {compiled['before']} | {compiled['after']} | - |",
        "",
        f'A hostile pattern `{result["hostile_pattern"]}` against `"a" * n + "!"`:',
        "",
        "| engine | n | ms |",
        "|---|---|---|",
    ]
    lines += [
        f"| Python `re` (backtracking; what jsonschema used) | {n} | {ms} |" for n, ms in result["python_re_ms"].items()
    ]
    lines += [f"| jsonschema-rs (linear; binvault now) | {n} | {ms} |" for n, ms in result["jsonschema_rs_ms"].items()]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.validation", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    result = run(args.quick)
    out = RESULTS / "quick" if args.quick else RESULTS
    write_json(out / "validation.json", result)
    (out / "validation.md").write_text(markdown(result))
    print(markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
