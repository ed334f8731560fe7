"""Records too big for an item: objects in the stack's records bucket (S3).

An object is written *before* any item points at it and deleted only *after* nothing can
point at it any more, so a pointer a reader can follow never dangles:

- written by ``dal.records.store`` under ``b/<binId>/<recordId>`` (a fresh id per write:
  a retried or racing write never overwrites an object anything points to);
- deleted by the purge (``dal.purge``): with the version items of a cut-over's old
  generations (object first, item second, so a crash in between leaves an unreadable
  item that the retry finds again), with every item of a deleted bin, and when a write
  names it in the base item's ``drop``;
- and, for what a crash between the S3 write and the DynamoDB write left behind, by the
  orphan sweep (``dal.purge.sweep_orphans``): objects no item points to, older than a
  grace period far longer than any request.

The client is built lazily and cached like ``dal.client.dynamodb()``, so a request whose
records all fit in items never imports or builds anything S3-related.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import datetime
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from binvault.dal.client import new_client
from binvault.exceptions import ServiceUnavailable
from binvault.models.settings import get_settings

if TYPE_CHECKING:
    from botocore.client import BaseClient

# S3's answers that mean "try again later" (botocore's standard mode retries them first).
TRANSIENT_CODES = frozenset({"SlowDown", "InternalError", "ServiceUnavailable", "RequestTimeout", "503", "500"})
DELETE_BATCH = 1000  # DeleteObjects' limit


@lru_cache(maxsize=1)
def _create_client() -> BaseClient:
    settings = get_settings()
    return new_client(
        "s3",
        settings.s3_endpoint_url,
        # An emulator (the local stack's moto) answers on one host: path-style addressing.
        s3={"addressing_style": "path" if settings.s3_endpoint_url else "auto"},
        # what requests are signed with anyway; said explicitly so that presigned URLs (a
        # big usage log, dal/usage_logs.py) are SigV4 too, the only kind every region takes
        signature_version="s3v4",
    )


_client_lock = threading.Lock()


def s3() -> BaseClient:
    """The process's one S3 client, built on first use (never for small records)."""
    with _client_lock:
        return _create_client()


s3.cache_clear = _create_client.cache_clear  # type: ignore[attr-defined]


def _bucket() -> str:
    return get_settings().bucket_name


def _code(error: Exception) -> str:
    response = getattr(error, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))


def _unavailable_on_transient(error: Exception) -> None:
    from botocore.exceptions import ClientError, ConnectionError, HTTPClientError

    if isinstance(error, (ConnectionError, HTTPClientError)) or (
        isinstance(error, ClientError) and _code(error) in TRANSIENT_CODES
    ):
        raise ServiceUnavailable() from error


def put(key: str, body: bytes) -> None:
    """Write an object (before any item points at it). Idempotent: same key, same bytes."""
    try:
        s3().put_object(Bucket=_bucket(), Key=key, Body=body, ContentType="application/octet-stream")
    except Exception as error:
        _unavailable_on_transient(error)
        raise


def get(key: str) -> bytes | None:
    """An object's bytes, or None when it is gone (a reader followed a pointer that a
    concurrent write has since dropped: it reads the bin again)."""
    from botocore.exceptions import ClientError

    try:
        body: bytes = s3().get_object(Bucket=_bucket(), Key=key)["Body"].read()
    except ClientError as error:
        if _code(error) in ("NoSuchKey", "404"):
            return None
        _unavailable_on_transient(error)
        raise
    except Exception as error:
        _unavailable_on_transient(error)
        raise
    return body


def delete(keys: list[str]) -> None:
    """Delete objects (absent ones are fine: deleting is idempotent)."""
    for start in range(0, len(keys), DELETE_BATCH):
        chunk = keys[start : start + DELETE_BATCH]
        try:
            response = s3().delete_objects(
                Bucket=_bucket(), Delete={"Objects": [{"Key": k} for k in chunk], "Quiet": True}
            )
        except Exception as error:
            _unavailable_on_transient(error)
            raise
        errors = response.get("Errors") or []
        if errors:
            raise RuntimeError(f"{len(errors)} objects not deleted, e.g. {errors[0].get('Code')}")


def listing(prefix: str) -> Iterator[tuple[str, datetime]]:
    """(key, last modified) of every object under ``prefix``."""
    request: dict[str, Any] = {"Bucket": _bucket(), "Prefix": prefix}
    while True:
        try:
            page = s3().list_objects_v2(**request)
        except Exception as error:
            _unavailable_on_transient(error)
            raise
        for entry in page.get("Contents", []):
            yield entry["Key"], entry["LastModified"]
        if not page.get("IsTruncated"):
            return
        request["ContinuationToken"] = page["NextContinuationToken"]


def ensure_bucket() -> None:
    """Create the bucket when it is missing: the local stack and the tests (the template
    creates it when deployed)."""
    from botocore.exceptions import ClientError

    client = s3()
    try:
        client.head_bucket(Bucket=_bucket())
    except ClientError:
        client.create_bucket(Bucket=_bucket())
