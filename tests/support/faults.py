"""Fault injection beneath botocore's retries, for the unit tests and the soak.

``Faults`` takes the place of moto's ``before-send`` hook on one botocore client: each
DynamoDB call either gets an injected fault or goes on to moto. Faults are injected where
the network would produce them, so what the code sees is what the deployed code would see:

- an error answer (throttling, a 5xx, a cancelled transaction) instead of moto's;
- a connection error raised before the request reaches moto (nothing applied);
- a *lost response*: moto applies the request, then the answer is lost (a read timeout),
  and botocore sends the same request again. AWS does this; moto never does on its own.

Two ways to pick the faults: ``Faults`` injects the ones a test plans (``inject``, counted,
deterministic; the unit tests), ``RandomFaults`` fails a share of calls at random with
periodic bursts (the soak). Both work on a client of moto in-process (the unit tests) or
on a client of a real endpoint such as the local stack's (``over_http``: the soak).
"""

from __future__ import annotations

import http.client
import itertools
import json
import random
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

FOREVER = 10**6
# The calls that change a table: the ones a lost response could apply twice.
WRITE_OPERATIONS = frozenset({"PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems", "BatchWriteItem"})


def error_body(code: str, message: str, **extra: Any) -> dict[str, Any]:
    return {"__type": f"com.amazonaws.dynamodb.v20120810#{code}", "message": message, **extra}


def cancelled(*reasons: str) -> dict[str, Any]:
    """A TransactionCanceledException body with one reason per transaction item."""
    return error_body(
        "TransactionCanceledException",
        f"Transaction cancelled, please refer cancellation reasons for specific reasons [{', '.join(reasons)}]",
        CancellationReasons=[{"Code": r} if r == "None" else {"Code": r, "Message": r} for r in reasons],
    )


THROTTLED = (
    400,
    error_body("ProvisionedThroughputExceededException", "The level of configured throughput was exceeded"),
)
THROTTLING = (400, error_body("ThrottlingException", "Rate of requests exceeds the allowed throughput."))
INTERNAL = (500, error_body("InternalServerError", "Internal server error"))
CONFLICT = (400, cancelled("None", "TransactionConflict"))
TXN_THROTTLED = (400, cancelled("None", "ThrottlingError"))
TXN_CONFLICT_SINGLE = (400, error_body("TransactionConflictException", "Transaction is ongoing for the item"))


def connection_error(kind: str, url: str = "https://dynamodb.us-east-1.amazonaws.com/") -> Exception:
    from botocore import exceptions

    if kind == "endpoint":
        return exceptions.EndpointConnectionError(endpoint_url=url)
    if kind == "closed":
        return exceptions.ConnectionClosedError(endpoint_url=url)
    return exceptions.ReadTimeoutError(endpoint_url=url)


@dataclass
class Fault:
    operation: str  # an operation name, or "write" for any of WRITE_OPERATIONS
    times: int
    response: tuple[int, dict[str, Any]] | None = None  # an error answer instead of moto's
    raises: str | None = None  # a connection error instead of an answer
    after_applying: bool = False  # moto applies the request, then the answer is lost
    when: Callable[[dict[str, Any]], bool] = lambda params: True
    injected: int = 0

    def matches(self, operation: str) -> bool:
        return operation == self.operation or (self.operation == "write" and operation in WRITE_OPERATIONS)


