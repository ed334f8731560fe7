"""SUMMARY.md (for the README) and the headline lines printed at the end of a run."""

from __future__ import annotations

from typing import Any

from bench import cold_start, delete_versions, load, round_trips, storage, throughput


def headlines(results: dict[str, Any]) -> list[str]:
    deleting, cold, busy = results["delete_versions"], results["cold_start"], results["load"]["mixed"]
    small, large = deleting["ratio_sizes"]
    unit_large = deleting["units"].get(str(large), {})
    storage_large = next(r for r in results["storage"]["rows"] if r["target_bytes"] == 100_000)
    storage_1mb = next(r for r in results["storage"]["rows"] if r["target_bytes"] == 1_000_000)
    huge = results["delete_versions_1mb"]
    handler, baseline = cold["variants"]["handler_get"], cold["variants"]["baseline_get"]
    verdict = "meets" if cold["meets_target"] else "misses"

    def p50(size: int) -> float:
        return float(deleting["delete_ms"][str(size)]["p50_ms"])

    return [
        f"Delete versions: time({large}) / time({small}) = {deleting['ratio']}x "
        f"(p50 {p50(large)} ms vs {p50(small)} ms; fastest vs fastest {deleting['ratio_of_minimums']}x)",
        f"Write units per deleted version at {large} versions: {unit_large.get('wru_per_version')} WRU "
        f"vs the floor of {unit_large.get('floor_wru_per_version')} ({unit_large.get('vs_floor')}x; "
        f"transactional deletes would be {unit_large.get('transactional_delete_wru_per_version')})",
        f"Cold start: handler + first request / (import boto3 + client + one GetItem) = {cold['ratio']}x "
        f"(median of {cold['repetitions']} paired rounds, IQR {cold['ratio_iqr'][0]}-{cold['ratio_iqr'][1]}; "
        f"medians {handler['median_ms']} ms vs {baseline['median_ms']} ms; CPU time {cold['cpu_ratio']}x; "
        f"target <= {cold['target_ratio']}: {verdict} it), "
        f"peak RSS {handler['peak_rss_mb']} MB vs {baseline['peak_rss_mb']} MB",
        f"Load: {busy['requests_per_second']} req/s with {busy['threads']} threads "
        f"({busy['requests_done']} requests), p50/p95/p99 {busy['all']['p50_ms']}/{busy['all']['p95_ms']}/"
        f"{busy['all']['p99_ms']} ms",
        _throughput_line(results["throughput"]),
        f"Storage: a ~100 KB JSON record is stored in {storage_large['stored_bytes']:,} bytes "
        f"({storage_large['ratio']}x smaller); a versioned PUT costs {storage_large['put_versioned_wru']} WRU "
        f"(before records left the base item: {storage_large['before_put_versioned_wru']}), a GET /latest "
        f"{storage_large['get_latest_rcu']:g} RCU (before: {storage_large['before_get_latest_rcu']}); "
        f"~1 MB: {storage_1mb['put_versioned_wru']:g} WRU + 1 S3 PUT, {storage_1mb['get_latest_rcu']:g} RCU + 1 S3 GET",
        f"Delete versions at ~1 MB records (S3): time({huge['ratio_sizes'][1]}) / time({huge['ratio_sizes'][0]}) "
        f"= {huge['ratio']}x (p50 {huge['delete_ms'][str(huge['ratio_sizes'][1])]['p50_ms']} ms vs "
        f"{huge['delete_ms'][str(huge['ratio_sizes'][0])]['p50_ms']} ms; fastest vs fastest "
        f"{huge['ratio_of_minimums']}x)",
    ]


def _throughput_line(result: dict[str, Any]) -> str:
    stack, raw, size = result["stack"], result["raw"], result["table_size"]
    return (
        f"Throughput, GET /latest: stack {stack['1']['per_second']} / {stack['8']['per_second']} req/s at 1 / 8 "
        f"threads vs a raw loop of the same DynamoDB calls {raw['1']['per_second']} / {raw['8']['per_second']} "
        f"({result['ratio_8_threads']}x at 8); {size['large_items']:,} items vs {size['small_items']}: "
        f"{size['large_over_small']}x the req/s"
    )


