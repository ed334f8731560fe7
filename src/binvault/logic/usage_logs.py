"""Usage logs: who called what, per account and day (JSONBin's ``GET /l``, ``GET /l/{date}``).

Nothing on the request path writes them. The API logs one structured line per request
whose account is known (``entry``, logged by handlers/api.py as ``{"message": "usage",
"usage": {...}}``); CloudWatch Logs hands those lines, through the template's subscription
filter, to the usage-logs function, which calls ``store_subscription_event``: the lines are
grouped by account and day and each group is written as one gzip'd JSON-lines object whose
name is derived from its log events' ids, so a retried delivery writes nothing twice. The
local stack builds the same subscription events from its own log output
(binvault.local.usage_logs). The routes read the objects back (``list_days``, ``download``).
docs/usage-logs.md says why and what it costs.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import UTC, date, datetime
from typing import Any, NamedTuple

from binvault.dal import usage_logs
from binvault.exceptions import InvalidLogDate, MissingMasterKey, NoUsageLogs, UsageLogNotFound
from binvault.logic.auth import Caller, authenticate
from binvault.models.bins import Credentials, Outcome
from binvault.models.settings import get_settings

USAGE_MESSAGE = "usage"  # the log line's "message": what the subscription filter selects
USAGE_SERVICE = "binvault-usage"  # the line's "service" (its own logger, always at INFO)
USER_AGENT_CHARS = 512
# A zip up to this size is answered inline: base64 (4/3) plus the envelope stays under
# Lambda's 6 MB response limit. A bigger one is answered with a presigned S3 URL.
INLINE_ZIP_BYTES = 4_500_000
PRESIGNED_URL_SECONDS = 300
DATE = re.compile(r"([0-9]{2})-([0-9]{2})-([0-9]{4})")  # ASCII digits: \\d also takes other scripts' digits
ACCOUNT_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
# The path parameters a line names, by their log field.
ID_FIELDS = {
    "bin_id": "binId",
    "last_bin_id": "lastBinId",
    "collection_id": "collectionId",
    "schema_doc_id": "schemaDocId",
    "access_key_id": "accessKeyId",
}


# ---- the log line (request path: formatting only, no I/O) ---------------------------------


def truncate_ip(ip: str) -> str:
    """The network part only: IPv4 /24 (203.0.113.7 -> 203.0.113.0), IPv6 /48."""
    import ipaddress

    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return ""
    prefix = 24 if address.version == 4 else 48
    return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False).network_address)


def entry(
    event: dict[str, Any],
    status: int,
    who: Caller,
    route: str | None,
    ids: dict[str, str],
) -> dict[str, Any]:
    """One request's usage line, from the API Gateway event and the answer.

    ``route`` is the route's template (``/b/{binId}``, None when no route matched) and
    ``ids`` the path parameters by name. Never a key nor its hash: ``key`` is "master" or
    the access key's id.
    """
    context = event.get("requestContext") or {}
    identity = context.get("identity") or {}
    epoch_ms = context.get("requestTimeEpoch")
    moment = datetime.fromtimestamp(epoch_ms / 1000, UTC) if isinstance(epoch_ms, int) else datetime.now(UTC)
    ip = str(identity.get("sourceIp") or "")
    if get_settings().usage_log_truncate_ip:
        ip = truncate_ip(ip)
    line: dict[str, Any] = {
        "time": moment.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "method": str(event.get("httpMethod") or ""),
        "route": route or str(event.get("path") or "")[:256],
        "status": status,
        "ip": ip,
        "userAgent": str(identity.get("userAgent") or "")[:USER_AGENT_CHARS],
        "key": who.key,
        "requestId": str(context.get("requestId") or ""),
        "accountId": who.account_id,
    }
    for name, value in ids.items():
        line[ID_FIELDS.get(name, name)] = value
    return line


# ---- the subscriber: CloudWatch Logs subscription event -> S3 objects ---------------------


class Batch(NamedTuple):
    key: str
    lines: list[str]


def decode_subscription_event(event: dict[str, Any]) -> dict[str, Any]:
    """``{"awslogs": {"data": base64(gzip(json))}}`` -> the data message."""
    import base64
    import gzip

    data: dict[str, Any] = json.loads(gzip.decompress(base64.b64decode(event["awslogs"]["data"])))
    return data


def encode_subscription_event(message: dict[str, Any]) -> dict[str, Any]:
    """The inverse, as CloudWatch Logs builds it (the local stack sends these)."""
    import base64
    import gzip

    return {"awslogs": {"data": base64.b64encode(gzip.compress(json.dumps(message).encode())).decode("ascii")}}


def usage_of(message: str) -> dict[str, Any] | None:
    """The usage line a log event carries, or None for any other line (the filter selects
    usage lines; anything else is skipped, never an error that would stall the stream)."""
    try:
        logged = json.loads(message)
    except ValueError:
        return None
    if not isinstance(logged, dict) or logged.get("message") != USAGE_MESSAGE:
        return None
    line = logged.get("usage")
    if not isinstance(line, dict) or not ACCOUNT_ID.fullmatch(str(line.get("accountId", ""))):
        return None
    if not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T.*", str(line.get("time", ""))):
        return None
    return line


def batches_of(data: dict[str, Any]) -> list[Batch]:
    """The log events grouped by account and day, each group named by its events' ids."""
    if data.get("messageType") != "DATA_MESSAGE":
        return []  # CONTROL_MESSAGE: CloudWatch Logs checking the destination is reachable
    groups: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for log_event in data.get("logEvents", []):
        line = usage_of(str(log_event.get("message", "")))
        if line is None:
            continue
        day = line["time"][:10]
        groups.setdefault((line["accountId"], day), []).append((str(log_event["id"]), json.dumps(line)))
    found = []
    for (account_id, day), events in sorted(groups.items()):
        events.sort()
        name = hashlib.sha256("\n".join(event_id for event_id, _ in events).encode()).hexdigest()[:32]
        found.append(Batch(usage_logs.batch_key(account_id, day, name), [line for _, line in events]))
    return found


