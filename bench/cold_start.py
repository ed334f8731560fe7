"""Cold start: fresh interpreters, each timing one cold path and reporting its own peak RSS.

The clock covers exactly what a Lambda init plus first invoke would run: the imports and
the first request (the event is built before the clock starts, as the runtime builds it).
Variants, interleaved so drift hits them alike:

- ``baseline``: ``import boto3`` and create one DynamoDB client (the floor any boto3
  Lambda pays);
- ``baseline_get``: the same plus one GetItem (the floor for a request that reads a table);
- ``handler_invalid``: import the API handler, serve a malformed-id request (no DynamoDB);
- ``handler_get``: import the API handler, serve ``GET /b/{id}`` with a key against the
  local stack's DynamoDB: client creation, key lookup, quota decrement, base read (the
  headline; tracing off, the template's default);
- ``handler_get_one_client``: as ``handler_get`` with ``dal.client.dynamodb()`` behind a
  lock (a what-if: the first request builds two clients, one per thread, see ``_ONE_CLIENT``);
- ``handler_get_traced``: as ``handler_get`` with tracing on (``TracingEnabled=true``: the
  X-Ray SDK is imported and patches botocore).
"""

from __future__ import annotations

import json
import re
import statistics
import subprocess
import time
from collections import defaultdict
from typing import Any

from tests.support.stack import Stack, child_env

from bench.common import PYTHON, ROOT, Deadline

TARGET_RATIO = 1.25
MIN_ROUNDS = 3  # measured rounds kept even when the time budget runs out
CHILD_TIMEOUT_SECONDS = 60.0

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

# What-if: one client however many threads ask first (functools.lru_cache does not lock,
# so the request thread and the binvault-io pool thread each build one on a cold start).
# binvault.dal.client is imported before the clock for this: a few ms in its favour.
_ONE_CLIENT = """
import threading
import binvault.dal.client as _client
_factory, _lock = _client.dynamodb, threading.Lock()
def _one_client():
    with _lock:
        return _factory()
_one_client.cache_clear = _factory.cache_clear
_client.dynamodb = _one_client
"""

