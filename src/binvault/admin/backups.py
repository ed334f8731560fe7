"""binvault-admin export / import-backup: one account in one file, and back, exactly.

    binvault-admin export ACCOUNT_ID --out FILE
    binvault-admin import-backup FILE [--account ID] [--verify] [--state-file PATH]

The file is a zip (deflated), written and read one entry at a time (memory stays bounded
whatever the account's size: at most one bin's version page and one record at a time):

- ``keys.json``: ``{"masterKeyHash", "accessKeys": [{"id", "hash", "name", "permissions",
  "createdAt", "last4"}]}``: hashes only, never a key;
- ``schema-docs.jsonl``, ``collections.jsonl``: one JSON object a line;
- ``bins/<binId>.jsonl``: the bin (``{"id", "private", "name", "createdAt", "collectionId",
  "versionCount", "record"}``), then each version ``{"version", "createdAt", "record"}``;
- ``manifest.json``, written last (its checksums are known only then; a zip is read from its
  directory, so it is found first): the format, the account (id, createdAt, requests left),
  the counts, each entry's SHA-256 and ``contentChecksum``, the SHA-256 of the sorted list
  of entries and their checksums: the same account exported twice gives the same one, and
  so does an export of the stack the backup was restored into.

``import-backup`` follows the rules of ``import-jsonbin`` (``logic.imports``): each bin
appears whole or not at all, a bin already identical is skipped, a different one replaced
as a whole, an id another account holds is listed, not overwritten; each entry is checked
against the manifest's checksum before its bin is cut over. Without ``--account`` the
account is restored under its own id with its own master key (hash); with ``--account`` the
content goes into that existing account, whose master key stays.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import shutil
import sys
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from binvault.admin.imports import State, new_summary
from binvault.dal import accounts, bins, collections, imports, records
from binvault.logic import imports as copying
from binvault.models.bins import Bin
from binvault.models.clock import now_iso

FORMAT = "binvault-backup/1"
MANIFEST = "manifest.json"
READ_ATTEMPTS = 5
SPOOL_BYTES = 1 << 20  # a bin entry larger than this is spooled to disk, not memory


def _line(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, sort_keys=True).encode("utf-8") + b"\n"


class _Hashed:
    """A writable file that hashes what goes through it."""

    def __init__(self, file: IO[bytes]) -> None:
        self.file = file
        self.sha = hashlib.sha256()

    def write(self, data: bytes) -> None:
        self.sha.update(data)
        self.file.write(data)


def _bin_lines(base: Bin, out: _Hashed) -> bool:
    """Write one bin's lines; False when a concurrent cut-over moved it under the read."""
    stored = bins.base_record(base)
    if stored is None:
        return False
    head = {
        "id": base.id,
        "private": base.private,
        "name": base.name,
        "createdAt": base.created_at,
        "collectionId": base.collection_id,
        "versionCount": base.version_count,
        "record": records.load(stored),
    }
    out.write(_line(head))
    count = 0
    for version in imports.versions(base):
        count += 1
        out.write(
            _line({"version": version.number, "createdAt": version.created_at, "record": records.load(version.record)})
        )
    return count == base.version_count


def export(account_id: str, out: Path, stream: IO[str] = sys.stderr) -> dict[str, Any]:
    account = accounts.get_account(account_id)
    checksums: dict[str, str] = {}
    counts = {"bins": 0, "versions": 0, "collections": 0, "schemaDocs": 0, "accessKeys": 0}
    partial = out.with_name(out.name + ".partial")
    with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED, allowZip64=True) as archive:

        def entry(name: str, lines: Iterator[bytes]) -> None:
            with archive.open(name, "w", force_zip64=True) as file:
                hashed = _Hashed(file)
                for line in lines:
                    hashed.write(line)
            checksums[name] = hashed.sha.hexdigest()

        key_list = imports.access_key_hashes(account_id)
        counts["accessKeys"] = len(key_list)
        entry("keys.json", iter([_line({"masterKeyHash": account.key_hash, "accessKeys": key_list})]))
        docs = imports.schema_docs_of(account_id)
        counts["schemaDocs"] = len(docs)
        entry(
            "schema-docs.jsonl",
            (
                _line({"id": d.id, "name": d.name, "createdAt": d.created_at, "schema": json.loads(d.schema)})
                for d in docs
            ),
        )
        found = collections.list_all(account_id)
        counts["collections"] = len(found)
        entry(
            "collections.jsonl",
            (
                _line({"id": c.id, "name": c.name, "createdAt": c.created_at, "schemaDocId": c.schema_doc_id})
                for c in found
            ),
        )
        for where in [*(c.id for c in found), None]:
            for listed in imports.listed_bins(account_id, where):
                written = _export_bin(archive, listed.bin_id, checksums)
                if written is not None:
                    counts["bins"] += 1
                    counts["versions"] += written
                    stream.write(f"\rexported bins {counts['bins']}  versions {counts['versions']}")
        manifest = {
            "format": FORMAT,
            "accountId": account_id,
            "accountCreatedAt": account.created_at,
            "requestsRemaining": account.requests_remaining,
            "exportedAt": now_iso(),
            "counts": counts,
            "checksums": checksums,
            "contentChecksum": content_checksum(checksums),
        }
        archive.writestr(MANIFEST, json.dumps(manifest, indent=1, sort_keys=True))
    partial.replace(out)
    stream.write("\n")
    return {"file": str(out), **{k: manifest[k] for k in ("accountId", "counts", "contentChecksum")}}


