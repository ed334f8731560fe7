"""Idempotency-Key on POST /b and PUT /b/{id}: a retry with the same key and the same
request replays the first response and changes nothing; the same key with a different
request answers 422.

Why not Powertools' idempotency utility: it saves the response in a second write after
the work, so a crash or a lost save between the two leaves work done with nothing to
replay (the next retry does the work again), and it stores the whole response, which for a
record near ``MAX_BIN_BYTES`` exceeds DynamoDB's 400 KB item limit and turned a finished
write into a 503. Here the record is completed *inside the bin write's own transaction*
(``dal.idempotency``), stores only metadata, and is checked against a hard size bound.

The flow, for one request:

    claim the key (conditional put) --held by another attempt--> wait for its result, or 409
      | taken                          --completed, same request--> replay (no write, no change)
      v                                --completed, other request--> 422
    the use case's write + the COMPLETED record, one transaction
      | failed before writing: give the key back, so the retry runs at once
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import time
from collections.abc import Callable, Sequence
from typing import Any

from binvault.dal import idempotency
from binvault.exceptions import CompanionConditionFailed, IdempotencyInProgress, IdempotencyKeyReused
from binvault.models.bins import Outcome
from binvault.models.settings import get_settings

IN_PROGRESS_POLLS = 20
IN_PROGRESS_POLL_SECONDS = 0.1
# How long an attempt holds its key before a retry may take it over: beyond API Gateway's
# 29 s integration timeout, so only an attempt that can no longer answer is taken over
# (and even then it cannot write: its completion is conditional on still holding the key).
LOCK_SECONDS = 30

Companions = Callable[[Outcome], Sequence[dict[str, Any]]]


def no_companions(_: Outcome) -> Sequence[dict[str, Any]]:
    """What a write without Idempotency-Key carries alongside itself: nothing."""
    return ()


def fingerprint(*parts: Any) -> str:
    """A stable digest of everything that makes two requests "the same request"."""
    canonical = json.dumps(parts, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8", errors="surrogatepass")).hexdigest()


def _replay(existing: idempotency.Existing, record: Any) -> Outcome:
    result = existing.result or {}
    return Outcome({"record": record, "metadata": result["metadata"]}, result.get("etag"))


def _remembered(outcome: Outcome) -> dict[str, Any]:
    return {"metadata": outcome.body["metadata"], "etag": outcome.etag}


def run_once(
    account_id: str,
    idempotency_key: str,
    route: str,
    request: str,
    record: Any,
    operation: Callable[[Companions], Outcome],
) -> Outcome:
    """Run ``operation`` at most once per (account, route, key).

    ``operation`` gets the function that turns its Outcome into the transaction items its
    write must carry; its response body must be ``{"record": record, "metadata": ...}``.
    """
    settings = get_settings()
    record_id = idempotency.record_id(account_id, route, idempotency_key)
    for _ in range(IN_PROGRESS_POLLS):
        found = idempotency.claim(record_id, request, int(time.time()), LOCK_SECONDS, settings.idempotency_ttl_seconds)
        if isinstance(found, idempotency.Claim):
            break
        if found.request != request:
            raise IdempotencyKeyReused()
        if found.status == idempotency.COMPLETED:
            return _replay(found, record)
        # The first request is still running: wait for its response rather than fail.
        time.sleep(IN_PROGRESS_POLL_SECONDS)
    else:
        raise IdempotencyInProgress()

    held = found
    try:
        return operation(lambda outcome: held.companions(_remembered(outcome)))
    except CompanionConditionFailed as error:
        # Our lock expired and a retry took the key over: its write is the one that counts.
        raise IdempotencyInProgress() from error
    except BaseException:
        # Best effort: the lock expires by itself, and the first error is the answer.
        with contextlib.suppress(Exception):
            idempotency.release(held)
        raise
