"""Idempotency-Key on POST /b and PUT /b/{id}: a retry with the same key and the same
request replays the first response and changes nothing; the same key with a different
request answers 422.

Built on Powertools' idempotency utility with its DynamoDB persistence layer, in its own
table (``IdempotencyTable`` in template.yaml, TTL-expired). Records are keyed by account,
route and key, so two accounts using the same key never collide. The utility (and its
imports) is loaded only when a request carries the header, to keep cold starts short.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from binvault.exceptions import IdempotencyInProgress, IdempotencyKeyReused, ServiceUnavailable
from binvault.models.settings import get_settings

if TYPE_CHECKING:
    from binvault.logic.bins import Outcome

IN_PROGRESS_POLLS = 20
IN_PROGRESS_POLL_SECONDS = 0.1
# The current invocation's Lambda context: an in-progress record then expires when the
# invocation would time out, so a crashed first attempt does not block its key for long.
_lambda_context: Any = None


def remember_lambda_context(context: Any) -> None:
    global _lambda_context
    _lambda_context = context


@lru_cache(maxsize=1)
def _persistence() -> Any:
    from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer

    from binvault.dal.client import dynamodb

    return DynamoDBPersistenceLayer(table_name=get_settings().idempotency_table_name, boto3_client=dynamodb())


def fingerprint(*parts: Any) -> str:
    """A stable digest of everything that makes two requests "the same request"."""
    canonical = json.dumps(parts, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8", errors="surrogatepass")).hexdigest()


def run_once(
    account_id: str,
    idempotency_key: str,
    route: str,
    request_fingerprint: str,
    operation: Callable[[], Outcome],
) -> Outcome:
    from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig, idempotent_function
    from aws_lambda_powertools.utilities.idempotency.exceptions import (
        IdempotencyAlreadyInProgressError,
        IdempotencyPersistenceLayerError,
        IdempotencyValidationError,
    )

    from binvault.logic.bins import Outcome

    config = IdempotencyConfig(
        event_key_jmespath="[account, route, key]",
        payload_validation_jmespath="request",
        expires_after_seconds=get_settings().idempotency_ttl_seconds,
        raise_on_no_idempotency_key=True,
    )
    if _lambda_context is not None:
        config.register_lambda_context(_lambda_context)

    @idempotent_function(
        data_keyword_argument="call",
        persistence_store=_persistence(),
        config=config,
        key_prefix="binvault",
    )
    def execute(call: dict[str, str]) -> dict[str, Any]:
        outcome = operation()
        return {"body": outcome.body, "etag": outcome.etag}

    call = {"account": account_id, "route": route, "key": idempotency_key, "request": request_fingerprint}
    for _ in range(IN_PROGRESS_POLLS):
        try:
            stored = execute(call=call)
            return Outcome(stored["body"], stored.get("etag"))
        except IdempotencyValidationError as error:
            raise IdempotencyKeyReused() from error
        except IdempotencyAlreadyInProgressError:
            # The first request is still running: wait for its response rather than fail.
            time.sleep(IN_PROGRESS_POLL_SECONDS)
        except IdempotencyPersistenceLayerError as error:
            raise ServiceUnavailable() from error
    raise IdempotencyInProgress()