@dataclass
class Faults:
    """Stands in for moto's ``before-send`` hook on one client (or, ``over_http``, goes
    before the request is sent to a real endpoint)."""

    client: Any
    planned: list[Fault] = field(default_factory=list)
    calls: Counter[str] = field(default_factory=Counter)
    # the API reads the bin on a worker thread while it authenticates: pick faults atomically
    lock: threading.Lock = field(default_factory=threading.Lock)
    over_http: bool = False

    def inject(self, operation: str, times: int = FOREVER, **kwargs: Any) -> Fault:
        fault = Fault(operation, times, **kwargs)
        self.planned.append(fault)
        return fault

    def clear(self) -> None:
        self.planned.clear()

    def choose(self, operation: str, params: dict[str, Any]) -> Fault | None:
        with self.lock:
            self.calls[operation] += 1
            fault = next(
                (f for f in self.planned if f.matches(operation) and f.injected < f.times and f.when(params)),
                None,
            )
            if fault is not None:
                fault.injected += 1
        return fault

    def __call__(self, request: Any, event_name: str, **kwargs: Any) -> Any:
        from botocore.awsrequest import AWSResponse
        from moto.core.botocore_stubber import MockRawResponse

        operation = event_name.rsplit(".", 1)[-1]
        fault = self.choose(operation, json.loads(request.body or b"{}"))
        if fault is None:
            return None if self.over_http else _moto(event_name, request, **kwargs)
        if fault.after_applying and self.over_http:  # DynamoDB applies the call ...
            _deliver(request)
        elif fault.after_applying:
            _moto(event_name, request, **kwargs)
        if fault.raises:  # ... and its answer is lost; or the call never arrived
            raise connection_error(fault.raises, request.url)
        assert fault.response is not None
        status, body = fault.response
        headers = {"Content-Type": "application/x-amz-json-1.0", "x-amzn-RequestId": "injected"}
        return AWSResponse(request.url, status, headers, MockRawResponse(json.dumps(body)))


def _moto(event_name: str, request: Any, **kwargs: Any) -> Any:
    from moto.core.models import botocore_stubber

    return botocore_stubber(event_name=event_name, request=request, **kwargs)


def _deliver(request: Any) -> None:
    """Send a signed botocore request to its endpoint and drop the answer."""
    url = urlsplit(request.url)
    headers = {k: v.decode() if isinstance(v, bytes) else v for k, v in request.headers.items()}
    connection = http.client.HTTPConnection(url.hostname or "127.0.0.1", url.port, timeout=30)
    try:
        connection.request(request.method, url.path or "/", body=request.body, headers=headers)
        connection.getresponse().read()
    finally:
        connection.close()


# What RandomFaults injects, by name (``operation`` and ``times`` are not used there).
RANDOM_KINDS = {
    "ProvisionedThroughputExceededException": Fault("*", FOREVER, response=THROTTLED),
    "ThrottlingException": Fault("*", FOREVER, response=THROTTLING),
    "InternalServerError": Fault("*", FOREVER, response=INTERNAL),
    "EndpointConnectionError": Fault("*", FOREVER, raises="endpoint"),
    "ReadTimeoutError": Fault("*", FOREVER, raises="read"),  # raised before sending: never arrived
}
LOST_RESPONSE = Fault("write", FOREVER, raises="read", after_applying=True)
TRANSACTION_CONFLICT = Fault("TransactWriteItems", FOREVER, response=CONFLICT)


@dataclass
class RandomFaults(Faults):
    """Fails a share of calls as a flaky network would, once ``enabled``: ``rate`` of them,
    ``burst_rate`` while ``bursting`` (dense enough to outlast botocore's retries); outside
    bursts ``lost_response_share`` of the faults on write calls are lost responses."""

    rate: float = 0.02
    seed: int = 7
    burst_rate: float = 0.6
    lost_response_share: float = 0.4
    bursting: threading.Event = field(default_factory=threading.Event)
    enabled: threading.Event = field(default_factory=threading.Event)
    injected: Counter[str] = field(default_factory=Counter)  # "Operation:Kind" -> count
    # threads whose last call's response was lost: their retry goes through untouched, so a
    # lost response never ends in a 503 whose write was applied (an unknowable outcome)
    _retrying: set[int] = field(default_factory=set)

    def __post_init__(self) -> None:
        self._random = random.Random(self.seed)

    def choose(self, operation: str, params: dict[str, Any]) -> Fault | None:
        thread = threading.get_ident()
        with self.lock:
            self.calls[operation] += 1
            if not self.enabled.is_set() or thread in self._retrying:
                self._retrying.discard(thread)
                return None
            bursting = self.bursting.is_set()
            if self._random.random() >= (self.burst_rate if bursting else self.rate):
                return None
            if operation in WRITE_OPERATIONS and not bursting and self._random.random() < self.lost_response_share:
                kind, fault = "LostResponse", LOST_RESPONSE
                self._retrying.add(thread)
            elif operation == "TransactWriteItems" and self._random.random() < 0.3:
                kind, fault = "TransactionConflict", TRANSACTION_CONFLICT
            else:
                kind = self._random.choice(list(RANDOM_KINDS))
                fault = RANDOM_KINDS[kind]
            self.injected[f"{operation}:{kind}"] += 1
        return fault


