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
    assert changes == ["$.size changed from 1 to 3", '$.theme changed from "light" to "dark"']
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


def test_names_and_records_render_as_text(console: Console, console_stack: Stack) -> None:
    # Given a bin whose name and record are markup
    record = {"html": "<script>alert(2)</script>", "img": "<img src=x onerror=alert(3)>"}
    bin_id = _create_bin(console_stack, record, **{"X-Bin-Name": XSS_NAME})
    console.sign_in()
    page = console.page
    # Then the listing and the bin page show them as text, and nothing runs (no dialog: conftest)
    page.get_by_role("link", name=XSS_NAME).first.wait_for()
    assert page.locator("main img").count() == 0
    console.screenshot("bins")
    page.get_by_role("link", name=XSS_NAME).first.click()
    console.heading(f"Bin {XSS_NAME}")
    assert json.loads(page.get_by_label("Record (JSON)", exact=True).input_value()) == record
    assert page.locator("img, main script").count() == 0
    console.axe("bin with markup in its name")
    page.get_by_role("link", name="Versions").click()
    console.heading(f"Versions of bin {bin_id}")
    page.get_by_role("button", name="View the base record").click()
    page.get_by_role("heading", name="Base record (version 0)").wait_for()
    assert "<script>alert(2)</script>" in page.locator("section.viewer pre").last.inner_text()
    assert page.locator("img").count() == 0


def test_a_concurrent_edit_answers_412_and_offers_a_reload(console: Console, console_stack: Stack) -> None:
    # Given the bin open in the console
    bin_id = _create_bin(console_stack, {"owner": "console"}, **{"X-Bin-Name": "shared"})
    console.sign_in()
    console.open(f"#/bin/{bin_id}")
    console.heading("Bin shared")
    # When someone else saves first
    other = console_stack.request(
        "PUT", f"/b/{bin_id}", {"owner": "someone else"}, headers={"X-Bin-Versioning": "true"}
    )
    assert other.status == 200
    _edit(console, {"owner": "console, too late"})
    console.page.get_by_role("button", name="Save new version").click()
    # Then the console says so (the API answered 412 to its If-Match) and saved nothing
    conflict = console.page.locator(".conflict")
    conflict.get_by_text("Someone else saved this bin first").wait_for()
    console.axe("412 conflict")
    assert _record(console_stack, f"/b/{bin_id}/latest") == {"owner": "someone else"}
    # And Reload shows the other writer's record, which can then be edited and saved
    conflict.get_by_role("button", name="Reload").click()
    from playwright.sync_api import expect

    expect(console.page.get_by_label("Record (JSON)", exact=True)).to_have_value(
        json.dumps({"owner": "someone else"}, indent=2)
    )
    _edit(console, {"owner": "console, after reload"})
    console.page.get_by_role("button", name="Save new version").click()
    console.says("Saved as version 2.")


