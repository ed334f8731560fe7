"""X-Ray tracing that costs nothing when it is off, and the invocation deadline.

Powertools' ``Tracer()`` imports the X-Ray SDK as soon as it is constructed (~0.45 s of
cold start here, more than boto3 itself), even with ``POWERTOOLS_TRACE_DISABLED=true``.
So the handlers construct the real Tracer only when tracing is on (the template's
``TracingEnabled`` parameter), and otherwise a stand-in with the same decorators.

Both handlers' ``@tracer.capture_lambda_handler`` also bound the invocation's DynamoDB
calls by the Lambda deadline (``dal.client.invocation_deadline``): an invocation that
runs out of time answers 503 (the API) or reports its record failed so that the retry
continues (the purge), instead of being killed by Lambda's timeout.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from typing import Any

from binvault.dal.client import invocation_deadline


class NoTracer:
    """The subset of Powertools' Tracer the handlers use, doing nothing."""

    def capture_lambda_handler(self, lambda_handler: Any = None, **_: Any) -> Any:
        return lambda_handler if lambda_handler is not None else (lambda f: f)

    def capture_method(self, method: Any = None, **_: Any) -> Any:
        return method if method is not None else (lambda f: f)

    def put_annotation(self, key: str, value: Any) -> None:
        return None


def tracing_enabled() -> bool:
    disabled = os.environ.get("POWERTOOLS_TRACE_DISABLED", "").strip().lower() in {"1", "true"}
    return not disabled and bool(os.environ.get("AWS_LAMBDA_FUNCTION_NAME"))


class WithDeadline:
    """A tracer whose ``capture_lambda_handler`` also applies the invocation deadline."""

    def __init__(self, tracer: Any) -> None:
        self.tracer = tracer

    def __getattr__(self, name: str) -> Any:
        return getattr(self.tracer, name)

    def capture_lambda_handler(self, lambda_handler: Any = None, **options: Any) -> Any:
        if lambda_handler is None:
            return functools.partial(self.capture_lambda_handler, **options)
        traced = self.tracer.capture_lambda_handler(lambda_handler, **options)

        @functools.wraps(lambda_handler)
        def handler(event: Any, context: Any) -> Any:
            with invocation_deadline(context):
                return traced(event, context)

        return handler


def make_tracer(service: str, factory: Callable[..., Any] | None = None) -> Any:
    if not tracing_enabled():
        return WithDeadline(NoTracer())
    if factory is not None:
        return WithDeadline(factory(service=service))
    from aws_lambda_powertools import Tracer

    return WithDeadline(Tracer(service=service))
