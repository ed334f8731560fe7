"""The local API Gateway: an HTTP server (werkzeug's, the one moto's server already uses)
that turns each request into an API Gateway REST proxy event and hands it to a Lambda
execution environment (``binvault.local.pool``), as API Gateway does when deployed.

What API Gateway answers itself is answered here, in its shape: JSON ``{"message"}``
bodies with the API's CORS headers, and its limits (413 for a body over 10 MB, 414 for
a request line over 8 KB, 431 for request line and headers over 10 KB, 404 outside the
stage). Framing is werkzeug's (Content-Length, ``Transfer-Encoding: chunked``); what it
cannot frame (a Content-Length that is not a number, both framings at once) is refused
with 400 before any byte of the body is read, so nothing is ever stored from it.
"""

from __future__ import annotations

import base64
import json
import logging
import socket
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler
from werkzeug.serving import make_server as werkzeug_server

from binvault.exceptions import GatewayPayloadTooLarge, RouteNotFound
from binvault.local.events import STAGE, rest_event

log = logging.getLogger("binvault.local.server")

# API Gateway's own limits (REST APIs): the payload, and request line + header values.
MAX_PAYLOAD_BYTES = 10 * 1024 * 1024
MAX_REQUEST_LINE_BYTES = 8 * 1024
MAX_HEADER_BYTES = 10 * 1024
JSON = "application/json; charset=utf-8"
CORS = {"Access-Control-Allow-Origin": "*", "Access-Control-Expose-Headers": "ETag, Retry-After"}
# The contract's texts come from their exception classes; the rest imitate API Gateway's own.
MESSAGES = {
    400: "Bad request",
    404: RouteNotFound.message,
    413: GatewayPayloadTooLarge.message,
    414: "Request URI too long",
    431: "Request header fields too large",
    500: "Internal server error",
    502: "Internal server error",
    504: "Endpoint request timed out",
}

Invoke = Callable[[dict[str, Any]], dict[str, Any]]
Answer = tuple[int, list[tuple[str, str]], bytes]


class InvocationFailed(Exception):
    """The function crashed or did not answer (API Gateway's 502 / 504)."""

    def __init__(self, status: int) -> None:
        super().__init__(MESSAGES[status])
        self.status = status


def gateway_error(status: int, message: str | None = None, **headers: str) -> Answer:
    body = json.dumps({"message": message or MESSAGES[status]}).encode()
    extra = [(name.replace("_", "-"), value) for name, value in headers.items()]
    return status, [("Content-Type", JSON), *CORS.items(), *extra], body


class ApiGateway:
    """The WSGI application: framing and limits, then one event per request to ``invoke``."""

    def __init__(self, invoke: Invoke) -> None:
        self.invoke = invoke

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        try:
            status, headers, body = self.answer(environ)
        except Exception:
            log.exception("local API Gateway failed")
            status, headers, body = gateway_error(500)
        headers = [(n, v) for n, v in headers if n.lower() != "content-length"]
        headers.append(("Content-Length", str(len(body))))
        start_response(f"{status} {_reason(status)}", headers)
        return [b"" if environ["REQUEST_METHOD"] == "HEAD" else body]

    def answer(self, environ: dict[str, Any]) -> Answer:
        raw_target = str(environ.get("REQUEST_URI") or "/").encode("latin-1").decode("utf-8", "replace")
        pairs: list[tuple[str, str]] = environ.get("binvault.headers") or []
        if len(raw_target) > MAX_REQUEST_LINE_BYTES:
            return gateway_error(414)
        if len(raw_target) + sum(len(n) + len(v) + 4 for n, v in pairs) > MAX_HEADER_BYTES:
            return gateway_error(431)
        body = self._body(environ)
        if isinstance(body, tuple):
            return body
        url = urlsplit(raw_target)
        prefix = f"/{STAGE}"
        if url.path in (f"{prefix}/swagger", f"{prefix}/openapi.json"):
            from binvault.local.swagger import answer as swagger

            return swagger(environ["REQUEST_METHOD"], url.path, url.query, environ.get("HTTP_HOST"))
        if not (url.path == prefix or url.path.startswith(prefix + "/")):
            return gateway_error(404)
        event = rest_event(
            environ["REQUEST_METHOD"],
            url.path[len(prefix) :] or "/",
            headers=pairs,
            body=body,
            query=parse_qsl(url.query, keep_blank_values=True),
            source_ip=str(environ.get("REMOTE_ADDR") or "127.0.0.1"),
        )
        try:
            result = self.invoke(event)
        except InvocationFailed as failure:
            return gateway_error(failure.status)
        payload = result.get("body") or ""
        raw = base64.b64decode(payload) if result.get("isBase64Encoded") else payload.encode()
        headers = dict(result.get("headers") or {})
        for name, values in (result.get("multiValueHeaders") or {}).items():
            headers[name] = ", ".join(values)
        return int(result["statusCode"]), list(headers.items()), raw

    @staticmethod
    def _body(environ: dict[str, Any]) -> bytes | Answer:
        """The request body, or the gateway's answer when it cannot or may not be read."""
        length = environ.get("CONTENT_LENGTH")
        chunked = environ.get("wsgi.input_terminated", False)
        encoding = environ.get("HTTP_TRANSFER_ENCODING")
        if encoding is not None and (not chunked or length is not None):
            return gateway_error(400, "Invalid Transfer-Encoding")
        if chunked:
            try:
                body: bytes = environ["wsgi.input"].read(MAX_PAYLOAD_BYTES + 1)
            except OSError:
                return gateway_error(400, "Invalid chunked body")
            return gateway_error(413) if len(body) > MAX_PAYLOAD_BYTES else body
        if length is None or length == "":
            return b""
        if not length.isdigit():
            return gateway_error(400, "Invalid Content-Length")
        if int(length) > MAX_PAYLOAD_BYTES:
            return gateway_error(413)
        body = environ["wsgi.input"].read(int(length)) if int(length) else b""
        if len(body) != int(length):
            return gateway_error(400, "Incomplete body")
        return body


def _reason(status: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


class _RequestHandler(WSGIRequestHandler):
    """werkzeug's handler, keeping the raw header list and answering its own refusals
    (a request line or header over http.server's 64 KB, a malformed request line) in JSON."""

    def make_environ(self) -> dict[str, Any]:
        environ: dict[str, Any] = super().make_environ()
        environ["binvault.headers"] = list(self.headers.items())
        return environ

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        status, headers, body = gateway_error(code if code in MESSAGES else 400)
        if self.request_version == "HTTP/0.9":  # an unparsable request line: answer in HTTP/1.1
            self.request_version = "HTTP/1.1"
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        log.debug("%s %s %s", self.address_string(), self.requestline, code)

    def log_error(self, format: str, *args: Any) -> None:
        log.debug(format, *args)


def listening_socket(host: str, port: int) -> socket.socket:
    """Bound and listening, or OSError naming the port (werkzeug would sys.exit instead)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
    except OSError as error:
        sock.close()
        raise OSError(error.errno, f"cannot listen on {host}:{port}: {error.strerror}") from error
    return sock


def make_server(host: str, port: int, invoke: Invoke, sock: socket.socket | None = None) -> BaseWSGIServer:
    """Bind now (a busy port raises OSError here), or serve ``sock``, already listening;
    ``serve_forever`` in a thread."""
    sock = sock or listening_socket(host, port)
    try:
        return werkzeug_server(
            host, port, ApiGateway(invoke), threaded=True, request_handler=_RequestHandler, fd=sock.fileno()
        )
    finally:
        sock.close()  # werkzeug holds its own duplicate (socket.fromfd)
