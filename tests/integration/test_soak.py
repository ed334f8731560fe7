"""The soak: the local stack under concurrent mixed traffic and injected DynamoDB faults,
then a check that nothing acknowledged was lost and nothing was done twice.

    make soak                      3000 requests, 8 threads (a minute or two)
    make soak SOAK_ARGS='--soak-requests 1000000 --soak-max-seconds 600'    10 minutes

``make test`` runs a short soak (``test_a_short_soak_keeps_every_invariant``: a few hundred
requests, bursts included) so that this code cannot rot; ``make soak`` runs the long one
(marked ``soak``, deselected by default) with the ``--soak-*`` options (tests/conftest.py)
and writes its results to bench/results/soak.json.

Everything runs in this process, on 127.0.0.1 only: the embedded DynamoDB endpoint, the
stream poller and purge, and the API server (``tests.support.inproc.in_process``). Faults
are injected into the API's own DynamoDB client (``binvault.dal.client.dynamodb()``) by
``tests.support.faults.RandomFaults``, below botocore's retry loop, exactly where the
network would produce them: throttling, 500s, dropped connections and transaction
conflicts on ~2% of calls, plus short periodic bursts dense enough to outlast the retries
(those must become ``503`` with ``Retry-After``, nothing else). A share of the faults on
write calls are *lost responses*: the call reaches DynamoDB and is applied, then its answer
is lost, and botocore sends it again (AWS does this; the emulator never does by itself).

Invariants asserted at the end, per bin:

- no 5xx other than the contract's 503, and no unexpected 4xx;
- nothing acknowledged is lost: every acknowledged versioned update is either still
  readable as the version number its response reported, or counted in the
  ``versionsDeleted`` of an acknowledged delete-versions (exactly: deleted + surviving ==
  acknowledged, as a refused request never writes); no update is stored twice;
- ``versionCount`` equals the number of readable versions, and the next number is 404;
- every record ever served (base, /latest, /n) is one some client wrote;
- the purge physically removes every deleted version, and nothing is dead-lettered;
- no bin exists that no acknowledged create reported;
- the quota was charged exactly once per request: never below the requests that were
  answered (other than 503), never above those plus the 503s (no double charge);
- the process's memory does not keep growing after the warm-up (long runs only).
"""

from __future__ import annotations

import http.client
import json
import os
import random
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.support.client import Client, Reply
from tests.support.faults import RandomFaults, injected_on
from tests.support.inproc import in_process
from tests.support.tables import bin_item_count

pytestmark = pytest.mark.integration

PURGE_WAIT_SECONDS = 60.0
UNAVAILABLE = "Service temporarily unavailable, please retry"
DEMO_REQUESTS = 100_000
BURST_LENGTH = 25  # requests in which most DynamoDB calls fail, every ``burst_every`` requests

# (operation, weight): the traffic mix
MIX = [
    ("create", 4),
    ("update", 40),
    ("read_latest", 12),
    ("read_base", 10),
    ("read_version", 10),
    ("count", 8),
    ("delete_versions", 8),
    ("delete_versions_preserve", 8),
]


@dataclass(frozen=True)
class Settings:
    requests: int = 3000
    threads: int = 8
    bins: int = 12  # created before the traffic starts
    fault_rate: float = 0.02  # share of DynamoDB calls that fail outside bursts
    seed: int = 7
    max_seconds: float = 300.0  # stop sending after this long
    burst_every: int = 500
    max_growth_mb_per_minute: float = 3.0


@dataclass
class BinBook:
    """What clients did to one bin, and what they were told."""

    bin_id: str
    initial: str
    sent: set[str] = field(default_factory=set)  # every token ever sent (acknowledged or not)
    acked: dict[str, int] = field(default_factory=dict)  # token -> version number reported
    unknown: set[str] = field(default_factory=set)  # sent, but no answer (client timeout)
    deleted: int = 0  # sum of versionsDeleted of acknowledged delete-versions
    deletes_unknown: int = 0
    capped: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)


