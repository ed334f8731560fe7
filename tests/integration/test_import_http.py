"""binvault to binvault over two local stacks (``make run`` each): ``make admin
ARGS='import-jsonbin ...'`` copies an account through the source's public v3 API, and
``export`` / ``import-backup`` carry the rest (the access keys, which a binvault source
masks) across."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.support.stack import ROOT, Stack, local_stack


def local_admin(data: Path, *args: str, **env: str) -> tuple[int, Any, str]:
    """`make admin ARGS=...`: no --table, no endpoint, no credentials given."""
    done = subprocess.run(
        [sys.executable, "-m", "binvault.local.admin", *args],
        env={"PYTHONPATH": str(ROOT / "src"), "BINVAULT_DATA": str(data), "PATH": "/usr/bin:/bin", **env},
        cwd=data,
        capture_output=True,
        text=True,
        timeout=300,
    )
    lines = done.stdout.strip().splitlines()
    return done.returncode, json.loads(lines[-1]) if lines else None, done.stderr


def fill(source: Stack) -> dict[str, Any]:
    user = source.client()
    doc = user.request("POST", "/s", {"type": "object"}, {"X-Schema-Doc-Name": "Any"}).body["metadata"]["id"]
    collection = user.request("POST", "/c", headers={"X-Collection-Name": "team"}).body["record"]
    user.request("PUT", f"/c/{collection}/schemadoc/add", headers={"X-Schema-Doc-Id": doc})
    filed = user.request("POST", "/b", {"n": 0}, {"X-Collection-Id": collection, "X-Bin-Name": "filed"}).body
    bins = [filed["metadata"]["id"]]
    for n in range(1, 6):
        user.update(bins[0], {"n": n})
    for n in range(11):  # more than a page of uncategorized bins
        bins.append(
            user.request("POST", "/b", {"u": n}, {"X-Bin-Private": "false" if n % 2 else "true"}).body["metadata"]["id"]
        )
    return {"bins": bins, "collection": collection, "doc": doc}


def test_binvault_to_binvault_through_the_api_then_keys_by_backup(tmp_path: Path) -> None:
    source_data, target_data = tmp_path / "source", tmp_path / "target"
    with local_stack(source_data) as source, local_stack(target_data) as target:
        made = fill(source)
        access = source.client().request("POST", "/a", {"bins": {"read": True}}, {"X-Key-Name": "ro"}).body
        # When the account is copied through the source's API, its key from the environment
        code, summary, err = local_admin(
            target_data,
            "import-jsonbin",
            "--source-url",
            source.api_url,
            "--create-account",
            "--requests",
            "100",
            "--keep-master-key",
            "--verify",
            JSONBIN_MASTER_KEY=source.key,
        )
        # Then every bin, version, collection and schema doc arrives, readable with the same key
        assert code == 0, err
        assert summary["bins"] == {"copied": 12, "skipped": 0, "failed": 0}
        assert (summary["versions"], summary["collections"], summary["schemaDocs"]) == (5, 1, 1)
        assert summary["accessKeysNotCopied"][0]["accessKeyId"] == access["accessKeyId"]  # masked, and said so
        moved = target.client(source.key)
        for bin_id in made["bins"]:
            here, there = source.client().request("GET", f"/b/{bin_id}"), moved.request("GET", f"/b/{bin_id}")
            assert there.status == 200 and there.body == here.body
        assert moved.request("GET", f"/b/{made['bins'][0]}/5").body["record"] == {"n": 5}
        assert moved.request("GET", "/c").body == source.client().request("GET", "/c").body
        assert (
            moved.request("GET", f"/s/{made['doc']}").body == source.client().request("GET", f"/s/{made['doc']}").body
        )
        # a second run copies nothing
        code, again, _ = local_admin(
            target_data,
            "import-jsonbin",
            "--source-url",
            source.api_url,
            "--create-account",
            "--requests",
            "100",
            "--keep-master-key",
            JSONBIN_MASTER_KEY=source.key,
        )
        assert code == 0 and again["bins"] == {"copied": 0, "skipped": 12, "failed": 0}
        assert again["accountId"] == summary["accountId"]

        # The keys: an export of the source, restored into a fresh stack, carries their hashes
        demo = json.loads((source_data / "demo.json").read_text())
        code, exported, err = local_admin(source_data, "export", demo["accountId"], "--out", str(tmp_path / "b.zip"))
        assert code == 0, err
        assert exported["counts"]["accessKeys"] == 1 and exported["counts"]["versions"] == 5
    with local_stack(tmp_path / "fresh") as fresh:
        code, restored, err = local_admin(tmp_path / "fresh", "import-backup", str(tmp_path / "b.zip"), "--verify")
        assert code == 0, err
        assert restored["bins"]["copied"] == 12 and restored["accessKeys"] == 1
        reader = fresh.client(None)
        reply = reader.request("GET", f"/b/{made['bins'][0]}", headers={"X-Access-Key": access["accessKey"]}, key=None)
        assert reply.status == 200 and reply.body["record"] == {"n": 0}
        assert fresh.client(demo["masterKey"]).request("GET", f"/b/{made['bins'][0]}/latest").body["record"] == {"n": 5}
        code, again, err = local_admin(
            tmp_path / "fresh", "export", demo["accountId"], "--out", str(tmp_path / "c.zip")
        )
        assert again["contentChecksum"] == exported["contentChecksum"]
