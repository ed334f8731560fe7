"""DynamoDB calls per route on the request path: how many, how many in sequence, and
their read/write units, with a warm key cache and with a cold one (a container's first
request). moto in-process; the calls are counted with botocore's event hooks on the
service's own client (``binvault.dal.client.dynamodb()``).

Critical-path depth is read from the code: ``logic/bins.py::_authenticated_read`` submits
the base read to the ``binvault-io`` thread pool and authenticates (key lookup when the
cache is cold, then the quota decrement) on the request thread before waiting for it;
everything after that runs on the request thread. So the depth is the number of calls on
the request thread, and a pool call is overlapped with the authentication calls. The
timings the hooks record are kept in the JSON to show the overlap did happen.
"""

from __future__ import annotations

import importlib.util
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bench.common import compact_size, users_record
from bench.inproc import Session, session
from bench.units import Call

POOL_THREAD_PREFIX = "binvault-io"
VERSIONS = 3


Request = Callable[[Session, str, Any, str], Any]  # (session, bin id, record, idempotency key)


@dataclass(frozen=True)
class Route:
    name: str
    versions: int | None  # None: no bin needed (POST)
    request: Request
    purges: bool = False
    replay: bool = False  # send once unmeasured first: the measured call is the retry
    optional: bool = False  # a feature that may not be there yet: report, do not fail


def _routes() -> list[Route]:
    def put(versioning: bool, idempotent: bool = False) -> Request:
        def send(s: Session, b: str, r: Any, token: str) -> Any:
            extra = {"Idempotency_Key": token} if idempotent else {}
            return s.call("PUT", f"/b/{b}", r, X_Bin_Versioning=str(versioning).lower(), **extra)

        return send

    def post(idempotent: bool = False) -> Request:
        def send(s: Session, b: str, r: Any, token: str) -> Any:
            return s.call("POST", "/b", r, **({"Idempotency_Key": token} if idempotent else {}))

        return send

    def get(suffix: str) -> Request:
        return lambda s, b, r, t: s.call("GET", f"/b/{b}{suffix}")

    def delete_versions(preserve: bool) -> Request:
        return lambda s, b, r, t: s.call("DELETE", f"/b/{b}/versions", X_Preserve_Latest=str(preserve).lower())

    routes = [
        Route("POST /b", None, post()),
        Route("PUT /b/{id} versioned", VERSIONS, put(True)),
        Route("PUT /b/{id} unversioned, no versions", 0, put(False)),
        Route(f"PUT /b/{{id}} unversioned, {VERSIONS} versions", VERSIONS, put(False)),
        Route("GET /b/{id} (base)", VERSIONS, get("")),
        Route("GET /b/{id}/latest", VERSIONS, get("/latest")),
        Route("GET /b/{id}/1", VERSIONS, get("/1")),
        Route("GET /b/{id}/versions/count", VERSIONS, get("/versions/count")),
        Route("DELETE /b/{id}/versions, preserve latest", VERSIONS, delete_versions(True), purges=True),
        Route("DELETE /b/{id}/versions", VERSIONS, delete_versions(False), purges=True),
        Route("DELETE /b/{id}", VERSIONS, lambda s, b, r, t: s.call("DELETE", f"/b/{b}"), purges=True),
    ]
    if importlib.util.find_spec("binvault.logic.idempotency") is not None:
        routes += [
            Route("POST /b + Idempotency-Key", None, post(True), optional=True),
            Route("POST /b + Idempotency-Key, retry", None, post(True), replay=True, optional=True),
            Route("PUT /b/{id} versioned + Idempotency-Key", VERSIONS, put(True, True), optional=True),
            Route(
                "PUT /b/{id} versioned + Idempotency-Key, retry",
                VERSIONS,
                put(True, True),
                replay=True,
                optional=True,
            ),
        ]
    return routes


def _on_pool(call: Call) -> bool:
    return call.thread.startswith(POOL_THREAD_PREFIX)


def describe(calls: list[Call]) -> dict[str, Any]:
    """Counts, depth, units and the call sequence (``a || b`` = concurrent) of one request."""
    request_thread = [c for c in calls if not _on_pool(c)]
    pool = [c for c in calls if _on_pool(c)]
    steps = [f"{c.operation}({c.target})" for c in request_thread]
    if pool:
        overlapped = " || ".join(f"{c.operation}({c.target})" for c in pool)
        # the pool read runs alongside the authentication calls, which come first
        auth = [s for s in steps if "(account)" in s or "(key)" in s]
        rest = steps[len(auth) :]
        steps = [f"[{' -> '.join(auth)}] || {overlapped}", *rest]
    overlap_seen = any(p.started < r.ended and r.started < p.ended for p in pool for r in request_thread)
    return {
        "calls": len(calls),
        "depth": len(request_thread) if pool else len(calls),
        "rcu": round(sum(c.rcu for c in calls), 2),
        "wru": round(sum(c.wru for c in calls), 2),
        "sequence": " -> ".join(steps),
        "operations": [c.operation for c in calls],
        "overlap_observed": overlap_seen if pool else None,
        "ms": round(1000 * (max(c.ended for c in calls) - min(c.started for c in calls)), 2) if calls else 0,
    }


