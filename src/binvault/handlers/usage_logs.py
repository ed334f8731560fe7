"""The usage-logs Lambda: CloudWatch Logs subscription events of the API's log group ->
compressed batches of each account's usage lines in S3 (``logs/<accountId>/<day>/``).

The template's subscription filter hands it only the API's usage lines
(``{"message": "usage", ...}``, one per request whose account is known). CloudWatch Logs
invokes it asynchronously: an error raised here makes Lambda retry the event (twice, by
the function's EventInvokeConfig), then send it to the dead-letter queue, which alarms.
A retry writes nothing twice: each object's name comes from its log events' ids
(``logic.usage_logs.batches_of``). The local stack calls this same handler with the
subscription events it builds from its own log output (binvault.local.usage_logs).
"""

from __future__ import annotations

import warnings
from typing import Any

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from binvault.handlers.logs import make_logger
from binvault.handlers.tracing import make_tracer
from binvault.logic import usage_logs

warnings.filterwarnings("ignore", "No application metrics to publish", UserWarning)
logger = make_logger("binvault-usage-logs")
tracer = make_tracer("binvault-usage-logs")
metrics = Metrics(namespace="binvault", service="binvault-usage-logs")


@logger.inject_lambda_context
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    written = usage_logs.store_subscription_event(event)
    metrics.add_metric("UsageLogBatches", MetricUnit.Count, len(written))
    logger.info("usage log batches written", extra={"objects": len(written)})
    return {"objects": written}
