"""Usage logs in the records bucket (S3): the only code that knows where they live.

    logs/<accountId>/<YYYY-MM-DD>/<batch>.jsonl.gz   one compressed batch of an account's
                                                     log lines of that day (UTC), written
                                                     by the usage-logs function
    exports/<accountId>/<YYYY-MM-DD>/<requestId>.zip a day's zip too big for a Lambda
                                                     response, read through a presigned URL

Both prefixes expire by the bucket's lifecycle rules (template.yaml: UsageLogRetentionDays
for logs/, a day for exports/). Dates are ISO in keys so that S3 lists them in order; the
API speaks JSONBin's DD-MM-YYYY (logic/usage_logs.py converts).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from binvault.dal import blobs

LOG_PREFIX = "logs/"
EXPORT_PREFIX = "exports/"


def account_prefix(account_id: str) -> str:
    return f"{LOG_PREFIX}{account_id}/"


def day_prefix(account_id: str, day: str) -> str:
    return f"{account_prefix(account_id)}{day}/"


def batch_key(account_id: str, day: str, batch: str) -> str:
    return f"{day_prefix(account_id, day)}{batch}.jsonl.gz"


def export_key(account_id: str, day: str, request_id: str) -> str:
    return f"{EXPORT_PREFIX}{account_id}/{day}/{request_id}.zip"


def put_batch(key: str, body: bytes) -> None:
    """Write one batch. Its key is derived from the log events it holds, so a retried batch
    writes the same bytes under the same key: never twice."""
    blobs.s3().put_object(Bucket=blobs._bucket(), Key=key, Body=body, ContentType="application/gzip")


def days(account_id: str) -> list[str]:
    """The days (YYYY-MM-DD) the account has logs for, oldest first: one ListObjectsV2 page
    per 1000 days, the day folders as common prefixes (no object is read)."""
    prefix = account_prefix(account_id)
    request: dict[str, Any] = {"Bucket": blobs._bucket(), "Prefix": prefix, "Delimiter": "/"}
    found: list[str] = []
    while True:
        try:
            page = blobs.s3().list_objects_v2(**request)
        except Exception as error:
            blobs._unavailable_on_transient(error)
            raise
        found += [entry["Prefix"][len(prefix) :].rstrip("/") for entry in page.get("CommonPrefixes", [])]
        if not page.get("IsTruncated"):
            return sorted(found)
        request["ContinuationToken"] = page["NextContinuationToken"]


def batches(account_id: str, day: str) -> Iterator[bytes]:
    """The compressed batches of that day, in key order (a batch gone meanwhile is skipped)."""
    for key, _ in blobs.listing(day_prefix(account_id, day)):
        body = blobs.get(key)
        if body is not None:
            yield body


def put_export(key: str, body: bytes) -> None:
    try:
        blobs.s3().put_object(Bucket=blobs._bucket(), Key=key, Body=body, ContentType="application/zip")
    except Exception as error:
        blobs._unavailable_on_transient(error)
        raise


def presigned_url(key: str, seconds: int, filename: str) -> str:
    url: str = blobs.s3().generate_presigned_url(
        "get_object",
        Params={
            "Bucket": blobs._bucket(),
            "Key": key,
            "ResponseContentType": "application/zip",
            "ResponseContentDisposition": f'attachment; filename="{filename}"',
        },
        ExpiresIn=seconds,
    )
    return url
