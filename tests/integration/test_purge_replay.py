"""A purge pending when the durable local stack was killed runs when it starts again
(binvault.local.streams.pending_purges): no version of a cut-over or a deleted bin stays
stored, unreadable, for ever."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from tests.support.stack import Stack, start_stack
from tests.support.tables import bin_items

pytestmark = pytest.mark.integration

VERSIONS = 60  # three purge batches (BatchWriteItem takes 25 deletes)
WAIT_SECONDS = 60.0


def _purge_deletes(entry: dict[str, Any], bins: set[str]) -> int:
    """How many of ``bins``' items a journal entry deletes (a purge's BatchWriteItem)."""
    if entry.get("op") != "BatchWriteItem":
        return 0
    requests = [r for table in entry["body"]["RequestItems"].values() for r in table]
    return sum(1 for r in requests if r.get("DeleteRequest", {}).get("Key", {}).get("pk", {}).get("S") in bins)


def _as_if_killed_in_the_first_purge_batch(data: Path, bins: set[str]) -> int:
    """Cut the journal right after the purge's first batch of deletes, as a kill -9 at that
    moment leaves it (entries are appended in the order they applied, and nothing but the
    purge wrote after the requests below); returns how many deletes it keeps."""
    journal = data / "journal.jsonl"
    lines = journal.read_bytes().splitlines(keepends=True)
    kept, deletes = [], 0
    for line in lines:
        entry = json.loads(line)
        done = _purge_deletes(entry, bins)
        if done and deletes:
            break
        kept.append(line)
        deletes += done
    journal.write_bytes(b"".join(kept))
    return deletes


def _left(stack: Stack, bin_id: str) -> list[str]:
    return sorted(i["sk"]["S"] for i in bin_items(stack.dynamodb(), stack.table, bin_id))


def _wait_until(stack: Stack, bin_id: str, expected: list[str]) -> list[str]:
    deadline = time.monotonic() + WAIT_SECONDS
    while (left := _left(stack, bin_id)) != expected and time.monotonic() < deadline:
        time.sleep(0.1)
    return left


def test_a_purge_pending_at_a_kill_runs_on_restart(tmp_path: Path) -> None:
    # Given a durable stack, a bin cut over (delete-versions) and a bin deleted, each with versions
    data = tmp_path / "data"
    first = start_stack(data)
    try:
        client = first.client()
        cut, gone = client.create({"v": 0}), client.create({"gone": 0})
        for n in range(1, VERSIONS + 1):
            assert client.update(cut, {"v": n}).status == 200
        for n in range(1, VERSIONS // 2 + 1):
            assert client.update(gone, {"gone": n}).status == 200
        deleted = client.delete_versions(cut, preserve=True)
        assert deleted.body["metadata"]["versionsDeleted"] == VERSIONS
        assert first.request("DELETE", f"/b/{gone}").status == 200
    finally:
        # When the stack is killed (its purges may have started) ...
        first.process.kill()
        first.process.wait(30)
    # ... at a moment when only the first batch of the purges was done
    kept = _as_if_killed_in_the_first_purge_batch(data, {f"BIN#{cut}", f"BIN#{gone}"})
    assert kept <= 25 < VERSIONS + VERSIONS // 2 + 1

    # Then the restarted stack runs them again: only the base item (and the version it
    # reads the preserved record from, when any) is left of the cut bin, nothing of the other
    second = start_stack(data)
    try:
        base = second.dynamodb().get_item(TableName=second.table, Key={"pk": {"S": f"BIN#{cut}"}, "sk": {"S": "BIN"}})
        keep = base["Item"].get("recordAt", {}).get("S")
        assert _wait_until(second, cut, sorted(["BIN", *([keep] if keep else [])])) == sorted(
            ["BIN", *([keep] if keep else [])]
        )
        assert _wait_until(second, gone, []) == []
        assert "pending purges run again" in second.text()
        # and the API still answers as before the kill
        latest = second.request("GET", f"/b/{cut}/latest")
        assert latest.body["record"] == {"v": VERSIONS}
        assert second.request("GET", f"/b/{cut}/versions/count").body["metadata"]["versionCount"] == 0
        assert second.request("GET", f"/b/{gone}").status == 404
    finally:
        second.stop()

    # And a clean restart after that has nothing left to run again
    third = start_stack(data)
    try:
        assert "pending purges" not in third.text()
    finally:
        third.stop()
