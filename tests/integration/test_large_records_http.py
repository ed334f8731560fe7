"""A 1 MB record over HTTP through the local stack (issue 16): S3 served by the same embedded
moto endpoint as DynamoDB, objects kept across a restart, and nothing left after the purge."""

from __future__ import annotations

import json
import os
import random
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.conftest import free_port

pytestmark = pytest.mark.integration
MB = 1024 * 1024


@pytest.fixture
def local_env() -> Iterator[None]:
    """``running`` sets the local stack's environment; put this process's back afterwards."""
    from tests.conftest import reset_caches

    saved = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(saved)
    reset_caches()
    from binvault.handlers import api, purge

    api.metrics.clear_metrics()
    purge.metrics.clear_metrics()


def http(url: str, method: str = "GET", body: Any = None, key: str | None = None, **headers: str) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    sent = {name.replace("_", "-"): value for name, value in headers.items()}
    if key:
        sent["X-Master-Key"] = key
    if data is not None:
        sent["Content-Type"] = "application/json"
    request = urllib.request.Request(url, data=data, method=method, headers=sent)
    try:
        with urllib.request.urlopen(request, timeout=60) as reply:
            return reply.status, json.loads(reply.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def big(seed: int) -> dict[str, Any]:
    """About 1 MB of JSON that compresses only ~2x: stored in S3."""
    rng = random.Random(seed)
    return {"seed": seed, "rows": [rng.randbytes(500).hex() for _ in range((MB - 4096) // 1003)]}


def stored_objects(data: Path) -> set[str]:
    root = data / "objects"
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}


def wait_for(condition: Any, seconds: float = 30.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return False


def test_a_1_mb_record_lives_its_whole_life_through_the_local_stack(local_env: None, tmp_path: Path) -> None:
    from binvault.local import stack as local

    data = tmp_path / "data"
    with local.running(free_port(), free_port(), data_dir=data, concurrency=1) as first:
        key, url = first.demo["masterKey"], first.api_url
        status, created = http(f"{url}/b", "POST", big(0), key)
        assert status == 200, created
        bin_id = created["metadata"]["id"]
        for n in (1, 2):
            status, updated = http(f"{url}/b/{bin_id}", "PUT", big(n), key, X_Bin_Versioning="true")
            assert (status, updated["metadata"]["version"]) == (200, n)
        assert http(f"{url}/b/{bin_id}", key=key)[1]["record"] == big(0)
        assert http(f"{url}/b/{bin_id}/1", key=key)[1]["record"] == big(1)
        assert http(f"{url}/b/{bin_id}/latest", key=key)[1]["record"] == big(2)
        # each record is one object, on disk in the data directory before it was acknowledged
        assert len(stored_objects(data)) == 3
    # the stack restarts with every record, large ones included
    with local.running(free_port(), free_port(), data_dir=data, concurrency=1) as second:
        url = second.api_url
        assert http(f"{url}/b/{bin_id}/1", key=key)[1]["record"] == big(1)
        status, deleted = http(f"{url}/b/{bin_id}/versions", "DELETE", key=key, X_Preserve_Latest="true")
        assert (status, deleted["metadata"]["versionsDeleted"]) == (200, 2)
        assert http(f"{url}/b/{bin_id}", key=key)[1]["record"] == big(2)
        # the purge removes the old base record and version 1, keeps the one the base points to
        assert wait_for(lambda: len(stored_objects(data)) == 1)
        assert http(f"{url}/b/{bin_id}/latest", key=key)[1]["record"] == big(2)
        assert http(f"{url}/b/{bin_id}", "DELETE", key=key)[0] == 200
        assert wait_for(lambda: stored_objects(data) == set())
        assert http(f"{url}/b/{bin_id}", key=key)[0] == 404
    with local.running(free_port(), free_port(), data_dir=data, concurrency=0) as third:
        from binvault.dal import blobs

        assert list(blobs.listing("b/")) == []
        assert http(f"{third.api_url}/b/{bin_id}", key=key)[0] == 404
