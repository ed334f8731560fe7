"""The web console in a real browser: Playwright for Python driving Debian's Chromium
(``scripts/browser.sh`` installs it; without it these tests fail, saying what to install,
and never skip) against the local stack (``make run``) in a subprocess.

Every page of a test gets axe-core (vendored under ``vendor/``, never shipped) injected
through the DevTools protocol, which the page's CSP does not govern; the page itself still
runs under its CSP, which the tests check too. A dialog the page opens by itself (an
``alert`` from injected markup) or an uncaught page error fails the test.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.stack import Stack, start_stack

ROOT = Path(__file__).resolve().parents[2]
AXE = Path(__file__).resolve().parent / "vendor" / "axe-core" / "axe.min.js"
# `make screenshots` (BINVAULT_SCREENSHOTS=1) refreshes docs/console/; otherwise the tests still
# take them, into pytest's temporary directory, so `make test` leaves the work tree as it was.
DOCS_SCREENSHOTS = ROOT / "docs" / "console"
CHROMIUM = os.environ.get("BINVAULT_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


def chromium_path() -> str:
    found = CHROMIUM if os.access(CHROMIUM, os.X_OK) else shutil.which("chromium")
    if not found:
        pytest.fail(
            f"No Chromium at {CHROMIUM}: the console's browser tests need it. Run `bash scripts/browser.sh` "
            "(as root on Debian it installs it: apt-get install -y chromium), or set BINVAULT_CHROMIUM.",
            pytrace=False,
        )
    return found


@pytest.fixture(scope="session")
def console_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    stack = start_stack("memory")
    try:
        yield stack
    finally:
        stack.stop()


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    executable = chromium_path()
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS, headless=True)
        try:
            yield launched
        finally:
            launched.close()


class Console:
    """One browser tab on the console, with its findings."""

    def __init__(self, page: Any, stack: Stack, screenshots: Path) -> None:
        self.page = page
        self.screenshots = screenshots
        self.stack = stack
        self.url = f"{stack.api_url}/console/"
        self.dialogs: list[str] = []
        self.errors: list[str] = []
        self.violations: list[str] = []
        page.on("dialog", self._dialog)
        page.on("pageerror", lambda error: self.errors.append(str(error)))
        page.set_default_timeout(15_000)

    def _dialog(self, dialog: Any) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def open(self, fragment: str = "") -> None:
        self.page.goto(self.url + fragment)

    def sign_in(self, key: str | None = None) -> None:
        self.open()
        self.page.get_by_label("Master key", exact=True).fill(key or self.stack.key)
        self.page.get_by_role("button", name="Sign in", exact=True).click()
        self.heading("Bins")

    def heading(self, name: str) -> None:
        self.page.get_by_role("heading", name=name, level=1, exact=True).wait_for()

    def says(self, text: str) -> None:
        """The status line shows ``text`` (waits for it, bounded)."""
        from playwright.sync_api import expect

        expect(self.page.locator("#status")).to_have_text(text)

    def error(self, text: str) -> None:
        from playwright.sync_api import expect

        expect(self.page.locator("#error")).to_have_text(text)

    def axe(self, label: str) -> list[dict[str, Any]]:
        """axe-core on the page as it is now: its serious and critical violations (recorded)."""
        if not self.page.evaluate("() => typeof window.axe !== 'undefined'"):
            self.page.evaluate(AXE.read_text(encoding="utf-8") + "\n;0")
        results = self.page.evaluate("async () => await window.axe.run(document, {resultTypes: ['violations']})")
        bad = [v for v in results["violations"] if v["impact"] in ("serious", "critical")]
        for violation in bad:
            targets = [node["target"] for node in violation["nodes"]][:3]
            self.violations.append(f"{label}: {violation['id']} ({violation['impact']}) {violation['help']} {targets}")
        return bad

    def screenshot(self, name: str) -> None:
        self.screenshots.mkdir(parents=True, exist_ok=True)
        shot = self.screenshots / f"{name}.png"
        self.page.screenshot(path=str(shot), full_page=True)
        assert shot.stat().st_size > 0


@pytest.fixture
def console(browser: Any, console_stack: Stack, tmp_path: Path) -> Iterator[Console]:
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    screenshots = DOCS_SCREENSHOTS if os.environ.get("BINVAULT_SCREENSHOTS") == "1" else tmp_path / "screenshots"
    tab = Console(context.new_page(), console_stack, screenshots)
    try:
        yield tab
    finally:
        context.close()
    assert tab.dialogs == [], f"the page opened dialogs by itself: {tab.dialogs}"
    assert tab.errors == [], f"uncaught errors in the page: {tab.errors}"
    assert tab.violations == [], "axe-core: serious or critical violations:\n" + "\n".join(tab.violations)