def compress(lines: list[str]) -> bytes:
    import gzip

    # mtime=0: the same lines always give the same bytes (a retried batch is identical)
    return gzip.compress(("\n".join(lines) + "\n").encode(), mtime=0)


def store_subscription_event(event: dict[str, Any]) -> list[str]:
    """Write a subscription event's usage lines to S3; the keys written. Any failure raises,
    so Lambda retries the whole event; what was already written is rewritten identically."""
    written = []
    for batch in batches_of(decode_subscription_event(event)):
        usage_logs.put_batch(batch.key, compress(batch.lines))
        written.append(batch.key)
    return written


# ---- the routes -------------------------------------------------------------------------


def log_date(value: str) -> date:
    """A path's DD-MM-YYYY (JSONBin's form), checked before any I/O."""
    found = DATE.fullmatch(value)
    if found is None:
        raise InvalidLogDate()
    try:
        return date(int(found[3]), int(found[2]), int(found[1]))
    except ValueError:
        raise InvalidLogDate() from None


def jsonbin_date(day: date) -> str:
    return day.strftime("%d-%m-%Y")


def _account(master_key: str | None) -> str:
    if master_key is None:
        raise MissingMasterKey()
    return authenticate(Credentials(master_key=master_key))  # charged like every request


def list_days(master_key: str | None) -> Outcome:
    account_id = _account(master_key)
    found = usage_logs.days(account_id)
    if not found:
        raise NoUsageLogs()
    return Outcome({"logs": [jsonbin_date(date.fromisoformat(day)) for day in found]})


class Download(NamedTuple):
    """A day's zip (``body``), or where to fetch it when too big to answer (``url``)."""

    filename: str
    body: bytes | None = None
    url: str | None = None


def day_zip(account_id: str, day: date) -> bytes | None:
    """The day's lines, oldest first, as one JSON-lines file in a zip; None: no log that day."""
    import gzip
    import io
    import zipfile

    lines: list[tuple[str, str]] = []
    for batch in usage_logs.batches(account_id, day.isoformat()):
        for text in gzip.decompress(batch).decode().splitlines():
            if text:
                lines.append((json.loads(text).get("time", ""), text))
    if not lines:
        return None
    lines.sort()
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(f"{jsonbin_date(day)}.jsonl", "".join(f"{text}\n" for _, text in lines))
    return out.getvalue()


def download(master_key: str | None, day: date, request_id: str) -> Download:
    account_id = _account(master_key)
    body = day_zip(account_id, day)
    if body is None:
        raise UsageLogNotFound(jsonbin_date(day))
    filename = f"{jsonbin_date(day)}.zip"
    if len(body) <= INLINE_ZIP_BYTES:
        return Download(filename, body=body)
    key = usage_logs.export_key(account_id, day.isoformat(), re.sub(r"[^A-Za-z0-9-]", "", request_id) or "export")
    usage_logs.put_export(key, body)
    return Download(filename, url=usage_logs.presigned_url(key, PRESIGNED_URL_SECONDS, filename))