@dataclass
class Soak:
    client: Client
    settings: Settings
    injector: RandomFaults
    books: dict[str, BinBook] = field(default_factory=dict)
    statuses: dict[str, Counter[int]] = field(default_factory=lambda: defaultdict(Counter))
    violations: list[str] = field(default_factory=list)
    issued: int = 0
    creates_unanswered: int = 0  # creates that got no answer: each may or may not have made a bin
    answered: Counter[int] = field(default_factory=Counter)  # every answer's status (0: no answer)
    started: float = field(default_factory=time.monotonic)
    lock: threading.Lock = field(default_factory=threading.Lock)

    # -- bookkeeping helpers

    def call(self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None) -> Reply:
        """Every request of the run (traffic and verification), its status counted for the
        quota ledger; raises when no answer came."""
        status = 0
        try:
            reply = self.client.request(method, path, body, headers)
            status = reply.status
        finally:
            with self.lock:
                self.answered[status] += 1
        return reply

    def violation(self, text: str) -> None:
        with self.lock:
            if len(self.violations) < 200:
                self.violations.append(text)

    def next_request(self) -> int | None:
        with self.lock:
            if self.issued >= self.settings.requests:
                return None
            self.issued += 1
            number = self.issued
        # every ``burst_every`` requests, a burst in which most DynamoDB calls fail
        if number % self.settings.burst_every < BURST_LENGTH and number > BURST_LENGTH:
            self.injector.bursting.set()
        else:
            self.injector.bursting.clear()
        if number % 500 == 0:
            elapsed = time.monotonic() - self.started
            print(f"[soak] {number} requests sent, {number / elapsed:.1f}/s", flush=True)
        return number

    def record_status(self, operation: str, reply: Reply | None) -> None:
        with self.lock:
            self.statuses[operation][reply.status if reply else 0] += 1
        if reply is None:
            return
        if reply.status == 503:
            if reply.body != {"message": UNAVAILABLE} or reply.headers.get("retry-after") != "1":
                self.violation(f"{operation}: 503 without the contract's body/Retry-After: {reply.body!r}")
        elif reply.status >= 500:
            self.violation(f"{operation}: {reply.status} {reply.body!r}")

    def pick_bin(self, rng: random.Random) -> BinBook:
        with self.lock:
            return self.books[rng.choice(list(self.books))]

    def check_served(self, book: BinBook, operation: str, record: Any) -> None:
        """A served record must be the bin's first record or one a client sent to this bin."""
        token = record.get("token") if isinstance(record, dict) else None
        if token == book.initial:
            return
        with book.lock:
            known = token in book.sent
        if not known or record.get("bin") != book.bin_id:
            self.violation(f"{operation} on {book.bin_id} served a record no client wrote: {record!r}")

    # -- operations

    def create(self, rng: random.Random, worker: int, seq: int) -> Reply | None:
        token = f"create-{worker}-{seq}"
        reply = self._send("create", "POST", "/b", {"bin": None, "token": token})
        if reply and reply.status == 200:
            bin_id = reply.body["metadata"]["id"]
            # the first record cannot carry the id it does not have yet: checked by token
            with self.lock:
                self.books[bin_id] = BinBook(bin_id, token, sent={token})
        elif reply and reply.status != 503:
            self.violation(f"create: unexpected {reply.status} {reply.body!r}")
        elif reply is None:
            with self.lock:
                self.creates_unanswered += 1
        return reply

    def update(self, rng: random.Random, worker: int, seq: int) -> Reply | None:
        book = self.pick_bin(rng)
        token = f"u-{worker}-{seq}"
        with book.lock:
            book.sent.add(token)
        record = {"bin": book.bin_id, "token": token, "pad": "x" * rng.randint(0, 400)}
        reply = self._send("update", "PUT", f"/b/{book.bin_id}", record, {"X-Bin-Versioning": "true"})
        with book.lock:
            if reply is None:
                book.unknown.add(token)
            elif reply.status == 200:
                metadata = reply.body["metadata"]
                if "version" in metadata:
                    book.acked[token] = int(metadata["version"])
                else:  # at the version cap: stored in place, not a version
                    book.capped = True
            elif reply.status != 503:
                self.violation(f"update {book.bin_id}: unexpected {reply.status} {reply.body!r}")
        return reply

    def read(self, rng: random.Random, operation: str) -> Reply | None:
        book = self.pick_bin(rng)
        if operation == "read_latest":
            path = f"/b/{book.bin_id}/latest"
        elif operation == "read_base":
            path = f"/b/{book.bin_id}"
        else:
            with book.lock:
                top = max(book.acked.values(), default=1)
            path = f"/b/{book.bin_id}/{rng.randint(1, top + 1)}"
        reply = self._send(operation, "GET", path)
        if reply is None or reply.status == 503:
            return reply
        if reply.status == 200:
            if reply.body["metadata"]["id"] != book.bin_id:
                self.violation(f"{operation} {path}: metadata.id {reply.body['metadata']['id']}")
            self.check_served(book, operation, reply.body["record"])
        elif not (operation == "read_version" and reply.status == 404):
            self.violation(f"{operation} {path}: unexpected {reply.status} {reply.body!r}")
        return reply

    def count(self, rng: random.Random) -> Reply | None:
        book = self.pick_bin(rng)
        reply = self._send("count", "GET", f"/b/{book.bin_id}/versions/count")
        if reply is not None and reply.status not in (200, 503):
            self.violation(f"count {book.bin_id}: unexpected {reply.status} {reply.body!r}")
        return reply

    def delete_versions(self, rng: random.Random, preserve: bool) -> Reply | None:
        book = self.pick_bin(rng)
        operation = "delete_versions_preserve" if preserve else "delete_versions"
        headers = {"X-Preserve-Latest": "true" if preserve else "false"}
        reply = self._send(operation, "DELETE", f"/b/{book.bin_id}/versions", headers=headers)
        with book.lock:
            if reply is None:
                book.deletes_unknown += 1
            elif reply.status == 200:
                book.deleted += int(reply.body["metadata"]["versionsDeleted"])
            elif reply.status != 503:
                self.violation(f"{operation} {book.bin_id}: unexpected {reply.status} {reply.body!r}")
        return reply

    def _send(
        self, operation: str, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
    ) -> Reply | None:
        try:
            reply: Reply | None = self.call(method, path, body, headers)
        except (OSError, http.client.HTTPException) as error:
            self.violation(f"{operation} {method} {path}: no answer ({type(error).__name__}: {error})")
            reply = None
        self.record_status(operation, reply)
        return reply

    # -- the run

    def worker(self, worker: int, deadline: float) -> None:
        rng = random.Random(self.settings.seed * 1000 + worker)
        operations, weights = zip(*MIX, strict=True)
        seq = 0
        while time.monotonic() < deadline and (number := self.next_request()) is not None:
            seq += 1
            operation = rng.choices(operations, weights)[0]
            try:
                if operation == "create":
                    self.create(rng, worker, seq)
                elif operation == "update":
                    self.update(rng, worker, seq)
                elif operation == "count":
                    self.count(rng)
                elif operation.startswith("delete_versions"):
                    self.delete_versions(rng, preserve=operation.endswith("preserve"))
                else:
                    self.read(rng, operation)
            except Exception as error:  # a malformed answer is a finding, not a crash
                self.violation(f"request {number} ({operation}): {type(error).__name__}: {error}")


