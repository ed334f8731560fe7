"""The web console's static files (``src/binvault/console/``), served at ``/v3/console/`` by
the API Lambda itself: same origin as the API (no CORS), the same in ``make run`` and in AWS.

``handlers/api.py`` imports this module only for a ``/console`` path, and the files are read
from disk only then (once per container), so an API request pays nothing for the console
(tests/api/test_cold_imports.py). Only the files in that directory are served, by exact name;
every answer carries a strict Content-Security-Policy: scripts and styles from this origin
only, no inline script or style, no eval, no framing, API calls only to this origin.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

CONSOLE_DIR = Path(__file__).resolve().parents[1] / "console"
TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
}
CSP = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self'",
        "connect-src 'self'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    ]
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}


def is_console(path: str) -> bool:
    return path == "/console" or path.startswith("/console/")


@lru_cache(maxsize=1)
def files() -> dict[str, tuple[str, str]]:
    """Every file the console ships, by name: (content type, text). Read once."""
    return {
        path.name: (TYPES[path.suffix], path.read_text(encoding="utf-8"))
        for path in sorted(CONSOLE_DIR.iterdir())
        if path.is_file() and path.suffix in TYPES
    }


def _answer(status: int, content_type: str, body: str, **headers: str) -> dict[str, Any]:
    return {
        "statusCode": status,
        "headers": {"Content-Type": content_type, **SECURITY_HEADERS, **headers},
        "body": body,
        "isBase64Encoded": False,
    }


def _error(status: int, message: str, **headers: str) -> dict[str, Any]:
    return _answer(status, "application/json; charset=utf-8", json.dumps({"message": message}), **headers)


def answer(event: dict[str, Any]) -> dict[str, Any]:
    """The API Gateway proxy answer for a ``/console`` request."""
    path = str(event.get("path") or "")
    method = str(event.get("httpMethod") or "").upper()
    if method not in ("GET", "HEAD"):
        return _error(405, "Method not allowed", Allow="GET, HEAD")
    if path == "/console":
        # Relative URLs in the page resolve against /v3/console/, so send the browser there.
        public = str((event.get("requestContext") or {}).get("path") or "/console")
        return _answer(301, "text/plain; charset=utf-8", "", Location=public + "/")
    name = path.removeprefix("/console/") or "index.html"
    found = files().get(name)
    if found is None:
        return _error(404, "Route not found")
    content_type, body = found
    # The page always revalidates (a new deployment is seen at once); the modules it names too.
    return _answer(200, content_type, "" if method == "HEAD" else body, **{"Cache-Control": "no-cache"})