def _export_bin(archive: zipfile.ZipFile, bin_id: str, checksums: dict[str, str]) -> int | None:
    """One bin's entry, spooled to a temporary file first (to disk beyond SPOOL_BYTES) so that a
    read that a concurrent cut-over spoiled is read again, not half written. Its version
    count, or None for a bin deleted meanwhile."""
    for _ in range(READ_ATTEMPTS):
        base = bins.get_bin(bin_id)
        if base is None:
            return None
        with tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES) as spool:
            hashed = _Hashed(spool)  # type: ignore[arg-type]
            try:
                whole = _bin_lines(base, hashed)
            except records.RecordGone:
                whole = False
            if not whole:
                continue
            spool.seek(0)
            name = f"bins/{bin_id}.jsonl"
            with archive.open(name, "w", force_zip64=True) as file:
                shutil.copyfileobj(spool, file, 1 << 20)
            checksums[name] = hashed.sha.hexdigest()
            return base.version_count
    raise RuntimeError(f"bin {bin_id} kept changing while it was exported; export again")


def content_checksum(checksums: dict[str, str]) -> str:
    listing = "".join(f"{name} {checksums[name]}\n" for name in sorted(checksums))
    return hashlib.sha256(listing.encode()).hexdigest()


# -- import-backup ------------------------------------------------------------------------


def _lines(archive: zipfile.ZipFile, name: str) -> Iterator[Any]:
    with archive.open(name) as raw:
        for line in io.TextIOWrapper(raw, encoding="utf-8"):
            if line.strip():
                yield json.loads(line)


def _entry_checksum(archive: zipfile.ZipFile, name: str) -> str:
    sha = hashlib.sha256()
    with archive.open(name) as raw:
        for chunk in iter(lambda: raw.read(1 << 20), b""):
            sha.update(chunk)
    return sha.hexdigest()


def _latest_of(archive: zipfile.ZipFile, name: str) -> tuple[copying.BinImage, copying.Latest]:
    """The bin's head line and what tells it from the target's (one pass over the entry)."""
    lines = _lines(archive, name)
    head = next(lines)
    latest_created, latest_digest = head["createdAt"], copying.digest(head["record"])
    for version in lines:
        latest_created, latest_digest = version["createdAt"], copying.digest(version["record"])
    image = copying.BinImage(
        head["id"],
        head["private"],
        head["name"],
        head["createdAt"],
        head["collectionId"],
        head["record"],
        head["versionCount"],
    )
    latest = copying.Latest(
        image.private,
        image.name,
        image.created_at,
        image.collection_id,
        image.version_count,
        latest_created,
        latest_digest,
    )
    return image, latest


