"""Cold start: fresh interpreters, each timing one cold path and reporting its own peak RSS.

The clock covers exactly what a Lambda init plus first invoke would run: the imports and
the first request (the event is built before the clock starts, as the runtime builds it).
Variants, interleaved round by round (the headline's two back to back, which first
alternating, the others in a random order around them) so that whatever else the machine
is doing hits them alike:

- ``baseline``: ``import boto3`` and create one DynamoDB client;
- ``baseline_get``: the same plus one GetItem on the same table: **the bare SDK call the
  headline compares with** (issue 17);
- ``handler_invalid``: import the API handler, serve a malformed-id request (no DynamoDB);
- ``handler_get``: import the API handler, serve ``GET /b/{id}`` with a key: the client,
  the key lookup, the quota charge, the base read (the headline; tracing off, the
  template's default);
- ``handler_get_traced``: as ``handler_get`` with tracing on (the X-Ray SDK is imported and
  patches botocore).

Fair conditions for both sides:

- every child runs with ``AWS_LAMBDA_FUNCTION_NAME`` set, as in Lambda (binvault pauses its
  garbage collector until the first answer only there, ``handlers/coldstart.py``; boto3
  does not look at it);
- both run from compiled bytecode: the SDK's site-packages were compiled when pip installed
  them, and ``src/binvault`` is compiled here before the first round, as the artifact ships
  it compiled (``scripts/package.sh``). The children never write bytecode themselves;
- both call the same DynamoDB endpoint: a local stack of its own, **in memory**. The durable
  one fdatasyncs every write before answering (the first request's quota charge is a write),
  which measures the disk, not DynamoDB and not a cold start;
- each child meets the account as live containers leave it: its ``charges`` map emptied
  before each child. Every charge leaves its token there for 300 s (the lost-response rule,
  ``dal/accounts.py``) and only a warm container removes tokens; the bench's children all
  die cold, so without this the account item grew by one token per child and every later
  charge wrote and returned a bigger item (275 tokens: the charge took 43 ms instead of 10
  on the emulator).

The headline is the median over rounds of the paired ratio handler_get / baseline_get (the
two children of one round ran back to back), with its interquartile range: on a loaded
machine single runs swing by half, while the paired ratio stays put. CPU time (all threads
of the child) is reported beside it: other work on the machine cannot inflate it, and it
leaves out the waits on DynamoDB.
"""

from __future__ import annotations

import argparse
import compileall
import json
import random
import re
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from typing import Any

from tests.support.stack import SRC, Stack, child_env, local_stack

from bench.common import PYTHON, RESULTS, ROOT, TABLE, Deadline, load_average, users_record, write_json

TARGET_RATIO = 1.0
ROUNDS, QUICK_ROUNDS = 24, 3
MIN_ROUNDS = 8  # measured rounds kept even when the time budget runs out
BUDGET_SECONDS, QUICK_BUDGET_SECONDS = 150.0, 40.0
CHILD_TIMEOUT_SECONDS = 60.0
HEADLINE, BARE_SDK = "handler_get", "baseline_get"

_PRELUDE = """
import json, os, resource, sys, time
EVENT = json.loads(os.environ["BENCH_EVENT"])
class Context:
    function_name = "binvault-bench"; memory_limit_in_mb = 512; function_version = "$LATEST"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:binvault-bench"
    aws_request_id = "00000000-0000-0000-0000-000000000000"
    log_group_name = "/aws/lambda/binvault-bench"; log_stream_name = "bench"
    def get_remaining_time_in_millis(self): return 28000
"""

_HANDLER = """
from binvault.handlers.api import lambda_handler
status = lambda_handler(EVENT, Context())["statusCode"]
"""

# What-ifs for ``--ablation``: one measure of handlers/coldstart.py (or dal/botocore_loader.py)
# switched off each, to show what it saves. (set-up before the clock, measured body)
_EAGER_POWERTOOLS = """
import aws_lambda_powertools.event_handler, aws_lambda_powertools.utilities.data_classes
"""
_NO_GC_PAUSE = "import gc\ngc.disable = lambda: None\n"
_CLIENT_ON_POOL_THREAD = """
from binvault.handlers.api import lambda_handler
import binvault.handlers.coldstart as coldstart
coldstart._prepare = lambda prepare: None
status = lambda_handler(EVENT, Context())["statusCode"]
"""
_BOTOCORE_LOADER = """
import binvault.dal.botocore_loader as botocore_loader
botocore_loader.install = lambda session: None
"""

