"""Usage logs (issue 24): `python -m bench.usage_logs [--quick]`.

Measured through the real handlers on moto in-process (tests/support/inproc.py's harness):

- the usage line each request adds to the API's log group (bytes CloudWatch Logs ingests,
  with its 26-byte per-event overhead) and what the request path pays to format and write it;
- the usage-logs function per subscription batch of 1, 10, 100 and 1000 lines: handler time
  (decode, group, gzip, one S3 PUT per account and day; moto's PUT is in-process, so add the
  network PUT, ~20-40 ms, for AWS) and the gzip'd bytes stored per line;
- GET /l/{date} of a day of N lines: time and zip size;
- the cost per million requests from those sizes and AWS's us-east-1 list prices (below),
  for several batch sizes (CloudWatch Logs batches per log stream: about one line per
  invocation at a trickle, hundreds per invocation under load).

Results: bench/results/usage_logs.json and usage_logs.md.
"""

from __future__ import annotations

import argparse
import base64
import io
import logging
import statistics
import sys
import time
import zipfile
from datetime import UTC, datetime
from typing import Any

from bench.common import RESULTS, load_average, write_json
from bench.inproc import session

# us-east-1 list prices (December 2026 pages; check before relying on them)
CLOUDWATCH_INGEST_PER_GB = 0.50  # Standard log class, first tier (vended Lambda logs)
CLOUDWATCH_EVENT_OVERHEAD_BYTES = 26  # each event is billed at its size + 26 bytes
CLOUDWATCH_STORAGE_PER_GB_MONTH = 0.03  # archived (compressed, ~6x on JSON lines)
LAMBDA_PER_MILLION_REQUESTS = 0.20
LAMBDA_ARM_PER_GB_SECOND = 0.0000133334
LAMBDA_MEMORY_GB = 0.25  # template.yaml: UsageLogsFunction MemorySize 256
S3_PUT_PER_THOUSAND = 0.005
S3_STORAGE_PER_GB_MONTH = 0.023
S3_PUT_NETWORK_SECONDS = 0.03  # an S3 PUT from Lambda (moto's in-process PUT costs ~nothing)
RETENTION_DAYS = 30  # UsageLogRetentionDays' default
MILLION = 1_000_000


def _median_ms(samples: list[float]) -> float:
    return round(statistics.median(samples) * 1000, 3)


