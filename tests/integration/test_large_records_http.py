"""A 1 MB record over HTTP through the local stack (issue 16): S3 served by the same embedded
moto endpoint as DynamoDB, objects kept across a restart, and nothing left after the purge."""

from __future__ import annotations

import random
import time
from pathlib import Path
from typing import Any

import pytest

from tests.support.client import Client
from tests.support.inproc import in_process

pytestmark = pytest.mark.integration
MB = 1024 * 1024


def big(seed: int) -> dict[str, Any]:
    """About 1 MB of JSON that compresses only ~2x: stored in S3."""
    rng = random.Random(seed)
    return {"seed": seed, "rows": [rng.randbytes(500).hex() for _ in range((MB - 4096) // 1003)]}


def stored_objects(data: Path) -> set[str]:
    """The records' objects in the data directory (not the usage logs the stack ships to the
    same bucket meanwhile, under ``logs/``)."""
    from binvault.dal.keys import BLOB_PREFIX

    root = data / "objects"
    stored = {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}
    return {key for key in stored if key.split("/", 1)[-1].startswith(BLOB_PREFIX)}


def wait_for(condition: Any, seconds: float = 30.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return False


def test_a_1_mb_record_lives_its_whole_life_through_the_local_stack(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with in_process(data_dir=data, concurrency=1) as first:
        key = first.demo["masterKey"]
        api = Client(first.api_url, key)
        created = api.request("POST", "/b", big(0))
        assert created.status == 200, created.body
        bin_id = created.body["metadata"]["id"]
        for n in (1, 2):
            updated = api.update(bin_id, big(n))
            assert (updated.status, updated.body["metadata"]["version"]) == (200, n)
        assert api.request("GET", f"/b/{bin_id}").body["record"] == big(0)
        assert api.request("GET", f"/b/{bin_id}/1").body["record"] == big(1)
        assert api.request("GET", f"/b/{bin_id}/latest").body["record"] == big(2)
        # each record is one object, on disk in the data directory before it was acknowledged
        assert len(stored_objects(data)) == 3
    # the stack restarts with every record, large ones included
    with in_process(data_dir=data, concurrency=1) as second:
        api = Client(second.api_url, key)
        assert api.request("GET", f"/b/{bin_id}/1").body["record"] == big(1)
        deleted = api.delete_versions(bin_id, preserve=True)
        assert (deleted.status, deleted.body["metadata"]["versionsDeleted"]) == (200, 2)
        assert api.request("GET", f"/b/{bin_id}").body["record"] == big(2)
        # the purge removes the old base record and version 1, keeps the one the base points to
        assert wait_for(lambda: len(stored_objects(data)) == 1)
        assert api.request("GET", f"/b/{bin_id}/latest").body["record"] == big(2)
        assert api.request("DELETE", f"/b/{bin_id}").status == 200
        assert wait_for(lambda: stored_objects(data) == set())
        assert api.request("GET", f"/b/{bin_id}").status == 404
    with in_process(data_dir=data, concurrency=0) as third:
        from binvault.dal import blobs

        assert list(blobs.listing("b/")) == []
        assert Client(third.api_url, key).request("GET", f"/b/{bin_id}").status == 404