_BASELINE = """
import boto3
client = boto3.client("dynamodb")
status = 200
"""

_BASELINE_GET = """
import boto3
client = boto3.client("dynamodb")
key = json.loads(os.environ["BENCH_KEY"])
client.get_item(TableName=os.environ["TABLE_NAME"], Key=key, ConsistentRead=True)
status = 200
"""

# Peak RSS is the child's VmHWM (its own address space's high-water mark). ru_maxrss would
# do on a small parent, but Linux carries the pre-exec high-water mark across fork+exec
# (signal_struct.maxrss), so a child of this process, which has moto and matplotlib loaded,
# reports the parent's peak instead of its own. Both are recorded.
_MEASURE = """
started, cpu_started = time.perf_counter(), time.process_time()
{body}
elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
maxrss_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
try:
    with open("/proc/self/status") as status_file:
        hwm_kb = next(int(l.split()[1]) for l in status_file if l.startswith("VmHWM:"))
except (OSError, StopIteration):
    hwm_kb = maxrss_kb
print(json.dumps({{"seconds": elapsed, "cpu_seconds": cpu, "hwm_kb": hwm_kb, "maxrss_kb": maxrss_kb,
                  "status": status}}))
"""

VARIANTS: dict[str, tuple[str, str]] = {
    # name: (set-up before the clock, measured body)
    "baseline": ("", _BASELINE),
    "baseline_get": ("", _BASELINE_GET),
    "handler_invalid": ("", _HANDLER),
    "handler_get": ("", _HANDLER),
    "handler_get_traced": ("", _HANDLER),
}
ABLATION: dict[str, tuple[str, str]] = {
    "without_lazy_powertools": ("", _EAGER_POWERTOOLS + _HANDLER),
    "without_gc_pause": (_NO_GC_PAUSE, _HANDLER),
    "client_built_on_pool_thread": ("", _CLIENT_ON_POOL_THREAD),
    "with_botocores_loader": ("", _BOTOCORE_LOADER + _HANDLER),
}
LABELS = {
    "baseline": "import boto3 + DynamoDB client",
    "baseline_get": "import boto3 + client + one GetItem (the bare SDK call)",
    "handler_invalid": "import handler + invalid-id request (no DynamoDB)",
    "handler_get": "import handler + GET /b/{id} (first request, 3 DynamoDB calls)",
    "handler_get_traced": "same, with tracing on (X-Ray SDK loaded)",
    "without_lazy_powertools": "what-if: handler_get with Powertools' package __init__ files run in full",
    "without_gc_pause": "what-if: handler_get with the collector running through init",
    "client_built_on_pool_thread": "what-if: handler_get with the client built by whichever thread asks first",
    "with_botocores_loader": "what-if: handler_get with botocore's loader (lists every service)",
}

# What the import tables profile: everything each side imports before its first call can go out.
IMPORT_PATHS = {
    "handler": "import binvault.handlers.api\nfrom binvault.dal.client import dynamodb\ndynamodb()",
    "bare_sdk": 'import boto3\nboto3.client("dynamodb")',
}


def _script(variant: str) -> str:
    setup, body = {**VARIANTS, **ABLATION}[variant]
    return _PRELUDE + setup + _MEASURE.format(body=body.strip())


def _env(stack: Stack, bin_id: str, variant: str) -> dict[str, str]:
    from binvault.local.events import rest_event

    path = "/b/not-a-bin-id" if variant == "handler_invalid" else f"/b/{bin_id}"
    event = rest_event("GET", path, {"X-Master-Key": stack.key})
    traced = variant == "handler_get_traced"
    return child_env(
        AWS_LAMBDA_FUNCTION_NAME="binvault-bench",  # as in Lambda, for every variant
        # no X-Ray daemon here, so no trace context either
        **({"AWS_XRAY_CONTEXT_MISSING": "IGNORE_ERROR"} if traced else {}),
        TABLE_NAME=stack.table,
        IDEMPOTENCY_TABLE_NAME=f"{stack.table}-idempotency",
        AWS_ENDPOINT_URL_DYNAMODB=stack.dynamodb_url,
        POWERTOOLS_TRACE_DISABLED="false" if traced else "true",
        POWERTOOLS_METRICS_DISABLED="true",
        POWERTOOLS_LOG_LEVEL="WARNING",
        BENCH_EVENT=json.dumps(event),
        BENCH_KEY=json.dumps({"pk": {"S": f"BIN#{bin_id}"}, "sk": {"S": "BIN"}}),
    )


