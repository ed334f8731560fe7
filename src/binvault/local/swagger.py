"""Swagger UI for the local stack: GET /v3/swagger shows the API's OpenAPI document, which
GET /v3/openapi.json serves (both paths come here; see ``answer``).

Local only: the deployed API has no such routes. The document is generated from the code
(``binvault.openapi``) on the first request, so it is always the running code's, and its
first server is this local stack, so "Try it out" calls the API that served the page.

The Swagger UI files are the ones Powertools ships (aws_lambda_powertools/event_handler/
openapi/swagger_ui), served from this process: the page works offline and needs no CDN.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from binvault.exceptions import MethodNotAllowed, RouteNotFound
from binvault.local.events import STAGE

JSON = "application/json; charset=utf-8"
ASSETS = {
    "js": ("swagger-ui-bundle.min.js", "application/javascript; charset=utf-8"),
    "css": ("swagger-ui.min.css", "text/css; charset=utf-8"),
}
_HOST = re.compile(r"[A-Za-z0-9.\-]+(:[0-9]{1,5})?|\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?")

PAGE = """<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>binvault API (local)</title>
  <link rel="stylesheet" href="/{stage}/swagger?asset=css">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="/{stage}/swagger?asset=js"></script>
  <script>
    window.ui = SwaggerUIBundle({{
      url: "/{stage}/openapi.json",
      dom_id: "#swagger-ui",
      deepLinking: true,
      persistAuthorization: false
    }});
  </script>
</body>
</html>
"""


@lru_cache(maxsize=1)
def _document() -> dict[str, Any]:
    # Imported here: it loads pydantic, which only this local page ever needs.
    from binvault_docs.openapi import build

    return build()


def document_for(host: str | None) -> dict[str, Any]:
    """The OpenAPI document with this stack listed first among the servers."""
    document = dict(_document())
    if host and _HOST.fullmatch(host):
        here = {"url": f"http://{host}/{STAGE}", "description": "This local stack"}
        document["servers"] = [here, *(s for s in document["servers"] if s["url"] != here["url"])]
    return document


def _asset(name: str) -> Path | None:
    import aws_lambda_powertools

    if name not in ASSETS:
        return None
    path = Path(aws_lambda_powertools.__file__).parent / "event_handler" / "openapi" / "swagger_ui" / ASSETS[name][0]
    return path if path.is_file() else None


Answer = tuple[int, list[tuple[str, str]], bytes]
_CORS = [("Access-Control-Allow-Origin", "*"), ("Access-Control-Expose-Headers", "ETag, Retry-After")]


def _message(status: int, message: str, *headers: tuple[str, str]) -> Answer:
    return status, [("Content-Type", JSON), *_CORS, *headers], json.dumps({"message": message}).encode()


def answer(method: str, path: str, query: str, host: str | None) -> Answer:
    """GET /v3/swagger (the page, or ``?asset=js|css``) or GET /v3/openapi.json."""
    if method not in ("GET", "HEAD"):
        return _message(405, MethodNotAllowed.message, ("Allow", "GET, HEAD"))
    if path.endswith("/openapi.json"):
        body = json.dumps(document_for(host), indent=2, ensure_ascii=False).encode()
        return 200, [("Content-Type", JSON), ("Cache-Control", "no-store")], body
    asset = parse_qs(query).get("asset")
    if asset:
        found = _asset(asset[0])
        if found is None:
            return _message(404, RouteNotFound.message)
        return 200, [("Content-Type", ASSETS[asset[0]][1]), ("Cache-Control", "max-age=3600")], found.read_bytes()
    page = PAGE.format(stage=STAGE).encode()
    return 200, [("Content-Type", "text/html; charset=utf-8"), ("Cache-Control", "no-store")], page


def serve_swagger(handler: BaseHTTPRequestHandler) -> None:
    """The same answers on a plain ``http.server`` handler."""
    url = urlsplit(handler.path)
    status, headers, body = answer(handler.command, url.path, url.query, handler.headers.get("Host"))
    handler.send_response(status)
    for name, value in headers:
        handler.send_header(name, value)
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    if handler.command != "HEAD":
        handler.wfile.write(body)