class MemorySampler(threading.Thread):
    """The process's resident memory every few seconds of the traffic (the stack, its
    handler and the emulator all run in this process)."""

    INTERVAL_SECONDS = 5.0
    WARMUP_SECONDS = 60.0

    def __init__(self, started: float) -> None:
        super().__init__(name="soak-memory", daemon=True)
        self.started = started
        self.samples: list[tuple[float, float]] = []
        self._halt = threading.Event()

    @staticmethod
    def rss_mb() -> float:
        with open("/proc/self/status") as status:
            return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:")) / 1024

    def run(self) -> None:
        while not self._halt.is_set():
            self.samples.append((time.monotonic() - self.started, self.rss_mb()))
            self._halt.wait(self.INTERVAL_SECONDS)

    def stop(self) -> None:
        self._halt.set()
        self.join()
        self.samples.append((time.monotonic() - self.started, self.rss_mb()))

    def report(self) -> dict[str, Any]:
        """RSS at the start, after the warm-up and at the end, and the growth per minute
        after the warm-up (least-squares slope): flat is what a bounded stack shows."""
        warm = [(t, mb) for t, mb in self.samples if t >= self.WARMUP_SECONDS]
        slope = None
        if len(warm) >= 3:
            mean_t = sum(t for t, _ in warm) / len(warm)
            mean_mb = sum(mb for _, mb in warm) / len(warm)
            spread = sum((t - mean_t) ** 2 for t, _ in warm)
            slope = sum((t - mean_t) * (mb - mean_mb) for t, mb in warm) / spread * 60 if spread else None
        return {
            "rss_mb_start": round(self.samples[0][1], 1),
            "rss_mb_after_warmup": round(warm[0][1], 1) if warm else None,
            "rss_mb_end": round(self.samples[-1][1], 1),
            "growth_mb_per_minute_after_warmup": None if slope is None else round(slope, 2),
            "samples": [(round(t), round(mb, 1)) for t, mb in self.samples],
        }


