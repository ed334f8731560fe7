"""Fault injection beneath botocore's retries, for the unit tests and the soak.

``Faults`` takes the place of moto's ``before-send`` hook on one botocore client: each
DynamoDB call either gets an injected fault or goes on to moto. Faults are injected where
the network would produce them, so what the code sees is what the deployed code would see:

- an error answer (throttling, a 5xx, a cancelled transaction) instead of moto's;
- a connection error raised before the request reaches moto (nothing applied);
- a *lost response*: moto applies the request, then the answer is lost (a read timeout),
  and botocore sends the same request again. AWS does this; moto never does on its own.
"""

from __future__ import annotations

import itertools
import json
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

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


def connection_error(kind: str) -> Exception:
    from botocore import exceptions

    url = "https://dynamodb.us-east-1.amazonaws.com/"
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
    """Stands in for moto's ``before-send`` hook on one client."""

    client: Any
    planned: list[Fault] = field(default_factory=list)
    calls: Counter[str] = field(default_factory=Counter)
    # the API reads the bin on a worker thread while it authenticates: pick faults atomically
    lock: threading.Lock = field(default_factory=threading.Lock)

    def inject(self, operation: str, times: int = FOREVER, **kwargs: Any) -> Fault:
        fault = Fault(operation, times, **kwargs)
        self.planned.append(fault)
        return fault

    def clear(self) -> None:
        self.planned.clear()

    def __call__(self, request: Any, event_name: str, **kwargs: Any) -> Any:
        from botocore.awsrequest import AWSResponse
        from moto.core.botocore_stubber import MockRawResponse
        from moto.core.models import botocore_stubber

        operation = event_name.rsplit(".", 1)[-1]
        params = json.loads(request.body or b"{}")
        with self.lock:
            self.calls[operation] += 1
            fault = next(
                (f for f in self.planned if f.matches(operation) and f.injected < f.times and f.when(params)),
                None,
            )
            if fault is not None:
                fault.injected += 1
        if fault is None:
            return botocore_stubber(event_name=event_name, request=request, **kwargs)
        if fault.after_applying:
            botocore_stubber(event_name=event_name, request=request, **kwargs)
        if fault.raises:
            raise connection_error(fault.raises)
        assert fault.response is not None
        status, body = fault.response
        headers = {"Content-Type": "application/x-amz-json-1.0", "x-amzn-RequestId": "injected"}
        return AWSResponse(request.url, status, headers, MockRawResponse(json.dumps(body)))


def on_table_item(prefix: str) -> Callable[[dict[str, Any]], bool]:
    """Matches single-item calls whose key's pk starts with ``prefix`` (BIN#, ACCOUNT#, KEY#)."""

    def matches(params: dict[str, Any]) -> bool:
        key = params.get("Key") or params.get("Item") or {}
        return str(key.get("pk", {}).get("S", "")).startswith(prefix)

    return matches


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
def injected_on(client: Any) -> Iterator[Faults]:
    """Replace moto's hook on ``client`` by a Faults injector for the duration."""
    from moto.core.models import botocore_stubber

    injector = Faults(client)
    client.meta.events.unregister("before-send", botocore_stubber)
    client.meta.events.register("before-send.dynamodb", injector)
    try:
        yield injector
    finally:
        client.meta.events.unregister("before-send.dynamodb", injector)
        client.meta.events.register("before-send", botocore_stubber)
