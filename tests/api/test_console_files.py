"""The web console's files through the real API handler (handlers/console.py): served at
/v3/console/ with a strict CSP, only the console's own files, read only on that path."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.conftest import Api
from tests.support.inproc import in_fresh_process

CONSOLE = Path(__file__).resolve().parents[2] / "src" / "binvault" / "console"


@pytest.fixture
def anonymous(ddb: object) -> Api:
    return Api(None)


@pytest.mark.parametrize(
    ("path", "content_type"),
    [
        ("/console/", "text/html; charset=utf-8"),
        ("/console/index.html", "text/html; charset=utf-8"),
        ("/console/app.js", "text/javascript; charset=utf-8"),
        ("/console/console.css", "text/css; charset=utf-8"),
    ],
)
def test_files_are_served_with_strict_headers(anonymous: Api, path: str, content_type: str) -> None:
    reply = anonymous("GET", path)
    assert reply.status == 200
    assert reply.headers["content-type"] == content_type
    csp = reply.headers["content-security-policy"]
    script_src = re.search(r"script-src ([^;]+)", csp)
    assert script_src is not None and script_src[1] == "'self'"
    assert "unsafe" not in csp and "frame-ancestors 'none'" in csp and "default-src 'none'" in csp
    assert reply.headers["x-content-type-options"] == "nosniff"
    assert reply.headers["x-frame-options"] == "DENY"
    assert reply.headers["referrer-policy"] == "no-referrer"
    name = path.removeprefix("/console/") or "index.html"
    assert reply.raw == (CONSOLE / name).read_text(encoding="utf-8")


def test_the_bare_path_redirects_to_the_directory(anonymous: Api) -> None:
    reply = anonymous("GET", "/console")
    assert reply.status == 301 and reply.headers["location"] == "/v3/console/"


@pytest.mark.parametrize(
    "path",
    [
        "/console/nope.js",
        "/console/../handlers/api.py",
        "/console/%2e%2e/exceptions.py",
        "/console/sub/app.js",
        "/console/..",
    ],
)
def test_only_the_console_files_are_served(anonymous: Api, path: str) -> None:
    reply = anonymous("GET", path)
    assert (reply.status, reply.body) == (404, {"message": "Route not found"})


def test_only_reads(anonymous: Api) -> None:
    reply = anonymous("POST", "/console/", body="{}")
    assert reply.status == 405 and reply.headers["allow"] == "GET, HEAD"
    head = anonymous("HEAD", "/console/app.js")
    assert head.status == 200 and head.raw == ""


def test_no_inline_script_style_or_html_sink_ships() -> None:
    html = (CONSOLE / "index.html").read_text(encoding="utf-8")
    assert re.findall(r"<script[^>]*>", html) == ['<script type="module" src="app.js">']
    assert re.findall(r"<[^>]*\s(?:style|on\w+)=", html) == [] and "<style" not in html
    for script in CONSOLE.glob("*.js"):
        source = script.read_text(encoding="utf-8")
        for sink in (
            "innerHTML",
            "outerHTML",
            "insertAdjacentHTML",
            "document.write",
            "eval(",
            "new Function",
            "localStorage",
        ):
            code = "\n".join(line for line in source.splitlines() if not line.lstrip().startswith("//"))
            assert sink not in code, f"{script.name} uses {sink}"


def test_a_console_request_reads_its_files_and_an_api_request_does_not(tmp_path: Path) -> None:
    report = in_fresh_process(
        """
    import binvault.handlers.api as api
    call("GET", "/b/0123456789abcdef01234567", key)
    report["after_api"] = "binvault.handlers.console" in sys.modules
    page = lambda_handler(rest_event("GET", "/console/", None, None), LocalContext())
    report["status"] = page["statusCode"]
    report["after_console"] = "binvault.handlers.console" in sys.modules
"""
    )
    assert report["after_api"] is False
    assert (report["status"], report["after_console"]) == (200, True)
