"""X-Ray tracing that costs nothing when it is off.

Powertools' ``Tracer()`` imports the X-Ray SDK as soon as it is constructed (~0.45 s of
cold start here, more than boto3 itself), even with ``POWERTOOLS_TRACE_DISABLED=true``.
So the handlers construct the real Tracer only when tracing is on (the template's
``TracingEnabled`` parameter), and otherwise a stand-in with the same decorators.
"""

from __future__ import annotations

import os
from typing import Any


class NoTracer:
    """The subset of Powertools' Tracer the handlers use, doing nothing."""

    def capture_lambda_handler(self, lambda_handler: Any = None, **_: Any) -> Any:
        return lambda_handler if lambda_handler is not None else (lambda f: f)

    def capture_method(self, method: Any = None, **_: Any) -> Any:
        return method if method is not None else (lambda f: f)


def tracing_enabled() -> bool:
    disabled = os.environ.get("POWERTOOLS_TRACE_DISABLED", "").strip().lower() in {"1", "true"}
    return not disabled and bool(os.environ.get("AWS_LAMBDA_FUNCTION_NAME"))


def make_tracer(service: str) -> Any:
    if not tracing_enabled():
        return NoTracer()
    from aws_lambda_powertools import Tracer

    return Tracer(service=service)