def measure(s: Session, route: Route, cold: bool, record: Any, version_records: list[Any]) -> dict[str, Any]:
    from binvault.logic import auth

    bin_id, token = "", uuid.uuid4().hex
    if route.versions is not None:
        bin_id = s.create(record)
        s.add_versions(bin_id, version_records[: route.versions])
    if route.replay:
        route.request(s, bin_id, record, token)
    s.drain_purge()
    if cold:  # a new container: the setup's requests above warmed the cache otherwise
        auth.clear_cache()
    s.meter.start()
    response = route.request(s, bin_id, record, token)
    calls = s.meter.stop()
    if response.status != 200:
        raise RuntimeError(f"{route.name}: HTTP {response.status} {response.body}")
    result = describe(calls)
    if route.purges:
        s.meter.start()
        s.drain_purge()
        result["purge"] = describe(s.meter.stop())
    return result


def _delete_versions_by_count(s: Session, record: Any, counts: list[int]) -> dict[str, Any]:
    """The same request path whatever the number of versions: calls and units for each count."""
    rows = {}
    for count in counts:
        bin_id = s.create(record)
        s.add_versions(bin_id, [record] * count)
        s.drain_purge()
        s.meter.start()
        response = s.call("DELETE", f"/b/{bin_id}/versions", X_Preserve_Latest="true")
        row = describe(s.meter.stop())
        if response.status != 200 or response.body["metadata"]["versionsDeleted"] != count:
            raise RuntimeError(f"delete {count} versions: HTTP {response.status} {response.body}")
        s.meter.start()
        s.drain_purge()
        row["purge"] = describe(s.meter.stop())
        rows[str(count)] = row
    return rows


def run(quick: bool = False) -> dict[str, Any]:
    record = users_record(1000, seed=1)
    version_records = [users_record(1000, seed=100 + n) for n in range(VERSIONS)]
    rows: dict[str, dict[str, Any]] = {}
    errors: dict[str, str] = {}
    with session() as s:
        s.create(record)  # the first request pays for imports and the client: not measured
        for route in _routes():
            try:
                rows[route.name] = {
                    "warm": measure(s, route, False, record, version_records),
                    "cold": measure(s, route, True, record, version_records),
                }
            except Exception as error:
                if not route.optional:
                    raise
                errors[route.name] = f"{type(error).__name__}: {error}"
        by_count = _delete_versions_by_count(s, record, [1, 10] if quick else [1, 100])
    return {
        "record_bytes": compact_size(record),
        "delete_versions_by_count": by_count,
        "versions_per_bin": VERSIONS,
        "depth_method": __doc__.split("\n\n")[1].replace("\n", " "),
        "routes": rows,
        "errors": errors,
    }


def markdown(result: dict[str, Any]) -> str:
    lines = [
        "| route | DynamoDB calls (warm / cold key cache) | sequential steps (warm / cold) "
        "| RCU (warm / cold) | WRU | calls, in order (warm; `||` = concurrent) |",
        "|---|---|---|---|---|---|",
    ]
    for name, row in result["routes"].items():
        warm, cold = row["warm"], row["cold"]
        lines.append(
            f"| `{name}` | {warm['calls']} / {cold['calls']} | {warm['depth']} / {cold['depth']} "
            f"| {warm['rcu']:g} / {cold['rcu']:g} | {warm['wru']:g} | {warm['sequence']} |"
        )
    by_count = result.get("delete_versions_by_count", {})
    if by_count:
        lines += [
            "",
            "`DELETE /b/{id}/versions` (preserve latest, warm) by number of versions: the request path "
            "does not change; only the purge behind it grows:",
            "",
            "| versions | calls | sequential steps | RCU | WRU | purge calls | purge WRU |",
            "|---|---|---|---|---|---|---|",
        ]
        for count, row in by_count.items():
            lines.append(
                f"| {count} | {row['calls']} | {row['depth']} | {row['rcu']:g} | {row['wru']:g} "
                f"| {row['purge']['calls']} | {row['purge']['wru']:g} |"
            )
    purges = [(n, r["warm"]["purge"]) for n, r in result["routes"].items() if "purge" in r["warm"]]
    if purges:
        lines += ["", "Off the request path (the stream-driven purge, for the bins above):", ""]
        lines += ["| after | purge calls | RCU | WRU |", "|---|---|---|---|"]
        lines += [f"| `{n}` | {p['sequence']} | {p['rcu']:g} | {p['wru']:g} |" for n, p in purges]
    for name, error in result.get("errors", {}).items():
        lines += ["", f"Not measured, `{name}`: {error}"]
    return "\n".join(lines) + "\n"