def _run_child(variant: str, env: dict[str, str]) -> dict[str, Any]:
    started = time.perf_counter()
    done = subprocess.run(
        [PYTHON, "-c", _script(variant)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=CHILD_TIMEOUT_SECONDS,
        check=False,
    )
    wall = time.perf_counter() - started
    lines = [line for line in done.stdout.splitlines() if line.startswith('{"seconds"')]
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"cold start child {variant} failed: {done.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(lines[-1])
    result["process_seconds"] = wall
    return result


# ---- the import tables ------------------------------------------------------------------


IMPORTTIME_RUNS = 5


def _importtime(code: str, env: dict[str, str]) -> list[tuple[str, int, int, int]]:
    """(module, self us, cumulative us, depth) for each import ``code`` makes: each time the
    least of ``IMPORTTIME_RUNS`` runs after a warm-up (one run on a busy machine is noise)."""
    command = [PYTHON, "-X", "importtime", "-c", code]
    runs: list[list[tuple[str, int, int, int]]] = []
    for _ in range(IMPORTTIME_RUNS + 1):
        done = subprocess.run(
            command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=CHILD_TIMEOUT_SECONDS, check=True
        )
        rows = []
        for line in done.stderr.splitlines():
            match = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)", line)
            if match:
                rows.append((match[4], int(match[1]), int(match[2]), len(match[3]) // 2))
        runs.append(rows)
    least: dict[str, tuple[int, int]] = {}
    for rows in runs[1:]:
        for name, self_us, cumulative_us, _ in rows:
            low = least.get(name, (self_us, cumulative_us))
            least[name] = (min(low[0], self_us), min(low[1], cumulative_us))
    return [(name, *least[name], depth) for name, _, _, depth in runs[-1]]


def _package_of(module: str) -> str:
    top = module.split(".")[0]
    return top.lstrip("_") or top  # _ssl with ssl, _json with json


def import_profile(stack: Stack, top: int = 12) -> dict[str, Any]:
    """``python -X importtime`` of both sides up to their first call: totals, the biggest
    top-level imports, and self time by package side by side (who imports what)."""
    env = _env(stack, "0" * 24, HEADLINE)
    startup = {name for name, *_ in _importtime("pass", env)}  # the interpreter's own, on both sides
    sides = {
        side: [row for row in _importtime(code, env) if row[0] not in startup] for side, code in IMPORT_PATHS.items()
    }
    by_package: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(IMPORT_PATHS, 0))
    for side, rows in sides.items():
        for name, self_us, _, _ in rows:
            by_package[_package_of(name)][side] += self_us
    handler_modules = {name for name, *_ in sides["handler"]}
    return {
        "total_ms": {side: round(sum(r[1] for r in rows) / 1000, 1) for side, rows in sides.items()},
        "top_cumulative_ms": {
            side: [
                {"module": name, "cumulative_ms": round(cumulative / 1000, 1)}
                for name, _, cumulative, depth in sorted(rows, key=lambda r: -r[2])
                if depth == 0
            ][:top]
            for side, rows in sides.items()
        },
        "by_package_ms": [
            {"package": package, **{side: round(us / 1000, 1) for side, us in row.items()}}
            for package, row in sorted(by_package.items(), key=lambda kv: -max(kv[1].values()))[:top]
        ],
        "heavy_modules_imported_by_handler": sorted(
            name
            for name in handler_modules
            if name.split(".")[0] in {"asyncio", "boto3", "pydantic", "jsonschema", "jsonpath_ng", "aws_xray_sdk"}
            or name.startswith(("aws_lambda_powertools.event_handler.appsync", "botocore.data"))
        )[:top],
        "imports_botocore_session": "botocore.session" in handler_modules,
    }


# ---- the run ---------------------------------------------------------------------------


def _quartiles(values: list[float]) -> tuple[float, float]:
    if len(values) < 2:
        return values[0], values[0]
    q1, _, q3 = statistics.quantiles(values, n=4, method="inclusive")
    return q1, q3


def measure(stack: Stack, bin_id: str, quick: bool = False, ablation: bool = False) -> dict[str, Any]:
    compiled = compileall.compile_dir(str(SRC / "binvault"), quiet=1)  # as the artifact ships it
    if not compiled:
        raise RuntimeError("src/binvault did not compile")
    rounds = QUICK_ROUNDS if quick else ROUNDS
    deadline = Deadline(QUICK_BUDGET_SECONDS if quick else BUDGET_SECONDS)
    names = [*VARIANTS, *(ABLATION if ablation else ())]
    envs = {variant: _env(stack, bin_id, variant) for variant in names}
    samples: dict[str, list[dict[str, Any]]] = defaultdict(list)
    client = stack.dynamodb()
    accounts = [
        {"pk": item["pk"], "sk": item["sk"]}
        for item in client.scan(
            TableName=stack.table, FilterExpression="sk = :sk", ExpressionAttributeValues={":sk": {"S": "ACCOUNT"}}
        )["Items"]
    ]

    def as_live_containers_leave_it() -> None:
        for key in accounts:
            client.update_item(
                TableName=stack.table,
                Key=key,
                UpdateExpression="SET charges = :empty",
                ExpressionAttributeValues={":empty": {"M": {}}},
            )

    load_before = load_average()
    order = random.Random(17)  # the same shuffles every run
    for round_number in range(rounds + 1):  # round 0 warms the page cache, discarded
        if round_number > MIN_ROUNDS and deadline.expired:
            break
        # The headline's pair back to back, which first alternating; the others shuffled around it.
        pair = [HEADLINE, BARE_SDK] if round_number % 2 else [BARE_SDK, HEADLINE]
        others = order.sample([n for n in names if n not in pair], len(names) - 2)
        split = order.randint(0, len(others))
        for variant in [*others[:split], *pair, *others[split:]]:
            as_live_containers_leave_it()
            result = _run_child(variant, envs[variant])
            expected = 400 if variant == "handler_invalid" else 200
            if result["status"] != expected:
                raise RuntimeError(f"cold start {variant}: status {result['status']}")
            if round_number:
                samples[variant].append(result)
    load_after = load_average()
    bare = samples[BARE_SDK]
    variants = {}
    for variant in names:
        runs = samples[variant]
        paired = [r["seconds"] / b["seconds"] for r, b in zip(runs, bare, strict=True)]
        paired_cpu = [r["cpu_seconds"] / b["cpu_seconds"] for r, b in zip(runs, bare, strict=True)]
        q1, q3 = _quartiles(paired)
        variants[variant] = {
            "label": LABELS[variant],
            "median_ms": round(statistics.median(r["seconds"] for r in runs) * 1000, 1),
            "min_ms": round(min(r["seconds"] for r in runs) * 1000, 1),
            "cpu_median_ms": round(statistics.median(r["cpu_seconds"] for r in runs) * 1000, 1),
            "process_median_ms": round(statistics.median(r["process_seconds"] for r in runs) * 1000, 1),
            "peak_rss_mb": round(statistics.median(r["hwm_kb"] for r in runs) / 1024, 1),
            "ru_maxrss_mb": round(statistics.median(r["maxrss_kb"] for r in runs) / 1024, 1),
            "runs": len(runs),
            "ratio_to_bare_sdk": round(statistics.median(paired), 2),
            "ratio_iqr": [round(q1, 2), round(q3, 2)],
            "cpu_ratio_to_bare_sdk": round(statistics.median(paired_cpu), 2),
        }
    headline = variants[HEADLINE]
    return {
        "repetitions": len(bare),
        "variants": variants,
        # median over rounds of handler_get / baseline_get, the two run back to back
        "ratio": headline["ratio_to_bare_sdk"],
        "ratio_iqr": headline["ratio_iqr"],
        "ratio_of_medians": round(headline["median_ms"] / variants[BARE_SDK]["median_ms"], 2),
        # Other work on the machine only ever adds time: the fastest runs are the steadiest.
        "ratio_of_minimums": round(headline["min_ms"] / variants[BARE_SDK]["min_ms"], 2),
        "cpu_ratio": headline["cpu_ratio_to_bare_sdk"],
        "ratio_vs_client_only": round(headline["median_ms"] / variants["baseline"]["median_ms"], 2),
        "rss_ratio": round(headline["peak_rss_mb"] / variants[BARE_SDK]["peak_rss_mb"], 2),
        "target_ratio": TARGET_RATIO,
        "meets_target": headline["ratio_to_bare_sdk"] <= TARGET_RATIO,
        "load_average": {"before": load_before, "after": load_after},
        "imports": import_profile(stack),
    }


def run(quick: bool = False, ablation: bool = False) -> dict[str, Any]:
    """The phase: its own in-memory local stack (see the module docstring), one bin, the rounds."""
    with local_stack("memory", table=TABLE) as stack:
        bin_id = stack.client().create(users_record(1000))
        return measure(stack, bin_id, quick, ablation)


def markdown(result: dict[str, Any]) -> str:
    load = result["load_average"]
    lines = [
        f"**Cold start / the bare SDK call: {result['ratio']:g}x** (median of {result['repetitions']} paired "
        f"rounds, interquartile range {result['ratio_iqr'][0]:g}-{result['ratio_iqr'][1]:g}; CPU time "
        f"{result['cpu_ratio']:g}x; target <= {result['target_ratio']:g}: "
        f"{'met' if result['meets_target'] else 'missed'}). Load average (1/5/15 min) "
        f"{'/'.join(f'{x:g}' for x in load['before'])} before, {'/'.join(f'{x:g}' for x in load['after'])} after.",
        "",
        "| cold path (fresh process) | median ms | min ms | CPU ms | whole process ms | peak RSS MB "
        "| / bare SDK call (median of paired rounds, IQR) | CPU / bare SDK call |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in result["variants"].values():
        low, high = row["ratio_iqr"]
        lines.append(
            f"| {row['label']} | {row['median_ms']:g} | {row['min_ms']:g} | {row['cpu_median_ms']:g} "
            f"| {row['process_median_ms']:g} | {row['peak_rss_mb']:g} | {row['ratio_to_bare_sdk']:g}x "
            f"({low:g}-{high:g}) | {row['cpu_ratio_to_bare_sdk']:g}x |"
        )
    imports = result["imports"]
    totals = imports["total_ms"]
    lines += [
        "",
        "`python -X importtime`, everything imported before the first call can go out (the handler: "
        "`import binvault.handlers.api` and its DynamoDB client; the bare SDK: `import boto3` and its "
        f"client): {totals['handler']:g} ms vs {totals['bare_sdk']:g} ms (importtime's own overhead "
        "included). Self time by package:",
        "",
        "| package | handler ms | bare SDK ms |",
        "|---|---|---|",
    ]
    lines += [f"| `{r['package']}` | {r['handler']:g} | {r['bare_sdk']:g} |" for r in imports["by_package_ms"]]
    lines += ["", "Biggest top-level imports (cumulative ms):", "", "| handler | | bare SDK | |", "|---|---|---|---|"]
    handler_top, sdk_top = imports["top_cumulative_ms"]["handler"], imports["top_cumulative_ms"]["bare_sdk"]
    for index in range(min(8, max(len(handler_top), len(sdk_top)))):
        cells = []
        for top in (handler_top, sdk_top):
            cells += [f"`{top[index]['module']}`", f"{top[index]['cumulative_ms']:g}"] if index < len(top) else ["", ""]
        lines.append("| " + " | ".join(cells) + " |")
    heavy = imports["heavy_modules_imported_by_handler"]
    lines += ["", f"Heavy modules the handler imports: {', '.join(f'`{m}`' for m in heavy) if heavy else 'none'}."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.cold_start", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a few rounds (into results/quick/)")
    parser.add_argument(
        "--ablation", action="store_true", help="also each measure switched off (into cold_start_ablation.*)"
    )
    args = parser.parse_args(argv)
    out = RESULTS / "quick" if args.quick else RESULTS
    result = run(args.quick, args.ablation)
    name = "cold_start_ablation" if args.ablation else "cold_start"
    write_json(out / f"{name}.json", result)
    (out / f"{name}.md").write_text(markdown(result))
    print(markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