# ---- the end-of-run checks ---------------------------------------------------------------


def verify_bin(soak: Soak, book: BinBook) -> tuple[list[str], int]:
    """After the traffic (faults off): the bin's state must account for every acknowledged
    write. Returns the problems found and the bin's versionCount."""
    problems: list[str] = []
    api = soak.call
    count_reply = api("GET", f"/b/{book.bin_id}/versions/count")
    if count_reply.status != 200:
        return [f"{book.bin_id}: count answered {count_reply.status}"], 0
    count = int(count_reply.body["metadata"]["versionCount"])
    surviving: dict[str, int] = {}
    for number in range(1, count + 1):
        reply = api("GET", f"/b/{book.bin_id}/{number}")
        if reply.status != 200:
            problems.append(f"{book.bin_id}: version {number} of {count} answered {reply.status}")
            continue
        token = reply.body["record"].get("token")
        if token in surviving:
            problems.append(f"{book.bin_id}: update {token} stored twice (versions {surviving[token]}, {number})")
        surviving[token] = number
    beyond = api("GET", f"/b/{book.bin_id}/{count + 1}")
    if beyond.status != 404:
        problems.append(f"{book.bin_id}: version {count + 1} (beyond versionCount) answered {beyond.status}")
    latest = api("GET", f"/b/{book.bin_id}/latest")
    base = api("GET", f"/b/{book.bin_id}")
    if latest.status != 200 or base.status != 200:
        problems.append(f"{book.bin_id}: latest/base answered {latest.status}/{base.status}")
    else:
        expected_latest = base.body["record"] if count == 0 else None
        if count and latest.body["metadata"].get("version") != count:
            problems.append(f"{book.bin_id}: /latest is version {latest.body['metadata'].get('version')}, not {count}")
        if expected_latest is not None and latest.body["record"] != expected_latest:
            problems.append(f"{book.bin_id}: /latest without versions is not the base record")
        for name, record in (("base", base.body["record"]), ("latest", latest.body["record"])):
            token = record.get("token")
            if token != book.initial and (token not in book.sent or record.get("bin") != book.bin_id):
                problems.append(f"{book.bin_id}: {name} record was written by no client: {record!r}")

    with book.lock:
        acked, unknown = dict(book.acked), set(book.unknown)
        deleted, deletes_unknown, capped = book.deleted, book.deletes_unknown, book.capped
    phantoms = set(surviving) - set(acked) - unknown
    if phantoms:
        problems.append(f"{book.bin_id}: versions no acknowledged request wrote: {sorted(phantoms)[:5]}")
    for token, number in surviving.items():
        if token in acked and acked[token] != number:
            problems.append(f"{book.bin_id}: {token} was acknowledged as version {acked[token]}, is {number}")
    if capped:
        return problems, count  # in-place writes at the cap replace versions: no exact accounting
    # A refused request (503) never writes (faults are injected before DynamoDB sees the
    # call), so every acknowledged update is either still here or was counted by exactly one
    # acknowledged delete-versions. Requests that got no answer at all loosen this to bounds.
    gone = len(set(acked) - set(surviving))
    gone_unknown = len(unknown - set(surviving))
    if gone > deleted and not deletes_unknown:
        problems.append(
            f"{book.bin_id}: LOST - {len(acked)} acknowledged updates, {len(surviving)} survive, "
            f"{gone} gone but delete-versions reported only {deleted} deleted"
        )
    if deleted > gone + gone_unknown:
        problems.append(
            f"{book.bin_id}: delete-versions reported {deleted} deleted, but only {gone + gone_unknown} "
            "written versions are gone"
        )
    return problems, count


def wait_for_purge(stack: Any, counts: dict[str, int]) -> list[str]:
    """Every deleted version is physically removed: the bin's items are its base + versions."""
    import boto3

    client = boto3.client("dynamodb", endpoint_url=stack.dynamodb_url)
    table = os.environ["TABLE_NAME"]
    deadline = time.monotonic() + PURGE_WAIT_SECONDS
    pending = dict(counts)
    while pending and time.monotonic() < deadline:
        for bin_id, versions in list(pending.items()):
            if bin_item_count(client, table, bin_id) == 1 + versions:
                del pending[bin_id]
        if pending:
            time.sleep(0.5)
    return [f"{bin_id}: purge left orphaned version items after {PURGE_WAIT_SECONDS:.0f} s" for bin_id in pending]