def on_table_item(prefix: str) -> Callable[[dict[str, Any]], bool]:
    """Matches single-item calls whose key's pk starts with ``prefix`` (BIN#, ACCOUNT#, KEY#)."""

    def matches(params: dict[str, Any]) -> bool:
        key = params.get("Key") or params.get("Item") or {}
        return str(key.get("pk", {}).get("S", "")).startswith(prefix)

    return matches


def on_quota_shard(params: dict[str, Any]) -> bool:
    """Matches the calls that charge a request to one of the account's quota shards."""
    return "QUOTA#" in json.dumps(params)


def on_bin_write(params: dict[str, Any]) -> bool:
    """Matches the transactions that write bins, not the quota charge's transaction."""
    return not on_quota_shard(params)


@contextmanager
def crashing(
    client: Any,
    event: str,
    crash: BaseException,
    number: int = 1,
    when: Callable[[dict[str, Any]], bool] = on_bin_write,
) -> Iterator[list[int]]:
    """Raise ``crash`` at the ``number``-th ``event`` (``before-call.dynamodb.X``,
    ``after-call.s3.Y``) among the calls whose parameters ``when`` matches: by default not
    the quota charge's transaction, which comes before a request's own writes. Yields the
    list that gets ``number`` once it crashed."""
    _, operation = event.split(".", 1)
    calls = itertools.count(1)
    crashed: list[int] = []

    def mark(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        context["binvault_crash_candidate"] = when(params)

    def hook(context: dict[str, Any], **_: Any) -> None:
        if context.get("binvault_crash_candidate") and next(calls) == number:
            crashed.append(number)
            raise crash

    client.meta.events.register(f"before-parameter-build.{operation}", mark)
    client.meta.events.register(event, hook)
    try:
        yield crashed
    finally:
        client.meta.events.unregister(event, hook)
        client.meta.events.unregister(f"before-parameter-build.{operation}", mark)


def on_version(params: dict[str, Any]) -> bool:
    return "#" in str(params.get("Key", {}).get("sk", {}).get("S", "BIN"))


def nth_call(index: int) -> Callable[[dict[str, Any]], bool]:
    """A ``when`` that matches the ``index``-th call (from 0) it is asked about."""
    seen = itertools.count()
    return lambda params: next(seen) == index


def lose_response(faults: Faults, index: int) -> Fault:
    """Let the ``index``-th write call (from 0) be applied and its response be lost, once."""
    return faults.inject("write", times=1, raises="read", after_applying=True, when=nth_call(index))


@contextmanager
def injected_on(client: Any, injector: Faults | None = None) -> Iterator[Faults]:
    """Put a Faults injector (a new one if None) on ``client`` for the duration: in place
    of moto's hook, or first before sending when the injector is ``over_http``."""
    from moto.core.models import botocore_stubber

    injector = injector or Faults(client)
    if injector.over_http:
        client.meta.events.register_first("before-send.dynamodb", injector)
    else:
        client.meta.events.unregister("before-send", botocore_stubber)
        client.meta.events.register("before-send.dynamodb", injector)
    try:
        yield injector
    finally:
        client.meta.events.unregister("before-send.dynamodb", injector)
        if not injector.over_http:
            client.meta.events.register("before-send", botocore_stubber)
