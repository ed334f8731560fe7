"""API Gateway REST proxy events (payload v1, as `sam local generate-event apigateway
aws-proxy` prints them) and a Lambda context, for the local server and the tests."""

from __future__ import annotations

import base64
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

STAGE = "v3"


def rest_event(
    method: str,
    path: str,
    headers: Mapping[str, str] | Sequence[tuple[str, str]] | None = None,
    body: str | bytes | None = None,
    query: Mapping[str, str] | Sequence[tuple[str, str]] | None = None,
    source_ip: str = "127.0.0.1",
) -> dict[str, Any]:
    """One REST proxy event for ``method path`` (path without the stage, e.g. ``/b/<id>``).

    Headers and query parameters may repeat (give pairs); a body that is not UTF-8 is
    base64-encoded, as API Gateway does for binary payloads.
    """
    header_pairs = list(headers.items()) if isinstance(headers, Mapping) else list(headers or [])
    query_pairs = list(query.items()) if isinstance(query, Mapping) else list(query or [])
    multi_headers: dict[str, list[str]] = {}
    for name, value in header_pairs:
        multi_headers.setdefault(name, []).append(value)
    multi_query: dict[str, list[str]] = {}
    for name, value in query_pairs:
        multi_query.setdefault(name, []).append(value)

    is_base64 = False
    text: str | None
    if body is None or body in (b"", ""):
        text = None
    elif isinstance(body, bytes):
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            text, is_base64 = base64.b64encode(body).decode("ascii"), True
    else:
        text = body

    request_id = str(uuid.uuid4())
    return {
        "resource": "/{proxy+}",
        "path": path,
        "httpMethod": method.upper(),
        "headers": {name: values[-1] for name, values in multi_headers.items()} or None,
        "multiValueHeaders": multi_headers or None,
        "queryStringParameters": {k: v[-1] for k, v in multi_query.items()} or None,
        "multiValueQueryStringParameters": multi_query or None,
        "pathParameters": {"proxy": path.lstrip("/")},
        "stageVariables": None,
        "requestContext": {
            "accountId": "123456789012",
            "resourceId": "123456",
            "stage": STAGE,
            "requestId": request_id,
            "requestTime": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime()),
            "requestTimeEpoch": int(time.time() * 1000),
            "identity": {"sourceIp": source_ip, "userAgent": dict(header_pairs).get("User-Agent")},
            "path": f"/{STAGE}{path}",
            "resourcePath": "/{proxy+}",
            "httpMethod": method.upper(),
            "apiId": "local",
            "protocol": "HTTP/1.1",
        },
        "body": text,
        "isBase64Encoded": is_base64,
    }


@dataclass
class LocalContext:
    """What the Lambda runtime passes as ``context``; enough for Powertools."""

    function_name: str = "binvault-local"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:binvault-local"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    function_version: str = "$LATEST"
    log_group_name: str = "/aws/lambda/binvault-local"
    log_stream_name: str = "local"
    deadline_ms: float = field(default_factory=lambda: time.time() * 1000 + 28_000)

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int(self.deadline_ms - time.time() * 1000))