_HANDLER = """
from binvault.handlers.api import lambda_handler
status = lambda_handler(EVENT, Context())["statusCode"]
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
    "handler_get_one_client": (_ONE_CLIENT, _HANDLER),
    "handler_get_traced": ("", _HANDLER),
}
LABELS = {
    "baseline": "import boto3 + DynamoDB client",
    "baseline_get": "import boto3 + client + one GetItem",
    "handler_invalid": "import handler + invalid-id request (no DynamoDB)",
    "handler_get": "import handler + GET /b/{id} (first request, 3 DynamoDB calls)",
    "handler_get_one_client": "what-if: same, one DynamoDB client instead of two",
    "handler_get_traced": "same, with tracing on (X-Ray SDK loaded)",
}


def _script(variant: str) -> str:
    setup, body = VARIANTS[variant]
    return _PRELUDE + setup + _MEASURE.format(body=body.strip())


def _env(stack: Stack, bin_id: str, variant: str) -> dict[str, str]:
    from binvault.local.events import rest_event

    path = "/b/not-a-bin-id" if variant == "handler_invalid" else f"/b/{bin_id}"
    event = rest_event("GET", path, {"X-Master-Key": stack.key})
    tracing: dict[str, str] = {}
    if variant == "handler_get_traced":  # as in Lambda; no daemon here, so no trace context either
        tracing = {"AWS_LAMBDA_FUNCTION_NAME": "binvault-bench", "AWS_XRAY_CONTEXT_MISSING": "IGNORE_ERROR"}
    return child_env(
        **tracing,
        TABLE_NAME=stack.table,
        IDEMPOTENCY_TABLE_NAME=f"{stack.table}-idempotency",
        AWS_ENDPOINT_URL_DYNAMODB=stack.dynamodb_url,
        POWERTOOLS_TRACE_DISABLED="false" if tracing else "true",
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


def import_profile(stack: Stack, top: int = 12) -> dict[str, Any]:
    """``python -X importtime`` of the handler module: the biggest contributors."""
    env = _env(stack, "0" * 24, "handler_get")
    command = [PYTHON, "-X", "importtime", "-c", "import binvault.handlers.api"]
    subprocess.run(command, cwd=ROOT, env=env, capture_output=True, timeout=CHILD_TIMEOUT_SECONDS, check=False)
    done = subprocess.run(
        command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=CHILD_TIMEOUT_SECONDS, check=True
    )
    rows = []
    for line in done.stderr.splitlines():
        match = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)", line)
        if match:
            rows.append((match[4], int(match[1]), int(match[2]), len(match[3]) // 2))
    total = next(cumulative for name, _, cumulative, _ in rows if name == "binvault.handlers.api")
    by_package: dict[str, int] = defaultdict(int)
    for name, self_us, _, _ in rows:
        by_package[name.split(".")[0]] += self_us
    cumulative = {name: c for name, _, c, _ in rows}
    return {
        "handler_import_ms": round(total / 1000, 1),
        "top_self_ms": [
            {"module": n, "self_ms": round(s / 1000, 1), "cumulative_ms": round(c / 1000, 1)}
            for n, s, c, _ in sorted(rows, key=lambda r: -r[1])[:top]
        ],
        "by_package_ms": [
            {"package": p, "self_ms": round(us / 1000, 1)}
            for p, us in sorted(by_package.items(), key=lambda kv: -kv[1])[:top]
        ],
        "direct_imports_ms": [
            {"module": n, "cumulative_ms": round(c / 1000, 1)}
            for n, _, c, depth in sorted(rows, key=lambda r: -r[2])
            if depth == 1
        ][:top],
        "aws_xray_sdk_core_ms": round(cumulative.get("aws_xray_sdk.core", 0) / 1000, 1),
        "imports_botocore_session": "botocore.session" in cumulative,
    }


def run(stack: Stack, bin_id: str, quick: bool = False) -> dict[str, Any]:
    repetitions = 2 if quick else 6
    deadline = Deadline(30.0 if quick else 75.0)
    envs = {variant: _env(stack, bin_id, variant) for variant in VARIANTS}
    samples: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for round_number in range(repetitions + 1):  # round 0 warms the page cache, discarded
        if round_number > MIN_ROUNDS and deadline.expired:
            break
        for variant in VARIANTS:
            result = _run_child(variant, envs[variant])
            expected = 400 if variant == "handler_invalid" else 200
            if result["status"] != expected:
                raise RuntimeError(f"cold start {variant}: status {result['status']}")
            if round_number:
                samples[variant].append(result)
    variants = {}
    for variant, runs in samples.items():
        variants[variant] = {
            "label": LABELS[variant],
            "median_ms": round(statistics.median(r["seconds"] for r in runs) * 1000, 1),
            "min_ms": round(min(r["seconds"] for r in runs) * 1000, 1),
            "cpu_median_ms": round(statistics.median(r["cpu_seconds"] for r in runs) * 1000, 1),
            "process_median_ms": round(statistics.median(r["process_seconds"] for r in runs) * 1000, 1),
            "peak_rss_mb": round(statistics.median(r["hwm_kb"] for r in runs) / 1024, 1),
            "ru_maxrss_mb": round(statistics.median(r["maxrss_kb"] for r in runs) / 1024, 1),
            "runs": len(runs),
        }
    base = variants["baseline"]
    for row in variants.values():
        row["ratio_to_baseline"] = round(row["median_ms"] / base["median_ms"], 2)
        row["cpu_ratio_to_baseline"] = round(row["cpu_median_ms"] / base["cpu_median_ms"], 2)
        row["rss_ratio_to_baseline"] = round(row["peak_rss_mb"] / base["peak_rss_mb"], 2)
    headline = variants["handler_get"]
    return {
        "repetitions": len(samples["baseline"]),
        "variants": variants,
        "ratio": headline["ratio_to_baseline"],
        # Other work on the machine only ever adds time: the fastest runs are the steadiest.
        "ratio_of_minimums": round(headline["min_ms"] / base["min_ms"], 2),
        # CPU time of the child (all its threads): what contention cannot inflate, less the
        # waits on DynamoDB.
        "cpu_ratio": headline["cpu_ratio_to_baseline"],
        "ratio_vs_baseline_get": round(headline["median_ms"] / variants["baseline_get"]["median_ms"], 2),
        "rss_ratio": headline["rss_ratio_to_baseline"],
        "target_ratio": TARGET_RATIO,
        "meets_target": headline["ratio_to_baseline"] <= TARGET_RATIO,
        "imports": import_profile(stack),
    }


def markdown(result: dict[str, Any]) -> str:
    lines = [
        "| cold path (fresh process) | median ms | min ms | CPU ms | whole process ms | peak RSS MB | vs baseline |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in result["variants"].values():
        lines.append(
            f"| {row['label']} | {row['median_ms']:g} | {row['min_ms']:g} | {row['cpu_median_ms']:g} "
            f"| {row['process_median_ms']:g} | {row['peak_rss_mb']:g} | {row['ratio_to_baseline']:g}x time, "
            f"{row['cpu_ratio_to_baseline']:g}x CPU, "
            f"{row['rss_ratio_to_baseline']:g}x RSS |"
        )
    imports = result["imports"]
    botocore = "botocore.session included"
    if not imports["imports_botocore_session"]:
        botocore = "botocore's session and client come with the first request"
    lines += [
        "",
        f"`python -X importtime` of `binvault.handlers.api`: {imports['handler_import_ms']:g} ms in all "
        f"({botocore}); what it imports directly:",
        "",
        "| module | cumulative ms |",
        "|---|---|",
    ]
    lines += [f"| `{r['module']}` | {r['cumulative_ms']:g} |" for r in imports["direct_imports_ms"][:6]]
    return "\n".join(lines) + "\n"
