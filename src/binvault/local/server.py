"""A local HTTP server that turns each request into an API Gateway REST proxy event and
serves it through the real ``lambda_handler``: what API Gateway does when deployed."""

from __future__ import annotations

import base64
import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from binvault.local.events import STAGE, LocalContext, rest_event

log = logging.getLogger("binvault.local.server")
_INVOKE_LOCK = threading.Lock()
# API Gateway refuses payloads above 10 MB before the function sees them.
MAX_PAYLOAD_BYTES = 10 * 1024 * 1024


class ApiGatewayHandler(BaseHTTPRequestHandler):
    server_version = "binvault-local"
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes; with Nagle on, a kept-alive client waits ~40 ms
    # for the delayed ACK before the body arrives.
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s " + format, self.address_string(), *args)

    def _send(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _gateway_error(self, status: int, message: str) -> None:
        body = json.dumps({"message": message}).encode()
        # the CORS headers template.yaml's GatewayResponses send, so a browser can read the error
        cors = {"Access-Control-Allow-Origin": "*", "Access-Control-Expose-Headers": "ETag, Retry-After"}
        self._send(status, {"Content-Type": "application/json; charset=utf-8", **cors}, body)

    def _serve(self) -> None:
        url = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_PAYLOAD_BYTES:
            self.close_connection = True
            self._gateway_error(413, "Request body too large")
            return
        body = self.rfile.read(length) if length else b""
        prefix = f"/{STAGE}"
        if url.path in (f"{prefix}/swagger", f"{prefix}/openapi.json"):
            from binvault.local.swagger import serve_swagger

            serve_swagger(self)
            return
        if not (url.path == prefix or url.path.startswith(prefix + "/")):
            self._gateway_error(404, "Route not found")
            return
        path = url.path[len(prefix) :] or "/"
        event = rest_event(
            self.command,
            path,
            headers=[(name, value) for name, value in self.headers.items()],
            body=body,
            query=parse_qsl(url.query, keep_blank_values=True),
            source_ip=self.client_address[0],
        )
        from binvault.handlers.api import lambda_handler

        # One event at a time, as in one Lambda execution environment: the handler module's
        # state (the resolver's current event, the metrics buffer) is per process.
        with _INVOKE_LOCK:
            result = lambda_handler(event, LocalContext())
        payload = result.get("body") or ""
        raw = base64.b64decode(payload) if result.get("isBase64Encoded") else payload.encode()
        headers = dict(result.get("headers") or {})
        for name, values in (result.get("multiValueHeaders") or {}).items():
            headers[name] = ", ".join(values)
        self._send(int(result["statusCode"]), headers, raw)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_HEAD = do_TRACE = _serve


def make_server(host: str, port: int) -> ThreadingHTTPServer:
    server = ThreadingHTTPServer((host, port), ApiGatewayHandler)
    server.daemon_threads = True
    return server