def test_parse_errors_and_schema_doc_errors_show_inline(console: Console, console_stack: Stack) -> None:
    page = console.page
    console.sign_in()
    # Given a schema doc created in the console, attached to a new collection
    page.get_by_role("link", name="Schema docs").click()
    console.heading("Schema docs")
    page.get_by_label("Schema doc name", exact=True).fill("Person")
    page.get_by_label("Schema (JSON)", exact=True).fill('{"type": "object", "required": ["name"]}')
    console.axe("schema docs")
    page.get_by_role("button", name="Create schema doc").click()
    console.heading("Schema doc Person")
    console.axe("schema doc")
    page.get_by_label("Schema (JSON)", exact=True).fill('{"type": "object", "required": ["name", "age"]}')
    page.get_by_role("button", name="Save schema doc").click()
    console.says("Schema doc saved. Bins already stored are not validated again.")
    schema_id = page.url.rsplit("/", 1)[-1]
    page.get_by_role("link", name="Collections").click()
    console.heading("Collections")
    page.get_by_label("Collection name", exact=True).fill("people")
    page.get_by_role("button", name="Create collection").click()
    console.says("Collection created.")
    card = page.locator("li.card").filter(has=page.get_by_role("heading", name="people"))
    card.get_by_label("New name for people").fill("persons")
    card.get_by_role("button", name="Rename collection").click()
    console.says("Collection renamed.")
    card = page.locator("li.card").filter(has=page.get_by_role("heading", name="persons"))
    card.get_by_label("Schema doc for persons").select_option(schema_id)
    card.get_by_role("button", name="Attach schema doc").click()
    console.says("Schema doc attached: new bins and updates in this collection must pass it.")
    console.axe("collections")
    console.screenshot("collections")
    # When a bin is created in it with a record the schema refuses, and with broken JSON
    page.get_by_role("link", name="Bins").click()
    console.heading("Bins")
    page.get_by_role("link", name="New bin").click()
    console.heading("New bin")
    page.get_by_label("Collection", exact=True).select_option(label="persons")
    editor = page.get_by_label("Record (JSON)", exact=True)
    editor.fill('{"name": "Ada",')
    error = page.locator(".inline-error").last
    # Then the parse error shows inline, as the user types
    error.get_by_text("Not valid JSON").wait_for()
    assert editor.get_attribute("aria-invalid") == "true"
    editor.fill('{"name": "Ada"}')
    page.get_by_role("button", name="Create bin").click()
    # And the schema doc's validation message (the API's) shows inline too
    error.get_by_text("Schema Doc Validation Mismatch: 'age' is a required property").wait_for()
    editor.fill('{"name": "Ada", "age": 36}')
    page.get_by_role("button", name="Create bin").click()
    page.wait_for_url(re.compile(r"#/bin/[0-9a-f]{24}$"))
    console.heading(f"Bin {page.url.rsplit('/', 1)[-1]}")
    # And once detached, the schema doc no longer applies
    page.get_by_role("link", name="Collections").click()
    console.heading("Collections")
    page.get_by_role("button", name="Detach schema doc from persons").click()
    console.says("Schema doc detached.")
    listed = console_stack.request("GET", "/c").body
    assert [
        (c["collectionMeta"]["name"], c["schemaDocId"]) for c in listed if c["collectionMeta"]["name"] == "persons"
    ] == [("persons", None)]


def test_access_keys_created_shown_once_listed_and_deleted(console: Console, console_stack: Stack) -> None:
    page = console.page
    console.sign_in()
    page.get_by_role("link", name="Access keys").click()
    console.heading("Access keys")
    page.get_by_label("Key name", exact=True).fill("reader-ui")
    page.get_by_label("Update", exact=True).check()
    page.get_by_role("button", name="Create access key").click()
    secret = page.locator(".secret-value")
    secret.wait_for()
    key = secret.inner_text()
    assert len(key) >= 43
    row = page.locator("tr").filter(has_text="reader-ui")
    assert "read, update" in row.inner_text() and key not in row.inner_text()
    console.axe("access keys")
    console.screenshot("access-keys")
    # The key works on the API; after "Done" the secret is gone from the page
    bin_id = _create_bin(console_stack, {"a": 1})
    assert console_stack.request("GET", f"/b/{bin_id}", headers={"X-Access-Key": key}, key=False).status == 200
    page.get_by_role("button", name="Done, hide the key").click()
    assert key not in page.content()
    # Delete, confirmed: its next request answers 401
    page.get_by_role("button", name="Delete access key reader-ui").click()
    page.get_by_role("dialog", name="Delete this access key?").get_by_role("button", name="Delete access key").click()
    console.says("Access key deleted.")
    assert console_stack.request("GET", f"/b/{bin_id}", headers={"X-Access-Key": key}, key=False).status == 401


def test_an_access_key_is_offered_only_bins(console: Console, console_stack: Stack) -> None:
    created = console_stack.request(
        "POST", "/a", {"bins": {"read": True}}, headers={"Content-Type": "application/json", "X-Key-Name": "ro"}
    )
    key = created.body["accessKey"]
    bin_id = _create_bin(console_stack, {"visible": True}, **{"X-Bin-Name": "readable"})
    page = console.page
    console.open()
    page.get_by_label("Access key", exact=True).fill(key)
    page.get_by_role("button", name="Sign in with access key").click()
    console.heading("Bins")
    # Only what an access key can do is offered
    assert page.get_by_role("navigation").get_by_role("link").all_inner_texts() == ["Bins"]
    console.axe("bins with an access key")
    page.get_by_label("Bin id", exact=True).fill(bin_id)
    page.get_by_role("button", name="Open bin").click()
    console.heading("Bin readable")
    assert page.get_by_role("button", name="Rename").count() == 0
    # A write the key may not do shows the API's message next to the editor
    page.get_by_role("button", name="Save new version").click()
    page.get_by_text("X-Access-Key does not have the permission to update bins").wait_for()
    page.get_by_role("link", name="Versions").click()
    console.heading(f"Versions of bin {bin_id}")
    console.axe("versions with an access key")


