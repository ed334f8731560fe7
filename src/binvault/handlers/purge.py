"""The purge Lambda: DynamoDB Stream records of bin base items -> delete orphaned versions.

The event source mapping in template.yaml filters the stream so that this function only
wakes for a cut-over (a base item MODIFY whose new image carries ``purgeBelow``) or a bin
delete (a base item REMOVE). Records that fail are reported as partial batch failures;
Lambda retries them and finally sends them to the on-failure destination (SQS DLQ).
"""

from __future__ import annotations

import time
import warnings
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from binvault.dal import keys
from binvault.dal.client import invocation_deadline
from binvault.dal.purge import purge_versions
from binvault.handlers import coldstart
from binvault.handlers.tracing import make_tracer

# Requests that emit no metric are normal here; Powertools would warn on every one of them.
warnings.filterwarnings("ignore", "No application metrics to publish", UserWarning)
logger = Logger(service="binvault-purge")
tracer = make_tracer("binvault-purge")
metrics = Metrics(namespace="binvault", service="binvault-purge")
processor = BatchProcessor(event_type=EventType.DynamoDBStreams)


def purge_target(raw: dict[str, Any]) -> tuple[str, int | None] | None:
    """(bin id, purge versions below this generation; None = all) or None if nothing to do.

    The same rule as the template's event filter, so an unfiltered stream (the local
    poller) behaves exactly like the deployed one.
    """
    change = raw.get("dynamodb", {})
    key = change.get("Keys", {})
    if key.get("sk", {}).get("S") != keys.BIN_SK:
        return None
    bin_id = keys.bin_id_from_pk(key["pk"]["S"])
    if raw.get("eventName") == "REMOVE":
        return bin_id, None
    below = change.get("NewImage", {}).get("purgeBelow")
    if raw.get("eventName") == "MODIFY" and below is not None:
        return bin_id, int(below["N"])
    return None


@tracer.capture_method
def record_handler(record: DynamoDBRecord) -> None:
    target = purge_target(record.raw_event)
    if target is None:
        return
    bin_id, below = target
    try:
        deleted = purge_versions(bin_id, below)
    except Exception:
        # Lambda retries the record and, after the last retry, sends it to the DLQ: this line
        # names the bin for `binvault-admin purge <binId>` (the DLQ message only has positions).
        logger.warning("purge incomplete", extra={"binId": bin_id, "belowGeneration": below}, exc_info=True)
        raise
    created = record.raw_event.get("dynamodb", {}).get("ApproximateCreationDateTime")
    if created is not None:
        metrics.add_metric("PurgeLagSeconds", MetricUnit.Seconds, max(0.0, time.time() - float(created)))
    metrics.add_metric("VersionsPurged", MetricUnit.Count, deleted)
    logger.info("purged", extra={"binId": bin_id, "belowGeneration": below, "deleted": deleted})


@coldstart.first_invocation()  # the collector, paused since the import, runs again after it
@logger.inject_lambda_context
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    # A purge that nears the invocation's end stops (DeadlineReached): its record is reported
    # failed, and Lambda's retry queries again and finds only what is left.
    with invocation_deadline(context):
        response = process_partial_response(
            event=event, record_handler=record_handler, processor=processor, context=context
        )
    return dict(response)
