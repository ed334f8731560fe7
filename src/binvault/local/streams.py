"""Feeds the table's DynamoDB Stream to the purge Lambda, as the event source mapping does
when deployed: filtered with the template's rule, in batches, retrying reported failures
and setting aside ("dead-lettering") what still fails after the retries.

Records it has read are released from the emulator (``release=True``; moto keeps every
record otherwise), and ``run`` sleeps while the stream is idle: it wakes when told a write
happened (``wake``), or after an interval that doubles while nothing arrives.

A durable stack replays its journal on start, and the stream records of that replay are
history, not news (they are released unread). A purge that was pending when the stack
stopped (killed after a cut-over was acknowledged, before or while its purge ran) would be
lost with them, and its versions would stay stored, unreadable, forever: ``pending_purges``
finds such purges in the replayed table itself and ``enqueue`` hands them to the purge
Lambda as the stream records it would have had."""

from __future__ import annotations

import base64
import json
import logging
import threading
import time
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from binvault.dal import keys
from binvault.handlers import purge
from binvault.local.events import LocalContext

log = logging.getLogger("binvault.local.streams")
MAX_RETRIES = 10
BATCH_SIZE = 25
SHARD_REFRESH_SECONDS = 10.0


# What pending_purges reads of each bin item: keys, and the base item's purge attributes.
PURGE_PROJECTION = {
    "ProjectionExpression": "pk, sk, #below, #at, #drop",
    "ExpressionAttributeNames": {"#below": "purgeBelow", "#at": "recordAt", "#drop": "drop"},
}


def pending_purges(items: Iterable[dict[str, Any]], objects: Iterable[str] = ()) -> list[dict[str, Any]]:
    """The purges a table still needs, as the stream records that ask for them.

    ``items`` are the table's items (``PURGE_PROJECTION`` is enough), ``objects`` the records
    bucket's keys. Only what is really left is asked for, so a clean restart asks nothing:
    - a base item with ``purgeBelow`` and a version item of an older generation (other than
      the one ``recordAt`` names): the cut-over's purge (a MODIFY with that image);
    - a base item whose ``drop`` names an item or object still there: the write's drop;
    - items or objects of a bin with no base item: the bin delete's purge (a REMOVE).
    """
    bins: dict[str, dict[str, Any]] = {}
    for item in items:
        pk = item["pk"]["S"]
        if not pk.startswith(keys.BIN_PREFIX):
            continue
        held = bins.setdefault(keys.bin_id_from_pk(pk), {"base": None, "sks": set(), "objects": set()})
        if item["sk"]["S"] == keys.BIN_SK:
            held["base"] = item
        else:
            held["sks"].add(item["sk"]["S"])
    for key in objects:
        bin_id = keys.bin_id_from_blob_key(key)
        if bin_id is not None:
            bins.setdefault(bin_id, {"base": None, "sks": set(), "objects": set()})["objects"].add(key)
    records: list[dict[str, Any]] = []
    for bin_id, held in sorted(bins.items()):
        base_key = keys.bin_key(bin_id)
        base = held["base"]
        if base is None:
            records.append(_replayed("REMOVE", base_key, None, len(records)))
            continue
        image: dict[str, Any] = {}
        if "purgeBelow" in base:
            below, keep = int(base["purgeBelow"]["N"]), base.get("recordAt", {}).get("S")
            generations = ((keys.generation_of(sk), sk) for sk in held["sks"] if sk != keep)
            if any(generation is not None and generation < below for generation, _ in generations):
                image["purgeBelow"] = base["purgeBelow"]
                if keep is not None:
                    image["recordAt"] = base["recordAt"]
        if "drop" in base and set(base["drop"]["S"].split()) & (held["sks"] | held["objects"]):
            image["drop"] = base["drop"]
        if image:
            records.append(_replayed("MODIFY", base_key, image, len(records)))
    return records


def _replayed(event: str, key: dict[str, Any], image: dict[str, Any] | None, number: int) -> dict[str, Any]:
    change: dict[str, Any] = {
        "Keys": key,
        "SequenceNumber": f"restart-{number}",
        "StreamViewType": "NEW_AND_OLD_IMAGES",
    }
    if image is not None:
        change["NewImage"] = {**key, **image}
    return {"eventID": f"restart-{number}", "eventName": event, "eventSource": "aws:dynamodb", "dynamodb": change}


