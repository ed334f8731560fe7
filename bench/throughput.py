"""Throughput of the local stack next to the emulator's own ceiling (one fresh stack).

Each rate is the median of three rounds, the stack's and the raw loop's alternating.

- the stack: ``GET /v3/b/{id}/latest`` (a warm key cache: quota decrement, base and latest
  version reads) from 1 and 8 client threads, a fresh connection per request;
- the raw loop: the very DynamoDB calls that request makes (recorded by running the handler
  once in this process against the stack's embedded DynamoDB), replayed from 1 and 8
  threads with plain boto3 clients against the same endpoint: what the emulator can do
  with no HTTP front, no Lambda, no binvault;
- table size: the stack's 8-thread rate with ~100 items in the table and again after
  filling it to ``items`` (other partitions): a Query must not cost more in a larger table.
"""

from __future__ import annotations

import copy
import os
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from tests.support.client import expect
from tests.support.stack import Stack

from bench.common import Deadline, bench_stack

FULL = {"requests_1": 150, "requests_8": 600, "items": 10_000, "seconds": 60.0}
QUICK = {"requests_1": 40, "requests_8": 160, "items": 2_000, "seconds": 30.0}
VERSIONS = 5
ROUNDS = 3


def _median_round(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    ordered = sorted(rounds, key=lambda r: r["per_second"])
    return {**ordered[len(ordered) // 2], "rounds_per_second": [r["per_second"] for r in rounds]}


def record_calls(stack: Stack, bin_id: str) -> list[tuple[str, dict[str, Any]]]:
    """The DynamoDB calls of one warm GET /latest, made by the real handler in this process."""
    saved = dict(os.environ)
    os.environ.update(
        AWS_ACCESS_KEY_ID="bench",
        AWS_SECRET_ACCESS_KEY="bench",  # noqa: S106 - a dummy for the local emulator
        AWS_DEFAULT_REGION="us-east-1",
        TABLE_NAME=stack.table,
        IDEMPOTENCY_TABLE_NAME=f"{stack.table}-idempotency",
        AWS_ENDPOINT_URL_DYNAMODB=stack.dynamodb_url,
        POWERTOOLS_TRACE_DISABLED="true",
        POWERTOOLS_METRICS_DISABLED="true",
        POWERTOOLS_LOG_LEVEL="ERROR",
        PURCHASE_URL="https://binvault.example/pricing",
    )
    from bench.inproc import reset_caches
    from binvault.dal.client import dynamodb
    from binvault.handlers.api import lambda_handler
    from binvault.local.events import LocalContext, rest_event

    reset_caches()
    calls: list[tuple[str, dict[str, Any]]] = []

    def record(params: dict[str, Any], model: Any, **_: Any) -> None:
        calls.append((model.name, copy.deepcopy(params)))

    try:
        client = dynamodb()
        event = rest_event("GET", f"/b/{bin_id}/latest", {"X-Master-Key": stack.key})
        assert lambda_handler(event, LocalContext())["statusCode"] == 200  # warms the key cache
        client.meta.events.register("provide-client-params.dynamodb", record)
        assert lambda_handler(event, LocalContext())["statusCode"] == 200
        client.meta.events.unregister("provide-client-params.dynamodb", record)
    finally:
        reset_caches()
        os.environ.clear()
        os.environ.update(saved)
    return calls


def _rate(threads: int, requests: int, seconds: float, one: Callable[[], Callable[[], None]]) -> dict[str, Any]:
    """Run ``requests`` calls from ``threads`` threads (each builds its caller with ``one``)."""
    left = iter(range(requests))
    lock, deadline = threading.Lock(), Deadline(seconds)
    done = [0]

    def worker() -> None:
        call = one()
        while not deadline.expired:
            with lock:
                if next(left, None) is None:
                    return
            call()
            with lock:
                done[0] += 1

    started = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        for future in [pool.submit(worker) for _ in range(threads)]:
            future.result()
    wall = time.perf_counter() - started
    return {"threads": threads, "requests": done[0], "seconds": round(wall, 2), "per_second": round(done[0] / wall, 1)}


def stack_rate(stack: Stack, bin_id: str, threads: int, requests: int, seconds: float) -> dict[str, Any]:
    def one() -> Callable[[], None]:
        client = stack.client()
        return lambda: expect(client.request("GET", f"/b/{bin_id}/latest"), "GET /latest") and None

    return _rate(threads, requests, seconds, one)


class Charges:
    """Replays a recorded quota charge as one container would send it again: with a new
    token, removing its own previous one (dal/accounts.py makes each charge exactly-once by
    its token, and each container removes its finished tokens with its next charge)."""

    def __init__(self) -> None:
        self.previous: str | None = None

    def __call__(self, params: dict[str, Any]) -> dict[str, Any]:
        names = params.get("ExpressionAttributeNames") or {}
        if "#token" not in names:
            return params
        token = uuid.uuid4().hex[:16]
        update = params["UpdateExpression"].split(" REMOVE ")[0]
        names = {k: v for k, v in names.items() if not k.startswith("#old")} | {"#token": token}
        if self.previous is not None:
            update += " REMOVE charges.#old0"
            names["#old0"] = self.previous
        self.previous = token
        return {**params, "UpdateExpression": update, "ExpressionAttributeNames": names}


def raw_rate(
    stack: Stack, calls: list[tuple[str, dict[str, Any]]], threads: int, requests: int, seconds: float
) -> dict[str, Any]:
    def one() -> Callable[[], None]:
        client = stack.dynamodb()
        charges = Charges()

        def replay() -> None:
            for operation, params in calls:
                client._make_api_call(operation, charges(params))

        return replay

    return _rate(threads, requests, seconds, one)


def item_count(stack: Stack) -> int:
    client, count, request = stack.dynamodb(), 0, {"TableName": stack.table, "Select": "COUNT"}
    while True:
        page = client.scan(**request)
        count += page["Count"]
        if "LastEvaluatedKey" not in page:
            return count
        request["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def query_ms(stack: Stack, bin_id: str, rounds: int = 20) -> float:
    """Median ms of a Query of one bin's partition (its base and versions) on the emulator."""
    client, times = stack.dynamodb(), []
    request = {
        "TableName": stack.table,
        "KeyConditionExpression": "pk = :pk",
        "ExpressionAttributeValues": {":pk": {"S": f"BIN#{bin_id}"}},
        "ConsistentRead": True,
    }
    for _ in range(rounds):
        started = time.perf_counter()
        client.query(**request)
        times.append(time.perf_counter() - started)
    return round(sorted(times)[len(times) // 2] * 1000, 2)


def fill(stack: Stack, items: int) -> None:
    """Other partitions' items (as other bins' versions would be), 25 per BatchWriteItem."""
    client, have = stack.dynamodb(), item_count(stack)
    pending = [
        {"PutRequest": {"Item": {"pk": {"S": f"BIN#filler{n // 100:06d}"}, "sk": {"S": f"V#1#{n % 100}"}}}}
        for n in range(have, items)  # numbered from the count: no key is written twice
    ]
    for start in range(0, len(pending), 25):
        batch = {stack.table: pending[start : start + 25]}
        while batch:
            batch = client.batch_write_item(RequestItems=batch).get("UnprocessedItems") or {}


def run(scratch: Path, quick: bool = False) -> dict[str, Any]:
    settings = QUICK if quick else FULL
    with bench_stack(scratch) as stack:
        client = stack.client()
        bin_id = client.create({"n": 0})
        for n in range(1, VERSIONS + 1):
            expect(client.update(bin_id, {"n": n}), "seed version")
        calls = record_calls(stack, bin_id)
        fill(stack, 100)
        stack.settle()
        small, small_query = item_count(stack), query_ms(stack, bin_id)
        result: dict[str, Any] = {
            "settings": settings,
            "route": "GET /v3/b/{id}/latest",
            "dynamodb_calls_per_request": [operation for operation, _ in calls],
            "stack": {},
            "raw": {},
        }
        for threads, key in ((1, "requests_1"), (8, "requests_8")):
            # alternate short rounds of each, so a change in the machine's load hits both alike
            share = settings[key] // ROUNDS
            stack_rounds, raw_rounds = [], []
            for _ in range(ROUNDS):
                stack_rounds.append(stack_rate(stack, bin_id, threads, share, settings["seconds"]))
                raw_rounds.append(raw_rate(stack, calls, threads, share, settings["seconds"]))
            result["stack"][str(threads)] = _median_round(stack_rounds)
            result["raw"][str(threads)] = _median_round(raw_rounds)
        result["ratio_8_threads"] = round(result["stack"]["8"]["per_second"] / result["raw"]["8"]["per_second"], 2)
        result["ratio_1_thread"] = round(result["stack"]["1"]["per_second"] / result["raw"]["1"]["per_second"], 2)
        fill(stack, settings["items"])
        # the fill's INSERT records go through the stream poller in the stack's process:
        # measure the table, not that backlog
        time.sleep(settings["items"] / 1000)
        stack.settle()
        large, large_query = item_count(stack), query_ms(stack, bin_id)
        at_large = stack_rate(stack, bin_id, 8, settings["requests_8"], settings["seconds"])
        raw_large = raw_rate(stack, calls, 8, settings["requests_8"], settings["seconds"])
        result["table_size"] = {
            "small_items": small,
            "large_items": large,
            "small_per_second": result["stack"]["8"]["per_second"],
            "large_per_second": at_large["per_second"],
            "large_over_small": round(at_large["per_second"] / result["stack"]["8"]["per_second"], 2),
            "raw_large_per_second": raw_large["per_second"],
            "query_ms_small": small_query,
            "query_ms_large": large_query,
            "raw_large_over_small": round(raw_large["per_second"] / result["raw"]["8"]["per_second"], 2),
        }
    return result


def markdown(result: dict[str, Any]) -> str:
    stack, raw, size = result["stack"], result["raw"], result["table_size"]
    calls = ", ".join(result["dynamodb_calls_per_request"])
    return (
        "\n".join(
            [
                f"{result['route']} ({len(result['dynamodb_calls_per_request'])} DynamoDB calls: {calls})",
                "",
                "| client threads | stack req/s | raw loop of the same calls, req/s | stack / raw |",
                "|---|---|---|---|",
                *(
                    f"| {t} | {stack[t]['per_second']} | {raw[t]['per_second']} | "
                    f"{round(stack[t]['per_second'] / raw[t]['per_second'], 2)} |"
                    for t in ("1", "8")
                ),
                "",
                f"Table size: {size['small_per_second']} req/s with {size['small_items']} items, "
                f"{size['large_per_second']} req/s with {size['large_items']:,} items "
                f"({size['large_over_small']}x; the raw loop {size['raw_large_over_small']}x); "
                f"a Query of the bin's partition: {size['query_ms_small']} ms vs {size['query_ms_large']} ms",
            ]
        )
        + "\n"
    )
