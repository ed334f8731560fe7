"""The DynamoDB client factory and the translation of transient AWS faults.

The client is created lazily and cached, never at import time: tests start moto first,
and a cold start that serves a validation error never pays for a client.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import TYPE_CHECKING, Any, TypeVar

from binvault.exceptions import ServiceUnavailable
from binvault.models.settings import Settings, get_settings

if TYPE_CHECKING:
    from botocore.client import BaseClient

T = TypeVar("T")

# Error codes that mean "try again later", never "your request is wrong".
TRANSIENT_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "InternalServerError",
        "ServiceUnavailable",
        "TransactionInProgressException",
        "TransactionConflictException",
        "LimitExceededException",
    }
)
# The per-item reasons of a TransactionCanceledException that mean the same thing. DynamoDB
# reports a throttled transaction item this way (ThrottlingError on on-demand tables), not
# with a top-level code, and botocore does not retry a cancelled transaction.
TRANSIENT_CANCELLATION_REASONS = frozenset({"ThrottlingError", "ProvisionedThroughputExceeded", "TransactionConflict"})


# ---- time budgets ------------------------------------------------------------------------
# One attempt of one call never takes longer than this (botocore gives up on it):
CONNECT_TIMEOUT_SECONDS = 1.0
READ_TIMEOUT_SECONDS = 3.0
ATTEMPT_SECONDS = CONNECT_TIMEOUT_SECONDS + READ_TIMEOUT_SECONDS
# botocore's "standard" mode sleeps up to min(2 ** (n - 1), 20) s after failed attempt n
# (less for DynamoDB's non-throttling errors), plus up to 5 s more when the response carries
# x-amz-retry-after: the longest single sleep is the one before the last attempt.
BOTOCORE_BACKOFF_BASE = 2.0
BOTOCORE_BACKOFF_CAP_SECONDS = 20.0
BOTOCORE_RETRY_AFTER_EXTRA_SECONDS = 5.0
# The longest sleep binvault's own retry loops take between two calls (purge batches: 2.0 s,
# dal/purge.py; lost-race write retries: 0.5 s, logic/bins.py::with_fresh_state).
APP_SLEEP_CEILING_SECONDS = 2.0
# Time to build and return the 503 (and for Lambda to hand it to API Gateway).
ANSWER_SECONDS = 1.0


def backoff_before(attempt: int) -> float:
    """The longest sleep botocore takes before ``attempt`` (2 = the first retry)."""
    if attempt < 2:
        return 0.0
    exponential = min(BOTOCORE_BACKOFF_CAP_SECONDS, BOTOCORE_BACKOFF_BASE ** (attempt - 2))
    return exponential + BOTOCORE_RETRY_AFTER_EXTRA_SECONDS


def longest_backoff(max_attempts: int) -> float:
    return max((backoff_before(attempt) for attempt in range(2, max_attempts + 1)), default=0.0)


def call_seconds(max_attempts: int, attempt_seconds: float = ATTEMPT_SECONDS) -> float:
    """The longest one call can take with no deadline: every attempt timing out, every sleep at its maximum."""
    return max_attempts * attempt_seconds + sum(backoff_before(a) for a in range(2, max_attempts + 1))


def reserve_seconds(settings: Settings) -> float:
    """Kept back from an invocation's end: the last attempt the deadline allows ends by the
    deadline, then at most one sleep (botocore's or ours) before the next call is refused,
    then the answer."""
    return max(longest_backoff(settings.dynamodb_max_attempts), APP_SLEEP_CEILING_SECONDS) + ANSWER_SECONDS


class DeadlineReached(ServiceUnavailable):
    """The invocation would time out before another attempt could finish: answer 503 now
    (a purge record is reported failed, and its retry continues where this one stopped)."""


# Deadlines (time.monotonic()) of the invocations running in this process. In Lambda there
# is one at a time; the local stack runs the API and the purge poller side by side, and then
# the latest deadline applies (never a stale one: each invocation removes its own).
_deadlines: dict[object, float] = {}
_deadlines_lock = threading.Lock()
_clock = time.monotonic  # tests replace it, never the wall clock


def current_deadline() -> float | None:
    with _deadlines_lock:
        return max(_deadlines.values(), default=None)


@contextmanager
def invocation_deadline(context: Any) -> Iterator[None]:
    """Bound every DynamoDB attempt made during a Lambda invocation by the invocation's
    remaining time (``context.get_remaining_time_in_millis()``), less ``reserve_seconds``."""
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    if remaining is None:
        yield
        return
    token = object()
    deadline = _clock() + remaining() / 1000 - reserve_seconds(get_settings())
    with _deadlines_lock:
        _deadlines[token] = deadline
    try:
        yield
    finally:
        with _deadlines_lock:
            del _deadlines[token]


def _refuse_attempts_past_the_deadline(**_: Any) -> None:
    """botocore ``before-send`` hook: runs before every attempt, retries included."""
    deadline = current_deadline()
    if deadline is not None and _clock() + ATTEMPT_SECONDS > deadline:
        raise DeadlineReached()


@lru_cache(maxsize=1)
def _create_client() -> BaseClient:
    return new_client("dynamodb", get_settings().endpoint_url)


def new_client(service: str, endpoint_url: str | None, **config: Any) -> BaseClient:
    """A client with binvault's budgets (DynamoDB's here, S3's in ``dal.blobs``): the same
    retries, timeouts and invocation deadline for every AWS call the functions make.

    botocore directly rather than boto3: the same client, without boto3's import cost
    (~50 ms of every cold start; see README "Cold start")."""
    import botocore.session
    from botocore.config import Config

    from binvault.dal import botocore_loader

    session = botocore.session.get_session()
    botocore_loader.install(session)  # the same loader, minus its survey of every AWS service

    settings = get_settings()
    budgets = Config(
        # "standard" retries throttling, 5xx and connection errors with jittered
        # exponential backoff; the invocation deadline (above) keeps them inside the
        # function's timeout, and tests/api/test_budgets.py checks the arithmetic.
        retries={"mode": "standard", "total_max_attempts": settings.dynamodb_max_attempts},
        connect_timeout=CONNECT_TIMEOUT_SECONDS,
        read_timeout=READ_TIMEOUT_SECONDS,
        tcp_keepalive=True,
        max_pool_connections=16,
        **config,
    )
    client = session.create_client(service, endpoint_url=endpoint_url, config=budgets)
    client.meta.events.register(f"before-send.{service}", _refuse_attempts_past_the_deadline)
    return client


_client_lock = threading.Lock()


def dynamodb() -> BaseClient:
    """The process's one DynamoDB client. The lock matters on a cold start, where the
    request thread and the I/O pool would otherwise each build one (~130 ms and ~10 MB)."""
    with _client_lock:
        return _create_client()


dynamodb.cache_clear = _create_client.cache_clear  # type: ignore[attr-defined]


def error_code(error: Exception) -> str:
    response = getattr(error, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))


def cancellation_codes(error: Exception) -> list[str]:
    """The per-item reasons of a TransactionCanceledException ("None" for items that were fine)."""
    response = getattr(error, "response", None) or {}
    return [str(r.get("Code", "None")) for r in response.get("CancellationReasons", [])]


def retried(error: Exception) -> bool:
    """Whether botocore sent the call more than once, so an earlier attempt may have been
    applied by DynamoDB although its response was lost."""
    response = getattr(error, "response", None) or {}
    return int(response.get("ResponseMetadata", {}).get("RetryAttempts", 0)) > 0


def is_transient(error: Exception) -> bool:
    from botocore.exceptions import ClientError, ConnectionError, HTTPClientError

    if isinstance(error, (ConnectionError, HTTPClientError)):
        return True
    if isinstance(error, ClientError):
        code = error_code(error)
        if code in TRANSIENT_CODES:
            return True
        if code == "TransactionCanceledException":
            reasons = set(cancellation_codes(error)) - {"None", "NONE"}
            return bool(reasons) and reasons <= TRANSIENT_CODES | TRANSIENT_CANCELLATION_REASONS
    return False


@contextmanager
def transient_faults_as_unavailable() -> Iterator[None]:
    """Turn a fault that outlasted botocore's retries into the contract's 503."""
    try:
        yield
    except Exception as error:
        if is_transient(error):
            raise ServiceUnavailable() from error
        raise


def call_or_unavailable(operation: Callable[..., T], **kwargs: Any) -> T:
    with transient_faults_as_unavailable():
        return operation(**kwargs)


def get_item(key: dict[str, Any], consistent: bool = True) -> dict[str, Any] | None:
    """One item of the bins table by key, or None."""
    item: dict[str, Any] | None = call_or_unavailable(
        dynamodb().get_item, TableName=table(), Key=key, ConsistentRead=consistent
    ).get("Item")
    return item


def table() -> str:
    return get_settings().table_name
