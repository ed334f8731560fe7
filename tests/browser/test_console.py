"""The web console in Chromium against the local stack: every flow of issue 22, checked
through the API where it matters, with axe-core on every page (tests/browser/conftest.py)."""

from __future__ import annotations

import json
import re
from typing import Any

from tests.browser.conftest import Console
from tests.support.stack import Stack

XSS_NAME = "<img src=x onerror=alert(1)>"


def _create_bin(stack: Stack, record: Any, **headers: str) -> str:
    reply = stack.request("POST", "/b", record, headers={"Content-Type": "application/json", **headers})
    assert reply.status == 200, reply.raw
    return str(reply.body["metadata"]["id"])


def _record(stack: Stack, path: str) -> Any:
    reply = stack.request("GET", path)
    assert reply.status == 200, reply.raw
    return reply.body["record"]


def _edit(console: Console, record: Any) -> None:
    console.page.get_by_label("Record (JSON)", exact=True).fill(json.dumps(record, indent=2))


def test_sign_in_create_version_diff_restore_and_delete_versions(console: Console, console_stack: Stack) -> None:
    page, stack = console.page, console_stack
    # Given the console's sign-in page
    console.open()
    console.heading("Sign in")
    console.axe("sign in")
    console.screenshot("sign-in")
    # When the user signs in with the master key and creates a bin
    console.sign_in()
    console.axe("bins")
    page.get_by_role("link", name="New bin").click()
    console.heading("New bin")
    page.get_by_label("Bin name", exact=True).fill("settings")
    _edit(console, {"theme": "light", "size": 0})
    console.axe("new bin")
    page.get_by_role("button", name="Create bin").click()
    console.heading("Bin settings")
    bin_id = page.url.rsplit("/", 1)[-1]
    assert re.fullmatch(r"[0-9a-f]{24}", bin_id)
    console.axe("bin")
    # And saves three versions
    for n in (1, 2, 3):
        _edit(console, {"theme": "dark" if n > 1 else "light", "size": n})
        page.get_by_role("button", name="Save new version").click()
        console.says(f"Saved as version {n}.")
    console.screenshot("bin")
    assert _record(stack, f"/b/{bin_id}/latest") == {"theme": "dark", "size": 3}
    # Then the history lists them, newest first, with time and size
    page.get_by_role("link", name="Versions").click()
    console.heading(f"Versions of bin {bin_id}")
    rows = page.locator("tbody tr")
    assert [rows.nth(i).locator("th").inner_text() for i in range(rows.count())] == ["3", "2", "1", "0"]
    assert "B" in rows.nth(0).locator("td").nth(1).inner_text()
    console.axe("versions")
    # And a diff of two versions is readable: the changed paths and the changed lines
    page.get_by_label("From version").select_option("1")
    page.get_by_label("To version").select_option("3")
    page.get_by_role("button", name="Diff").click()
    page.get_by_role("heading", name="Diff: version 1 to version 3").wait_for()
    changes = page.locator("ul.changes li").all_inner_texts()
    assert changes == ['$.size changed from 1 to 3', '$.theme changed from "light" to "dark"']
    diff = page.locator("pre.diff").inner_text()
    assert '-   "size": 1,' in diff and '+   "size": 3,' in diff
    console.axe("diff")
    console.screenshot("versions-diff")
    # And viewing a version shows its record
    page.get_by_role("button", name="View version 2").click()
    page.get_by_role("heading", name="Version 2", exact=True).wait_for()
    assert json.loads(page.locator("section.viewer pre").last.inner_text()) == {"theme": "dark", "size": 2}
    # When version 1 is restored, it is written as version 4 and nothing is lost
    page.get_by_role("button", name="Restore version 1").click()
    console.says("Version 1 restored as version 4: nothing was lost.")
    assert _record(stack, f"/b/{bin_id}/latest") == {"theme": "light", "size": 1}
    assert stack.request("GET", f"/b/{bin_id}/versions/count").body["metadata"]["versionCount"] == 4
    # When the versions are deleted without Preserve latest, the confirmation says what goes and what stays
    page.get_by_role("button", name="Delete versions").click()
    dialog = page.get_by_role("dialog", name="Delete versions?")
    dialog.wait_for()
    text = dialog.inner_text()
    assert "4 versions (1 to 4) will be deleted." in text
    assert "base record (version 0), unchanged" in text
    assert json.loads(dialog.locator("pre").inner_text()) == {"theme": "light", "size": 0}
    console.axe("delete versions confirmation")
    console.screenshot("delete-versions")
    dialog.get_by_role("button", name="Delete 4 versions").click()
    console.says("Deleted 4 versions.")
    # Then the API agrees: no versions, the base record as it was
    assert stack.request("GET", f"/b/{bin_id}/versions/count").body["metadata"]["versionCount"] == 0
    assert _record(stack, f"/b/{bin_id}") == {"theme": "light", "size": 0}
    # When two more versions are saved and deleted with Preserve latest
    for n in (5, 6):
        stack.request("PUT", f"/b/{bin_id}", {"size": n}, headers={"X-Bin-Versioning": "true"})
    page.reload()
    console.heading(f"Versions of bin {bin_id}")
    page.get_by_label("Preserve latest").check()
    page.get_by_role("button", name="Delete versions").click()
    dialog.wait_for()
    assert "the latest version's record (version 2)" in dialog.inner_text()
    assert json.loads(dialog.locator("pre").inner_text()) == {"size": 6}
    dialog.get_by_role("button", name="Delete 2 versions").click()
    console.says("Deleted 2 versions.")
    # Then the latest record became the base record
    assert stack.request("GET", f"/b/{bin_id}/versions/count").body["metadata"]["versionCount"] == 0
    assert _record(stack, f"/b/{bin_id}") == {"size": 6}
