"""The purge Lambda: DynamoDB Stream records of bin base items -> delete orphaned versions,
record items and S3 objects; and, once a day (a schedule), the orphan sweep.

The event source mapping in template.yaml filters the stream so that this function only
wakes for a cut-over (a base item MODIFY whose new image carries ``purgeBelow``), a write
that dropped a record (its new image carries ``drop``) or a bin delete (a base item
REMOVE). Records that fail are reported as partial batch failures; Lambda retries them and
finally sends them to the on-failure destination (SQS DLQ).
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, field
from typing import Any

from aws_lambda_powertools import Metrics
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
from binvault.dal.purge import drop, purge_versions, sweep_orphans
from binvault.handlers import coldstart
from binvault.handlers.logs import make_logger
from binvault.handlers.tracing import make_tracer

# Requests that emit no metric are normal here; Powertools would warn on every one of them.
warnings.filterwarnings("ignore", "No application metrics to publish", UserWarning)
logger = make_logger("binvault-purge")
tracer = make_tracer("binvault-purge")
metrics = Metrics(namespace="binvault", service="binvault-purge")
processor = BatchProcessor(event_type=EventType.DynamoDBStreams)


@dataclass(frozen=True)
class PurgeTarget:
    bin_id: str
    everything: bool = False  # the bin is gone: every item and object of it
    below: int | None = None  # a cut-over: versions of generations below this
    keep: str | None = None  # ...except the item the base's recordAt names
    dropped: list[str] = field(default_factory=list)  # what a write made unreachable


def purge_target(raw: dict[str, Any]) -> PurgeTarget | None:
    """What a stream record asks the purge to do, or None if nothing.

    The same rule as the template's event filter, so an unfiltered stream (the local
    poller) behaves exactly like the deployed one.
    """
    change = raw.get("dynamodb", {})
    key = change.get("Keys", {})
    if key.get("sk", {}).get("S") != keys.BIN_SK:
        return None
    bin_id = keys.bin_id_from_pk(key["pk"]["S"])
    if raw.get("eventName") == "REMOVE":
        return PurgeTarget(bin_id, everything=True)
    if raw.get("eventName") != "MODIFY":
        return None
    image = change.get("NewImage", {})
    below, dropped = image.get("purgeBelow"), image.get("drop")
    if below is None and dropped is None:
        return None
    return PurgeTarget(
        bin_id,
        below=int(below["N"]) if below is not None else None,
        keep=image["recordAt"]["S"] if "recordAt" in image else None,
        dropped=dropped["S"].split() if dropped is not None else [],
    )


def purge(target: PurgeTarget) -> int:
    """Do what the target asks; returns the items deleted."""
    deleted = drop(target.bin_id, target.dropped) if target.dropped else 0
    if target.everything or target.below is not None:
        deleted += purge_versions(target.bin_id, None if target.everything else target.below, keep=target.keep)
    return deleted


@tracer.capture_method
def record_handler(record: DynamoDBRecord) -> None:
    target = purge_target(record.raw_event)
    if target is None:
        return
    bin_id, below = target.bin_id, target.below
    try:
        deleted = purge(target)
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
    if "Records" not in event:
        # The daily schedule (template.yaml): S3 objects that no item points to.
        with invocation_deadline(context):
            swept = sweep_orphans()
        metrics.add_metric("OrphansDeleted", MetricUnit.Count, swept["deleted"])
        logger.info("swept orphans", extra=swept)
        return swept
    # A purge that nears the invocation's end stops (DeadlineReached): its record is reported
    # failed, and Lambda's retry queries again and finds only what is left.
    with invocation_deadline(context):
        response = process_partial_response(
            event=event, record_handler=record_handler, processor=processor, context=context
        )
    return dict(response)
