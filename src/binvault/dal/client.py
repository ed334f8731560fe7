"""The DynamoDB client factory and the translation of transient AWS faults.

The client is created lazily and cached, never at import time: tests start moto first,
and a cold start that serves a validation error never pays for a client.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import TYPE_CHECKING, Any, TypeVar

from binvault.exceptions import ServiceUnavailable
from binvault.models.settings import get_settings

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


@lru_cache(maxsize=1)
def _create_client() -> BaseClient:
    # botocore directly rather than boto3: the same client, without boto3's import cost
    # (~50 ms of every cold start; see README "Cold start").
    import botocore.session
    from botocore.config import Config

    settings = get_settings()
    config = Config(
        # "standard" retries throttling, 5xx and connection errors with jittered
        # exponential backoff; attempts stay well inside the API's 29 s budget.
        retries={"mode": "standard", "total_max_attempts": settings.dynamodb_max_attempts},
        connect_timeout=2,
        read_timeout=5,
        tcp_keepalive=True,
        max_pool_connections=16,
    )
    return botocore.session.get_session().create_client("dynamodb", endpoint_url=settings.endpoint_url, config=config)


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


def call(operation: Callable[..., T], **kwargs: Any) -> T:
    with transient_faults_as_unavailable():
        return operation(**kwargs)


def table() -> str:
    return get_settings().table_name
