"""The embedded DynamoDB endpoint: moto's WSGI app behind an HTTP/1.1 server that keeps
connections alive.

moto's own ``ThreadedMotoServer`` runs werkzeug's development server, which sends
``Connection: close`` on every response, so each DynamoDB call of the API paid a new TCP
connection (28-35% of a request's time), and it binds in a background thread, so a busy
port only printed "Address already in use" there while the caller waited forever. This
server binds in the caller (a busy port raises ``OSError`` at once), keeps connections
open, and answers with a Content-Length. Its clients are botocore's, which always send
a Content-Length body, so that is all it reads; anything else is refused.
"""

from __future__ import annotations

import io
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from binvault.local.durable import WsgiApp, call_wsgi

MAX_BODY_BYTES = 64 * 1024 * 1024


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server: DynamoDBServer

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _serve(self) -> None:
        length_header = self.headers.get("Content-Length") or "0"
        if not length_header.isdigit() or int(length_header) > MAX_BODY_BYTES:
            self.send_error(400, "a Content-Length body is required")
            self.close_connection = True
            return
        raw = self.rfile.read(int(length_header))
        path, _, query = self.path.partition("?")
        environ: dict[str, Any] = {
            "REQUEST_METHOD": self.command,
            "SCRIPT_NAME": "",
            "PATH_INFO": path,
            "QUERY_STRING": query,
            "SERVER_NAME": self.server.server_address[0],
            "SERVER_PORT": str(self.server.server_address[1]),
            "SERVER_PROTOCOL": "HTTP/1.1",
            "REMOTE_ADDR": self.client_address[0],
            "CONTENT_LENGTH": str(len(raw)),
            "wsgi.input": io.BytesIO(raw),
            "wsgi.errors": sys.stderr,
            "wsgi.url_scheme": "http",
            "wsgi.version": (1, 0),
            "wsgi.multithread": True,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
        }
        for name, value in self.headers.items():
            key = name.upper().replace("-", "_")
            if key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
                environ[key] = value
            else:
                environ["HTTP_" + key] = value
        status, headers, body = call_wsgi(self.server.app, environ)
        code, _, reason = status.partition(" ")
        self.send_response(int(code), reason)
        for name, value in headers:
            if name.lower() not in ("content-length", "connection", "transfer-encoding"):
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_OPTIONS = do_PATCH = _serve


class DynamoDBServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, host: str, port: int, app: WsgiApp) -> None:
        self.app = app
        super().__init__((host, port), _Handler)


def moto_app() -> WsgiApp:
    """moto's WSGI application, the one its own server runs."""
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    return DomainDispatcherApplication(create_backend_app)  # type: ignore[no-any-return]