def import_backup(
    path: Path, account_id: str | None, verify: bool, state_path: Path | None, stream: IO[str] = sys.stderr
) -> tuple[int, dict[str, Any]]:
    summary = new_summary()
    state = State(state_path or path.with_name(path.name + ".import-state.jsonl"))
    with zipfile.ZipFile(path) as archive:
        manifest = json.loads(archive.read(MANIFEST))
        if manifest.get("format") != FORMAT:
            raise ValueError(f"{path} is not a binvault backup ({FORMAT})")
        checksums: dict[str, str] = manifest["checksums"]
        for name in ("keys.json", "schema-docs.jsonl", "collections.jsonl"):
            if _entry_checksum(archive, name) != checksums.get(name):
                raise ValueError(f"{name} does not match the manifest's checksum: the file is damaged")
        key_file = json.loads(archive.read("keys.json"))
        if account_id is not None:
            accounts.get_account(account_id)  # AccountNotFound
        else:
            account_id = manifest["accountId"]
            copying.ensure_account(account_id, key_file["masterKeyHash"], manifest["requestsRemaining"])
        assert account_id is not None
        summary["accountId"] = account_id
        state.write(accountId=account_id)
        state.start_pass()
        for doc in _lines(archive, "schema-docs.jsonl"):
            if copying.copy_schema_doc(account_id, doc["id"], doc["name"], doc["createdAt"], doc["schema"]):
                summary["schemaDocs"] += 1
        for c in _lines(archive, "collections.jsonl"):
            if copying.copy_collection(account_id, c["id"], c["name"], c["createdAt"], c["schemaDocId"]):
                summary["collections"] += 1
        for key in key_file["accessKeys"]:
            try:
                written = copying.copy_access_key_hash(
                    account_id,
                    key["id"],
                    key["hash"],
                    key["last4"],
                    key["name"],
                    frozenset(key["permissions"]),
                    key["createdAt"],
                )
                summary["accessKeys"] += int(written)
            except copying.KeyHeld as error:
                summary.setdefault("accessKeysNotCopied", []).append({"accessKeyId": key["id"], "reason": error.detail})
        names = [n for n in archive.namelist() if n.startswith("bins/") and n.endswith(".jsonl")]
        for done, name in enumerate(names, start=1):
            _import_bin(archive, name, account_id, checksums.get(name), verify, state, summary)
            stream.write(f"\rimported bins {done}/{len(names)}  versions {summary['versions']}")
    stream.write("\n")
    state.write(complete=True)
    failed = summary["bins"]["failed"] or summary.get("accessKeysNotCopied")
    return (1 if failed else 0), summary


def _import_bin(
    archive: zipfile.ZipFile,
    name: str,
    account_id: str,
    checksum: str | None,
    verify: bool,
    state: State,
    summary: dict[str, Any],
) -> None:
    bin_id = name.removeprefix("bins/").removesuffix(".jsonl")

    def fail(reason: str) -> None:
        summary["bins"]["failed"] += 1
        summary["failures"].append({"binId": bin_id, "reason": reason})

    if bin_id in state.done:
        summary["bins"]["skipped"] += 1
        return
    if checksum is None or _entry_checksum(archive, name) != checksum:
        fail("the entry does not match the manifest's checksum: the file is damaged")
        return
    image, latest = _latest_of(archive, name)
    if copying.same_as_target(account_id, bin_id, latest):
        summary["bins"]["skipped"] += 1
        state.write(bin=bin_id)
        return
    if copying.held_elsewhere(account_id, bin_id):
        fail("the id is held by another account on the target")
        return
    lines = _lines(archive, name)
    next(lines)  # the head, read above
    versions = (copying.VersionImage(v["version"], v["createdAt"], v["record"]) for v in lines)
    try:
        from binvault.models.settings import get_settings

        digests = copying.copy_bin(account_id, image, versions, get_settings().max_bin_bytes)
    except copying.CopyFailed as error:
        fail(error.detail)
        return
    if verify:
        problems = copying.verify(account_id, bin_id, digests)
        if problems:
            fail("verify: " + "; ".join(problems))
            return
        summary["verified"] = summary.get("verified", 0) + len(digests)
    summary["bins"]["copied"] += 1
    summary["versions"] += image.version_count
    state.write(bin=bin_id)


def _run_import(args: argparse.Namespace) -> int:
    status, summary = import_backup(
        Path(args.file), args.account, args.verify, Path(args.state_file) if args.state_file else None
    )
    print(json.dumps(summary))
    return status


def register(commands: Any) -> None:
    exporting = commands.add_parser("export", help="write an account (bins, versions, collections, keys) to a zip")
    exporting.add_argument("account_id")
    exporting.add_argument("--out", required=True, help="the backup file to write (a zip)")
    exporting.set_defaults(run=lambda args: export(args.account_id, Path(args.out)))
    restoring = commands.add_parser("import-backup", help="restore an export (resumable, idempotent)")
    restoring.add_argument("file")
    restoring.add_argument("--account", help="restore into this existing account (default: the backup's own)")
    restoring.add_argument("--verify", action="store_true", help="re-read every restored version and compare")
    restoring.add_argument("--state-file", help="where progress is kept (default: FILE.import-state.jsonl)")
    restoring.set_defaults(run=_run_import)