class StreamPoller:
    def __init__(self, table_name: str, endpoint_url: str | None = None, release: bool = False) -> None:
        import boto3

        self.table_name = table_name
        self._tables = boto3.client("dynamodb", endpoint_url=endpoint_url)
        self._streams = boto3.client("dynamodbstreams", endpoint_url=endpoint_url)
        self._iterators: dict[str, str | None] = {}
        self._arn = ""
        self._retries: list[tuple[dict[str, Any], int]] = []
        self.dead_letters: list[dict[str, Any]] = []
        self.delivered = 0
        self.release = release
        self.read = 0
        self._last_sequence: int | None = None
        self._next_refresh = 0.0

    def _refresh_shards(self) -> None:
        if self._iterators and time.monotonic() < self._next_refresh:
            return  # shards change rarely; describing the table each poll costs the emulator
        self._next_refresh = time.monotonic() + SHARD_REFRESH_SECONDS
        arn = self._arn = self._tables.describe_table(TableName=self.table_name)["Table"]["LatestStreamArn"]
        shards = self._streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]
        for shard in shards:
            shard_id = shard["ShardId"]
            if shard_id not in self._iterators:
                self._iterators[shard_id] = self._streams.get_shard_iterator(
                    StreamArn=arn, ShardId=shard_id, ShardIteratorType="TRIM_HORIZON"
                )["ShardIterator"]

    def _as_lambda_record(self, record: dict[str, Any], arn: str) -> dict[str, Any]:
        """The record as Lambda delivers it: JSON, epoch-second timestamps, base64 binaries."""

        def encode(value: Any) -> Any:
            if isinstance(value, datetime):
                return value.timestamp()
            if isinstance(value, bytes):
                return base64.b64encode(value).decode("ascii")
            raise TypeError(type(value).__name__)

        lambda_record: dict[str, Any] = json.loads(json.dumps(record, default=encode))
        lambda_record.setdefault("eventSource", "aws:dynamodb")
        lambda_record["eventSourceARN"] = arn
        return lambda_record

    def _read(self) -> list[dict[str, Any]]:
        self._refresh_shards()
        records: list[dict[str, Any]] = []
        for shard_id, iterator in list(self._iterators.items()):
            if iterator is None:
                continue
            page = self._streams.get_records(ShardIterator=iterator, Limit=1000)
            for record in page.get("Records", []):
                records.append(self._as_lambda_record(record, self._arn))
                sequence = int(record["dynamodb"]["SequenceNumber"])
                self._last_sequence = max(sequence, self._last_sequence or sequence)
            self._iterators[shard_id] = page.get("NextShardIterator")
        return records

    def _deliver(self, batch: list[tuple[dict[str, Any], int]]) -> list[tuple[dict[str, Any], int]]:
        event = {"Records": [record for record, _ in batch]}
        try:
            result = purge.lambda_handler(event, LocalContext(function_name="binvault-purge-local"))
            failed = {f["itemIdentifier"] for f in result.get("batchItemFailures", [])}
        except Exception:  # every record failed: Powertools raises instead of reporting
            log.warning("purge batch failed as a whole", exc_info=True)
            failed = {record["dynamodb"].get("SequenceNumber") for record, _ in batch}
        self.delivered += len(batch) - len(failed)
        retry = []
        for record, tries in batch:
            if record["dynamodb"].get("SequenceNumber") not in failed:
                continue
            if tries + 1 >= MAX_RETRIES:
                log.error("purge failed %d times, dead-lettered", tries + 1)
                self.dead_letters.append(record)
            else:
                retry.append((record, tries + 1))
        return retry

    def poll_once(self) -> int:
        """Read what the stream has, deliver matching records; returns how many were read."""
        records = self._read()
        self.read += len(records)
        fresh = [r for r in records if purge.purge_target(r) is not None]
        pending = self._retries + [(record, 0) for record in fresh]
        self._retries = []
        for start in range(0, len(pending), BATCH_SIZE):
            self._retries.extend(self._deliver(pending[start : start + BATCH_SIZE]))
        if self.release and records and self._last_sequence is not None:
            # Delivered, or held in ``_retries``: the emulator's copy is not needed again.
            from binvault.local.moto_fixes import release_stream_records

            release_stream_records(self.table_name, self._last_sequence)
        return len(fresh)

    def enqueue(self, records: list[dict[str, Any]]) -> None:
        """Deliver these records (``pending_purges``) with the next poll, retried like any."""
        self._retries.extend((record, 0) for record in records)

    def drain(self, max_rounds: int = 50) -> None:
        """Poll until the stream is caught up and no retry is pending (for tests)."""
        for _ in range(max_rounds):
            if self.poll_once() == 0 and not self._retries:
                return

    def run(
        self,
        stop: threading.Event,
        interval: float = 0.25,
        wake: threading.Event | None = None,
        idle_interval: float = 5.0,
        on_idle: Callable[[], None] | None = None,
    ) -> None:
        """Poll until ``stop``: every ``interval`` while records or retries are pending
        (however many writes there are: the poller shares the emulator's process), backing
        off to ``idle_interval`` while idle, when a set ``wake`` polls at once. ``on_idle``
        runs each time the stream is caught up again after records arrived."""
        signal = wake or stop
        delay = interval
        busy = False
        while not stop.is_set():
            if wake is not None:
                wake.clear()  # a write from here on wakes the wait below
            before = self.read
            try:
                self.poll_once()
            except Exception:  # the poller must outlive a bad round, as Lambda's would
                log.exception("stream poll failed")
            if self.read > before or self._retries:
                busy, delay = True, interval
                stop.wait(interval)
            else:
                if busy and on_idle is not None:
                    on_idle()
                busy, delay = False, min(delay * 2, idle_interval)
                signal.wait(delay)