def account_ledger(stack: Any, soak: Soak) -> dict[str, Any]:
    """Charges and bins of the demo account against what its requests were answered.

    Every request the soak sends carries the key, so each one answered (other than 503) was
    charged exactly once; a 503 or a request with no answer may or may not have been.
    """
    import boto3

    from tests.support.quota import requests_left

    client = boto3.client("dynamodb", endpoint_url=stack.dynamodb_url)
    table, account = os.environ["TABLE_NAME"], stack.demo["accountId"]
    charged = DEMO_REQUESTS - requests_left(client, account, table)  # the sum of its quota shards
    with soak.lock:
        answered = dict(soak.answered)
    at_least = sum(n for status, n in answered.items() if status not in (0, 503))
    at_most = at_least + answered.get(503, 0) + answered.get(0, 0)
    problems = []
    if charged > at_most:
        problems.append(f"quota: DOUBLE CHARGES - {charged} charged for at most {at_most} requests")
    if charged < at_least:
        problems.append(f"quota: {charged} charged for {at_least} answered requests")
    pages = client.get_paginator("scan").paginate(
        TableName=table,
        FilterExpression="sk = :bin AND #owner = :account",
        ExpressionAttributeNames={"#owner": "owner"},
        ExpressionAttributeValues={":bin": {"S": "BIN"}, ":account": {"S": account}},
        ConsistentRead=True,
    )
    return {
        "quota_charged": charged,
        "quota_bounds": [at_least, at_most],
        "double_charges": max(0, charged - at_most),
        "bins_stored": sum(page["Count"] for page in pages),
        "problems": problems,
    }


# ---- the run ------------------------------------------------------------------------------


def run(settings: Settings) -> dict[str, Any]:
    """Traffic with faults, then the checks; the results (``problems``: what failed)."""
    from binvault.dal.client import dynamodb

    with in_process(demo_requests=DEMO_REQUESTS) as stack:
        injector = RandomFaults(dynamodb(), over_http=True, rate=settings.fault_rate, seed=settings.seed)
        soak = Soak(Client(stack.api_url, stack.demo["masterKey"]), settings, injector)
        for number in range(settings.bins):  # the initial bins, before any fault
            token = f"initial-{number}"
            reply = soak.call("POST", "/b", {"bin": None, "token": token})
            assert reply.status == 200, reply
            bin_id = reply.body["metadata"]["id"]
            soak.books[bin_id] = BinBook(bin_id, token, sent={token})

        print(f"[soak] {settings}", flush=True)
        with injected_on(injector.client, injector):
            injector.enabled.set()
            started = soak.started = time.monotonic()
            deadline = started + settings.max_seconds
            workers = [
                threading.Thread(target=soak.worker, args=(n, deadline), name=f"soak-{n}")
                for n in range(settings.threads)
            ]
            memory = MemorySampler(started)
            memory.start()
            for thread in workers:
                thread.start()
            for thread in workers:
                thread.join()
            memory.stop()
            duration = time.monotonic() - started
            injector.enabled.clear()
            injector.bursting.clear()
        print(f"[soak] traffic done in {duration:.1f} s; verifying {len(soak.books)} bins", flush=True)

        # verification is sequential: one client, so nothing it reads can race
        problems = list(soak.violations)
        counts: dict[str, int] = {}
        verify_started = time.monotonic()
        for book in soak.books.values():
            found, counts[book.bin_id] = verify_bin(soak, book)
            problems.extend(found)
        purge_started = time.monotonic()
        problems.extend(wait_for_purge(stack, counts))
        # a record that failed is retried a few times before it is dead-lettered: let the
        # poller finish its retries before judging (``_retries`` is the poller's queue)
        idle_by = time.monotonic() + 15
        while getattr(stack.poller, "_retries", None) and time.monotonic() < idle_by:
            time.sleep(0.25)
        if stack.poller.dead_letters:
            problems.append(f"{len(stack.poller.dead_letters)} purge records dead-lettered")
        ledger = account_ledger(stack, soak)
        problems.extend(ledger.pop("problems"))
        unaccounted = ledger.pop("bins_stored") - len(soak.books)
        ledger["duplicate_bins"] = max(0, unaccounted - soak.creates_unanswered)
        if ledger["duplicate_bins"]:
            problems.append(f"{ledger['duplicate_bins']} bins stored that no acknowledged create reported")
        phases = {
            "traffic": round(duration, 1),
            "verify": round(purge_started - verify_started, 1),
            "purge_wait": round(time.monotonic() - purge_started, 1),
        }
        max_attempts = int(os.environ.get("DYNAMODB_MAX_ATTEMPTS", "5"))

    issued = sum(sum(c.values()) for c in soak.statuses.values())
    by_status: Counter[int] = Counter()
    for counter in soak.statuses.values():
        by_status.update(counter)
    acked = sum(len(b.acked) for b in soak.books.values())
    memory_report = memory.report()
    growth = memory_report["growth_mb_per_minute_after_warmup"]
    if growth is not None and growth > settings.max_growth_mb_per_minute:
        problems.append(f"memory: {growth} MB a minute after the warm-up")
    return {
        "command": "make soak SOAK_ARGS='"
        + " ".join(f"--soak-{name.replace('_', '-')} {value}" for name, value in vars(settings).items())
        + "'",
        "parameters": {
            **vars(settings),
            "burst": f"every {settings.burst_every} requests, {BURST_LENGTH} requests at a "
            f"{injector.burst_rate:.0%} fault rate",
            "dynamodb_max_attempts": max_attempts,
        },
        "requests": issued,
        "duration_seconds": round(duration, 2),
        "phase_seconds": phases,
        "requests_per_second": round(issued / duration, 1) if duration else None,
        "status_counts": {str(k): v for k, v in sorted(by_status.items())},
        "error_rates": {
            "5xx": round(sum(v for k, v in by_status.items() if k >= 500) / max(issued, 1), 4),
            "503": round(by_status.get(503, 0) / max(issued, 1), 4),
            "4xx": round(sum(v for k, v in by_status.items() if 400 <= k < 500) / max(issued, 1), 4),
            "no_answer": round(by_status.get(0, 0) / max(issued, 1), 4),
        },
        "by_operation": {op: {str(k): v for k, v in sorted(c.items())} for op, c in sorted(soak.statuses.items())},
        "dynamodb_calls": dict(sorted(injector.calls.items())),
        "faults_injected": sum(injector.injected.values()),
        "faults_by_kind": dict(sorted(injector.injected.items())),
        "bins": len(soak.books),
        "acknowledged_versioned_updates": acked,
        "versions_deleted": sum(b.deleted for b in soak.books.values()),
        "versions_surviving": sum(counts.values()),
        "lost_responses_injected": sum(n for kind, n in injector.injected.items() if kind.endswith(":LostResponse")),
        "duplicate_versions": sum("stored twice" in p or "no acknowledged request wrote" in p for p in problems),
        **ledger,
        "invariants_ok": not problems,
        "memory": memory_report,
        "problems": problems[:100],
    }