def test_keyboard_only_sign_in_and_sign_out_clears_the_key(console: Console, console_stack: Stack) -> None:
    page = console.page
    console.open()
    console.heading("Sign in")
    # Tab to the master key field, type it, Enter: no mouse
    for _ in range(5):
        page.keyboard.press("Tab")
        if page.evaluate("() => document.activeElement?.labels?.[0]?.textContent") == "Master key":
            break
    else:
        raise AssertionError("Tab never reached the Master key field")
    page.keyboard.type(console_stack.key)
    page.keyboard.press("Enter")
    console.heading("Bins")
    # The key is in this tab's sessionStorage only: not in the URL, localStorage or a cookie
    assert console_stack.key in page.evaluate("() => JSON.stringify(sessionStorage)")
    assert console_stack.key not in page.url
    assert page.evaluate("() => localStorage.length") == 0
    assert page.context.cookies() == []
    # Sign out, by keyboard too, clears it
    sign_out = page.get_by_role("button", name="Sign out")
    sign_out.focus()
    page.keyboard.press("Enter")
    console.heading("Sign in")
    console.says("Signed out. The key was removed from this tab.")
    assert page.evaluate("() => sessionStorage.length") == 0
    page.reload()
    console.heading("Sign in")


def test_a_wrong_key_shows_the_api_message(console: Console) -> None:
    console.open()
    console.page.get_by_label("Master key", exact=True).fill("not-the-key")
    console.page.get_by_role("button", name="Sign in", exact=True).click()
    console.page.get_by_text("Invalid X-Master-Key provided").wait_for()
    assert console.page.evaluate("() => sessionStorage.length") == 0


def test_the_page_runs_under_its_csp(console: Console, console_stack: Stack) -> None:
    reply = console_stack.request("GET", "/console/", key=False)
    csp = reply.headers["content-security-policy"]
    assert "'unsafe-inline'" not in csp and "'unsafe-eval'" not in csp and "frame-ancestors 'none'" in csp
    console.sign_in()
    # An inline script injected into the page does not run, and eval is refused
    ran = console.page.evaluate(
        """() => new Promise((resolve) => {
            document.addEventListener('securitypolicyviolation', () => resolve('blocked'), {once: true});
            const script = document.createElement('script');
            script.textContent = 'window.__injected = true';
            document.body.append(script);
            setTimeout(() => resolve(window.__injected ? 'ran' : 'blocked'), 500);
        })"""
    )
    assert ran == "blocked"


def test_bins_are_listed_by_collection_with_paging(console: Console, console_stack: Stack) -> None:
    # Given a collection with 12 bins (the API lists 10 a page)
    made = console_stack.request("POST", "/c", headers={"X-Collection-Name": "paged"})
    collection = made.body["record"]
    names = [f"bin {n:02d}" for n in range(12)]
    for name in names:
        _create_bin(console_stack, {"n": name}, **{"X-Bin-Name": name, "X-Collection-Id": collection})
    console.sign_in()
    page = console.page
    # When the collection is chosen, its newest 10 show; Next page shows the other 2
    page.get_by_label("Collection", exact=True).select_option(label="paged")
    page.get_by_role("link", name="bin 11").wait_for()
    assert page.locator("tbody tr").count() == 10
    page.get_by_role("button", name="Next page").click()
    page.get_by_role("link", name="bin 00").wait_for()
    assert page.locator("tbody td a").all_inner_texts() == ["bin 01", "bin 00"]
    assert page.get_by_role("button", name="Next page").is_disabled()
    console.axe("bins, second page")
    page.get_by_role("button", name="Previous page").click()
    page.get_by_role("link", name="bin 11").wait_for()
    assert page.get_by_role("button", name="Previous page").is_disabled()