def _load(machine: dict[str, Any], when: str) -> str:
    values = machine.get(f"load_average_at_{when}") or []
    return "/".join(f"{v:g}" for v in values) or "n/a"


def summary(results: dict[str, Any]) -> str:
    machine = results["machine"]
    minutes, seconds = divmod(round(results["total_seconds"]), 60)
    cold = results["cold_start"]
    parts = [
        "# binvault benchmarks",
        "",
        f"`{results['command']}` ({minutes} min {seconds} s) on {machine['platform']}, "
        f"{machine['cpu_count']} CPUs ({machine['processor']}), Python {machine['python']}, "
        f"{machine['date']}; load average (1/5/15 min) {_load(machine, 'start')} at the start and "
        f"{_load(machine, 'end')} at the end, the run's own load included (other work on the machine "
        "makes every number noisier).",
        "",
        "Everything runs on this machine over loopback: the local stack (`make run`: moto's DynamoDB and "
        "the local API server, every request through the real `lambda_handler`). Times compare routes, "
        "sizes and version counts with each other; they are not AWS latencies. Read and write units are "
        "computed from the sizes of the items actually stored, with DynamoDB's on-demand rules.",
        "",
        "## Headlines",
        "",
        *[f"- {line}" for line in headlines(results)],
        "",
        "## Delete versions vs version count",
        "",
        "Bins built through the API (versioned PUTs of ~1 KB JSON), deleted with `X-Preserve-Latest: true` "
        "in interleaved order; after each delete the run waits until the purge has removed the old items, "
        "so its background work never lands in the next measurement.",
        "",
        delete_versions.markdown(results["delete_versions"]),
        "![delete versions](bench/results/delete_versions.png)",
        "",
        "The same with ~1 MB records (users lists, ~230 KB stored: every record an S3 object; fewer bins, "
        "building 1000 versions of 1 MB takes minutes here). The purge deletes each version's object "
        "before its item.",
        "",
        delete_versions.markdown(results["delete_versions_1mb"]),
        "![delete versions, 1 MB records](bench/results/delete_versions_1mb.png)",
        "",
        "## DynamoDB calls per route (request path)",
        "",
        "Counted with botocore `before-call` hooks on the service's client (moto in-process, ~1 KB records, "
        f"bins with {results['round_trips']['versions_per_bin']} versions). Warm: the key cache "
        "(`KEY_CACHE_SECONDS`) knows the key; cold: a new container's first request. Sequential steps: "
        "the base read runs on a thread pool alongside authentication "
        "(`logic/bins.py::_authenticated_read`), so it adds a call but not a step. "
        "RCU: 1 per 4 KB strongly consistent (the base and version reads), 0.5 eventually consistent "
        "(the key lookup); WRU: 1 per KB written, 2x in a transaction.",
        "",
        round_trips.markdown(results["round_trips"]),
        "## Cold start",
        "",
        f"Fresh interpreters, {cold['repetitions']} interleaved rounds, against an in-memory local stack of "
        "its own; the clock covers the imports and the first request (see `bench/cold_start.py` for why "
        "these conditions). CPU ms is the child's CPU time over the same span (all threads; other "
        "work on the machine cannot inflate it, the waits on DynamoDB are not in it). Peak RSS is the "
        "child's own high-water mark (VmHWM; its `ru_maxrss` would report the parent's, which Linux "
        "carries across fork+exec).",
        "",
        cold_start.markdown(cold),
        "## Throughput and latency under load",
        "",
        load.markdown(results["load"]),
        "![load](bench/results/load.png)",
        "",
        "## Throughput vs the emulator's ceiling",
        "",
        "A fresh stack; the raw loop replays, with plain boto3 clients against the same embedded DynamoDB, "
        "the DynamoDB calls the handler made for one such request.",
        "",
        throughput.markdown(results["throughput"]),
        "",
        "## Stored data efficiency",
        "",
        "Realistic JSON (lists of user objects, seeded), metered on the service's own clients (moto "
        "in-process, warm key cache, the quota decrement included). In brackets, the same measurement "
        "before records left the base item (`bench/results/units_before.json`; 1 MB records did not fit then).",
        "",
        storage.markdown(results["storage"]),
    ]
    return "\n".join(parts)
