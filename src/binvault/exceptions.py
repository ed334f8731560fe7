"""Domain exceptions. Each carries the HTTP status and the contract's exact message.

They are raised by ``logic/`` and ``dal/`` and mapped to a response in exactly one place,
the ``@app.exception_handler`` in ``handlers/api.py``.
"""

from __future__ import annotations


class BinvaultError(Exception):
    status: int = 500
    message: str = "Internal server error"

    def __init__(self, message: str | None = None) -> None:
        if message is not None:
            self.message = message
        super().__init__(self.message)

    @property
    def headers(self) -> dict[str, str]:
        return {}


class BadRequest(BinvaultError):
    status = 400


class InvalidBinId(BadRequest):
    message = "Invalid Bin Id provided"


class InvalidVersion(BadRequest):
    message = "Invalid Bin Version provided"


class MissingMasterKey(BinvaultError):
    status = 401
    message = "You need to pass X-Master-Key in the header"


class InvalidMasterKey(BinvaultError):
    status = 401
    message = "Invalid X-Master-Key provided"


class QuotaExhausted(BinvaultError):
    status = 403

    def __init__(self, purchase_url: str) -> None:
        super().__init__(f"Requests exhausted. Buy additional requests at {purchase_url}")


class RouteNotFound(BinvaultError):
    status = 404
    message = "Route not found"


class BinNotFound(BinvaultError):
    status = 404
    message = "Bin not found or it doesn't belong to your account"


class VersionNotFound(BinvaultError):
    status = 404
    message = "Bin version not found"


class MethodNotAllowed(BinvaultError):
    status = 405
    message = "Method not allowed"


class IdempotencyInProgress(BinvaultError):
    status = 409
    message = "A request with this Idempotency-Key is still in progress; retry shortly"


class PreconditionFailed(BinvaultError):
    status = 412
    message = "Precondition Failed"


class PayloadTooLarge(BinvaultError):
    status = 413

    def __init__(self, limit: int) -> None:
        super().__init__(f"Bin size exceeds the limit of {limit} bytes")


class IdempotencyKeyReused(BinvaultError):
    status = 422
    message = "Idempotency-Key was already used with a different request body"


class ServiceUnavailable(BinvaultError):
    """A transient fault (throttling, conflicts, network) outlasted our retries."""

    status = 503
    message = "Service temporarily unavailable, please retry"
    retry_after_seconds = 1

    @property
    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after_seconds)}


class StaleWrite(Exception):
    """A conditional write lost a race: the bin changed since it was read (internal, retried)."""


class WriteConflict(Exception):
    """DynamoDB cancelled a transaction because of a concurrent one (internal, retried)."""


class CompanionConditionFailed(Exception):
    """A transaction was cancelled by the condition of an item written alongside the bin (an
    idempotency record taken over by another attempt): internal, the caller decides."""