def assert_invariants(result: dict[str, Any], settings: Settings) -> None:
    assert result["duplicate_versions"] == 0, result["problems"]
    assert result["duplicate_bins"] == 0, result["problems"]
    assert result["double_charges"] == 0, result["problems"]
    assert result["problems"] == []
    # the faults really happened, and a burst outlasted the retries (a soak without them proves nothing)
    assert result["faults_injected"] > 0
    if result["requests"] > settings.burst_every + BURST_LENGTH:
        assert result["status_counts"].get("503", 0) > 0


# ---- the tests ------------------------------------------------------------------------------

SHORT = Settings(requests=200, threads=4, bins=4, fault_rate=0.05, burst_every=100, max_seconds=120.0)


@pytest.fixture(autouse=True)
def quiet(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POWERTOOLS_LOG_LEVEL", "ERROR")  # 503s are expected here; 500s still log


def test_a_short_soak_keeps_every_invariant(monkeypatch: pytest.MonkeyPatch) -> None:
    """The soak's code, run briefly in ``make test``: one burst, and botocore's retries
    without their backoff sleeps (what they retry is the same; ``make soak`` sleeps them)."""
    from botocore.retries import standard

    monkeypatch.setattr(standard.ExponentialBackoff, "delay_amount", lambda self, context: 0.0)
    assert_invariants(run(SHORT), SHORT)


@pytest.mark.soak
def test_soak(pytestconfig: pytest.Config) -> None:
    """``make soak``: the long run, its settings from the ``--soak-*`` options."""
    settings = Settings(**{name: pytestconfig.getoption(f"soak_{name}") for name in Settings.__dataclass_fields__})
    result = run(settings)
    output = Path(pytestconfig.getoption("soak_output"))
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k not in ("by_operation", "dynamodb_calls")}, indent=2))
    print(f"[soak] report written to {output}")
    assert_invariants(result, settings)