def measure(quick: bool) -> dict[str, Any]:
    requests = 200 if quick else 2000
    with session() as bench:
        from binvault.dal import blobs
        from binvault.handlers import api
        from binvault.handlers.usage_logs import lambda_handler
        from binvault.local.events import LocalContext, rest_event
        from binvault.local.usage_logs import Shipper
        from binvault.logic import usage_logs

        blobs.ensure_bucket()
        (handler,) = [h for h in api.usage_log.handlers if isinstance(h, logging.StreamHandler)]
        captured = io.StringIO()
        before = handler.setStream(captured)
        try:
            # the lines of a realistic mix: creates, reads, updates (bin ids in every line)
            bin_id = bench.create({"greeting": "hello"})
            for n in range(requests):
                if n % 3 == 0:
                    bench.ok("GET", f"/b/{bin_id}")
                elif n % 3 == 1:
                    bench.ok("PUT", f"/b/{bin_id}", {"n": n})
                else:
                    bench.ok("GET", f"/b/{bin_id}/latest", User_Agent="Mozilla/5.0 (X11; Linux x86_64) client/1.0")
            lines = [line for line in captured.getvalue().splitlines() if usage_logs.usage_of(line)]
            line_bytes = statistics.mean(len(line.encode()) for line in lines)

            # the request path's share: build the line and write it (to a buffer, not a terminal)
            event = rest_event("GET", f"/b/{bin_id}", [("X-Master-Key", bench.api.key or "")])
            response = {"statusCode": 200}
            from binvault.logic import auth

            auth._caller.set(auth.Caller("0" * 32, "master"))
            rounds = 500 if quick else 5000
            started = time.perf_counter()
            for _ in range(rounds):
                api.log_usage(event, response)
            per_line_us = round((time.perf_counter() - started) / rounds * 1e6, 1)
            auth.forget_caller()
        finally:
            handler.setStream(before)

        batches: dict[str, Any] = {}
        for size in (1, 10, 100, 1000):
            samples, stored = [], []
            repeats = 20 if size < 1000 else 5
            for repeat in range(repeats):
                chosen = lines[:size] if len(lines) >= size else (lines * (size // len(lines) + 1))[:size]
                data = {
                    "messageType": "DATA_MESSAGE",
                    "logEvents": [
                        {"id": f"{size:05d}{repeat:05d}{i:08d}", "timestamp": 0, "message": m}
                        for i, m in enumerate(chosen)
                    ],
                }
                subscription = usage_logs.encode_subscription_event(data)
                started = time.perf_counter()
                written = lambda_handler(subscription, LocalContext())["objects"]
                samples.append(time.perf_counter() - started)
                stored.append(sum(len(blobs.get(key) or b"") for key in written) / size)
            batches[str(size)] = {
                "handler_ms_p50": _median_ms(samples),
                "stored_bytes_per_line": round(statistics.mean(stored), 1),
            }

        # a day's download: every line so far is today's
        shipper = Shipper()
        for line in lines:
            shipper.feed(line)
        shipper.flush()
        day = datetime.now(UTC).strftime("%d-%m-%Y")
        samples, size, count = [], 0, 0
        for _ in range(3 if quick else 5):
            started = time.perf_counter()
            reply = bench.call("GET", f"/l/{day}")
            samples.append(time.perf_counter() - started)
            body = base64.b64decode(reply.raw)
            with zipfile.ZipFile(io.BytesIO(body)) as archive:
                count = len(archive.read(archive.namelist()[0]).splitlines())
            size = len(body)
        download = {"lines": count, "ms_p50": _median_ms(samples), "zip_bytes": size}
    return {
        "requests": requests,
        "usage_line_bytes": round(line_bytes, 1),
        "request_path_us_per_line": per_line_us,
        "batches": batches,
        "download": download,
    }


def costs(measured: dict[str, Any]) -> dict[str, Any]:
    """Dollars per million requests, by the subscription's batch size (lines per invocation)."""
    ingested_gb = MILLION * (measured["usage_line_bytes"] + CLOUDWATCH_EVENT_OVERHEAD_BYTES) / 1e9
    out: dict[str, Any] = {
        "cloudwatch_ingest": round(ingested_gb * CLOUDWATCH_INGEST_PER_GB, 4),
        "cloudwatch_storage_month": round(ingested_gb / 6 * CLOUDWATCH_STORAGE_PER_GB_MONTH, 4),
        "by_batch": {},
    }
    for size, batch in measured["batches"].items():
        invocations = MILLION / int(size)
        seconds = batch["handler_ms_p50"] / 1000 + S3_PUT_NETWORK_SECONDS  # one account and day per batch
        lambda_cost = invocations * (
            LAMBDA_PER_MILLION_REQUESTS / MILLION + seconds * LAMBDA_MEMORY_GB * LAMBDA_ARM_PER_GB_SECOND
        )
        puts = invocations * S3_PUT_PER_THOUSAND / 1000
        stored_gb = MILLION * batch["stored_bytes_per_line"] / 1e9
        storage = stored_gb * S3_STORAGE_PER_GB_MONTH * RETENTION_DAYS / 30
        total = out["cloudwatch_ingest"] + out["cloudwatch_storage_month"] + lambda_cost + puts + storage
        out["by_batch"][size] = {
            "lambda": round(lambda_cost, 4),
            "s3_puts": round(puts, 4),
            "s3_storage_retention": round(storage, 5),
            "total": round(total, 4),
        }
    return out


def run(quick: bool) -> dict[str, Any]:
    measured = measure(quick)
    return {**measured, "cost_per_million_requests_usd": costs(measured), "load_average_at_end": load_average()}


def markdown(results: dict[str, Any]) -> str:
    cost = results["cost_per_million_requests_usd"]
    lines = [
        "## Usage logs (in-process handlers on moto; `python -m bench.usage_logs`)",
        "",
        f"- usage line (what CloudWatch Logs ingests per request): {results['usage_line_bytes']} bytes",
        f"- request path: {results['request_path_us_per_line']} µs to build and write the line; no S3 or DynamoDB call",
        f"- GET /l/{{date}} of {results['download']['lines']} lines: {results['download']['ms_p50']} ms p50, "
        f"zip {results['download']['zip_bytes']} bytes",
        "",
        "| lines per subscription batch | handler ms p50 (moto S3) | stored bytes per line (gzip) | "
        "Lambda $/M req | S3 PUT $/M req | S3 storage $/M req (30 days) | total $/M req |",
        "|---|---|---|---|---|---|---|",
    ]
    for size, batch in results["batches"].items():
        c = cost["by_batch"][size]
        lines.append(
            f"| {size} | {batch['handler_ms_p50']} | {batch['stored_bytes_per_line']} | {c['lambda']} | "
            f"{c['s3_puts']} | {c['s3_storage_retention']} | {c['total']} |"
        )
    lines += [
        "",
        f"Every total includes CloudWatch Logs ingestion ${cost['cloudwatch_ingest']} and its storage "
        f"${cost['cloudwatch_storage_month']} per month kept. Lambda time = handler time + "
        f"{S3_PUT_NETWORK_SECONDS * 1000:.0f} ms for the S3 PUT; prices: us-east-1 list, arm64, 256 MB.",
        f"Load average at the end: {results.get('load_average_at_end', '?')}.",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.usage_logs", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    results = run(args.quick)
    out = RESULTS / "quick" if args.quick else RESULTS
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "usage_logs.json", results)
    (out / "usage_logs.md").write_text(markdown(results))
    print(markdown(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
