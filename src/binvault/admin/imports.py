"""binvault-admin import-jsonbin: copy a whole account from a JSONBin v3 compatible API
(JSONBin itself, or another binvault) into a binvault account, on the operator side.

    binvault-admin import-jsonbin --source-url URL --source-master-key KEY
        (--account ACCOUNT_ID | --create-account --requests N)
        [--keep-master-key] [--dry-run [--count-versions]] [--verify]
        [--requests-per-minute N] [--state-file PATH]

What it reads from the source, each call one request of the source's quota: ``GET /c``
(collections), ``GET /s/{id}`` (each attached schema doc), ``GET /a`` (access keys with
their secrets), the listings ``GET /c/{id}/bins[/{lastBinId}]`` and
``GET /c/uncategorized/bins[/{lastBinId}]`` (10 a page), and per bin ``GET /b/{id}/latest``
(the count and the latest record), ``GET /b/{id}`` (the base record, when it has versions)
and ``GET /b/{id}/{n}`` for every other version: a bin of N versions costs N + 1 requests
(1 when it has none). What it writes goes straight to DynamoDB/S3 (``logic.imports``), so
it charges no quota and keeps the source's ids and timestamps.

Resumable: the state file (JSON lines, never a key) records the target account and each bin
done. A run that stopped (the source's quota, a crash, Ctrl-C) is resumed by the same
command: the bins already done are not read again. After a complete run, the next one
checks every bin (one request each) and copies only what changed. Exit status: 0, 1 when
any bin (or key) was not copied, 2 for bad arguments, 3 when the source's quota ran out.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from binvault.admin.accounts import requests_count
from binvault.admin.source import Source, SourceExhausted, SourceRefused
from binvault.dal import accounts
from binvault.exceptions import BinvaultError
from binvault.logic import auth
from binvault.logic import imports as copying
from binvault.models.bins import PERMISSIONS
from binvault.models.settings import get_settings

KEY_ENV = "JSONBIN_MASTER_KEY"
_ID = re.compile(r"[0-9a-f]{24}")
PAGE = 10
BATCH = 25  # versions stored at a time (dal.imports.BATCH): a stopped copy resumes from there
MASKED = "the source masks the key's secret (a binvault source: carry keys with export / import-backup)"


def new_summary(*counters: str) -> dict[str, Any]:
    """The JSON summary an import prints (import-jsonbin's and import-backup's), its counts at
    zero; ``counters`` are the importer's own extra counts."""
    return {
        "accountId": None,
        "bins": {"copied": 0, "skipped": 0, "failed": 0},
        "versions": 0,
        "collections": 0,
        "schemaDocs": 0,
        "accessKeys": 0,
        **dict.fromkeys(counters, 0),
        "failures": [],
    }


class State:
    """The state file: one JSON object a line, appended (a crash loses at most the line being
    written). ``{"accountId"}``, ``{"pass": n}`` (a run over all bins starts),
    ``{"bin": id}`` (done in this pass), ``{"complete": true}`` (the pass ended)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.account_id: str | None = None
        self.passes = 0
        self.done: set[str] = set()
        self.partial: dict[str, dict[str, Any]] = {}  # bins stopped midway: versions stored so far
        self.complete = False
        if path.exists():
            for line in path.read_text().splitlines():
                try:
                    entry = json.loads(line)
                except ValueError:
                    continue  # a line cut by a crash
                self.account_id = entry.get("accountId", self.account_id)
                if "pass" in entry:
                    self.passes, self.done, self.complete, self.partial = entry["pass"], set(), False, {}
                elif "bin" in entry:
                    self.done.add(entry["bin"])
                    self.partial.pop(entry["bin"], None)
                elif "partial" in entry:
                    self._note_partial(entry)
                elif entry.get("complete"):
                    self.complete = True

    def _note_partial(self, entry: dict[str, Any]) -> None:
        """``{"partial": binId, "generation", "targetRev", "latest", "written", "digests"}``: one
        more batch of a bin's versions stored (``digests``: just that batch's)."""
        where = (entry["generation"], entry["targetRev"], entry["latest"])
        known = self.partial.get(entry["partial"])
        if known is None or known["where"] != where:
            known = self.partial[entry["partial"]] = {"where": where, "digests": []}
        del known["digests"][entry["written"] - len(entry["digests"]) :]  # a resumed copy restarts there
        known["digests"].extend(tuple(d) for d in entry["digests"])
        if len(known["digests"]) != entry["written"]:
            del self.partial[entry["partial"]]  # a line lost in between: start that bin again

    def write(self, **entry: Any) -> None:
        with self.path.open("a") as file:
            file.write(json.dumps(entry) + "\n")

    def start_pass(self) -> None:
        """A new pass when the last one completed; else this run resumes the last one."""
        if self.complete or self.passes == 0:
            self.passes += 1
            self.done = set()
            self.partial = {}
            self.complete = False
            self.write(**{"pass": self.passes})


class Progress:
    """One line on stderr, rewritten: bins done of all, versions, source requests."""

    def __init__(self, stream: IO[str], source: Source) -> None:
        self.stream = stream
        self.source = source
        self.total = 0
        self.bins = 0
        self.versions = 0
        self._shown = 0.0

    def show(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._shown < 0.2:
            return
        self._shown = now
        width = 24
        filled = width * self.bins // self.total if self.total else width
        bar = "#" * filled + "." * (width - filled)
        self.stream.write(
            f"\r[{bar}] bins {self.bins}/{self.total}  versions {self.versions}  source requests {self.source.requests}"
        )
        self.stream.flush()

    def end(self) -> None:
        self.show(force=True)
        self.stream.write("\n")


def default_state_file(url: str) -> Path:
    return Path(f".binvault-import-{hashlib.sha256(url.rstrip('/').encode()).hexdigest()[:12]}.jsonl")


def _listing(source: Source, collection_id: str | None) -> Iterator[dict[str, Any]]:
    """Every bin of a collection (or the uncategorized ones), oldest first, 10 a request."""
    where = collection_id or "uncategorized"
    last: str | None = None
    while True:
        page = source.get(f"/c/{where}/bins" + (f"/{last}" if last else ""), {"X-Sort-Order": "ascending"})
        if not isinstance(page, list):
            raise SourceRefused(200, f"the listing of {where} is not a list")
        for entry in page:
            yield {**entry, "collectionId": collection_id}
        if len(page) < PAGE:
            return
        last = page[-1]["record"]


def _permissions(raw: Any) -> frozenset[str]:
    bins = (raw or {}).get("bins", {}) if isinstance(raw, dict) else {}
    return frozenset(p for p in PERMISSIONS if bins.get(p) is True)


class Importer:
    def __init__(self, args: argparse.Namespace, source: Source, state: State, progress: Progress) -> None:
        self.args = args
        self.source = source
        self.state = state
        self.progress = progress
        self.max_bin_bytes = get_settings().max_bin_bytes
        self.summary = new_summary("sourceRequests")

    def fail(self, bin_id: str, reason: str) -> None:
        self.summary["bins"]["failed"] += 1
        self.summary["failures"].append({"binId": bin_id, "reason": reason})

    # -- the account and its parts --------------------------------------------------------

    def account(self, key: str) -> str:
        args = self.args
        if args.account:
            account_id: str = args.account
            accounts.get_account(account_id)  # AccountNotFound: "account not found", status 1
        elif self.state.account_id:
            account_id, _ = copying.ensure_account(self.state.account_id, auth.hash_key(key), args.requests)
        else:
            new_key = key if args.keep_master_key else auth.new_master_key()
            account_id, _ = copying.ensure_account(None, auth.hash_key(new_key), args.requests)
            if not args.keep_master_key:
                self.summary["masterKey"] = new_key  # printed once, never stored
        self.state.write(accountId=account_id)
        if args.keep_master_key:
            copying.keep_master_key(account_id, key)
        self.summary["accountId"] = account_id
        return account_id

    def collections(self, account_id: str) -> list[str]:
        listed = self.source.get("/c")
        found: list[str] = []
        for entry in listed if isinstance(listed, list) else []:
            collection_id, doc_id = entry.get("record"), entry.get("schemaDocId")
            if not isinstance(collection_id, str) or not _ID.fullmatch(collection_id):
                raise SourceRefused(200, f"collection id {collection_id!r} is not a binvault id")
            if doc_id is not None:
                doc = self.source.get(f"/s/{doc_id}")
                meta = doc.get("metadata", {})
                if copying.copy_schema_doc(
                    account_id, doc_id, meta.get("name", ""), meta.get("createdAt", ""), doc["record"]
                ):
                    self.summary["schemaDocs"] += 1
            name = (entry.get("collectionMeta") or {}).get("name", "")
            if copying.copy_collection(account_id, collection_id, name, entry.get("createdAt", ""), doc_id):
                self.summary["collections"] += 1
            found.append(collection_id)
        return found

    def access_keys(self, account_id: str) -> None:
        listed = self.source.get("/a")
        for entry in listed if isinstance(listed, list) else []:
            secret, key_id = entry.get("accessKey") or "", entry.get("accessKeyId") or ""
            if not secret or "*" in secret:
                # A binvault source masks its keys (it stores only hashes): said, not an error
                # (``binvault-admin export`` / ``import-backup`` carry them across).
                self.summary.setdefault("accessKeysNotCopied", []).append({"accessKeyId": key_id, "reason": MASKED})
                continue
            if not _ID.fullmatch(key_id):  # keep a foreign id's key, under an id of its own
                key_id = hashlib.sha256(secret.encode()).hexdigest()[:24]
            name = str((entry.get("metadata") or {}).get("name") or "imported")[:32]
            try:
                if copying.copy_access_key(account_id, key_id, secret, name, _permissions(entry.get("keyPermissions"))):
                    self.summary["accessKeys"] += 1
            except (copying.KeyHeld, BinvaultError) as error:
                reason = error.detail if isinstance(error, copying.KeyHeld) else error.message
                self.summary.setdefault("accessKeysNotCopied", []).append({"accessKeyId": key_id, "reason": reason})

    # -- the bins -------------------------------------------------------------------------

    def bin(self, account_id: str, listed: dict[str, Any]) -> None:
        bin_id = listed.get("record")
        if not isinstance(bin_id, str) or not _ID.fullmatch(bin_id):
            self.fail(str(bin_id), "the id is not a 24-hex-digit bin id")
            return
        if bin_id in self.state.done:
            self.summary["bins"]["skipped"] += 1
            return
        if copying.held_elsewhere(account_id, bin_id):
            self.fail(bin_id, "the id is held by another account on the target")
            return
        try:
            latest = self.source.get(f"/b/{bin_id}/latest")
            meta = latest["metadata"]
            count = meta.get("version")
            if not isinstance(count, int):
                count = self.source.get(f"/b/{bin_id}/versions/count")["metadata"]["versionCount"]
            created_at = listed.get("createdAt") if count else meta.get("createdAt", listed.get("createdAt"))
            summary = copying.Latest(
                private=bool(meta.get("private", listed.get("private", True))),
                name=meta.get("name", (listed.get("snippetMeta") or {}).get("name")),
                created_at=str(created_at),
                collection_id=meta.get("collectionId", listed["collectionId"]),
                version_count=count,
                latest_created_at=str(meta.get("createdAt")),
                latest_digest=copying.digest(latest["record"]),
            )
            if copying.same_as_target(account_id, bin_id, summary):
                self.summary["bins"]["skipped"] += 1
                self.state.write(bin=bin_id)
                return
            base = latest if count == 0 else self.source.get(f"/b/{bin_id}")
            image = copying.BinImage(
                bin_id, summary.private, summary.name, summary.created_at, summary.collection_id, base["record"], count
            )
            resume = self._resume(bin_id, summary)
            first = resume.written + 1 if resume is not None else 1
            digests = copying.copy_bin(
                account_id,
                image,
                self._versions(bin_id, count, latest, first),
                self.max_bin_bytes,
                resume,
                lambda stopped: self._stopped(bin_id, summary, stopped),
            )
        except SourceRefused as error:
            self.fail(bin_id, f"the source refused it: {error.status} {error.message}")
            return
        except copying.CopyFailed as error:
            self.fail(bin_id, error.detail)
            return
        if self.args.verify:
            problems = copying.verify(account_id, bin_id, digests)
            if problems:
                self.fail(bin_id, "verify: " + "; ".join(problems))
                return
            self.summary.setdefault("verified", 0)
            self.summary["verified"] += len(digests)
        self.summary["bins"]["copied"] += 1
        self.summary["versions"] += count
        self.state.write(bin=bin_id)

    def _resume(self, bin_id: str, summary: copying.Latest) -> copying.Resume | None:
        """Where a copy of this bin that stopped midway (the source's quota, a crash) stands,
        when the source's bin and the target's are both as they were then."""
        known = self.state.partial.get(bin_id)
        if known is None:
            return None
        generation, rev, latest = known["where"]
        if latest != [summary.version_count, summary.latest_created_at, summary.latest_digest]:
            return None
        if rev != copying.target_rev(bin_id):
            return None
        written = min(len(known["digests"]), summary.version_count - 1)  # the latest is stored again
        return copying.Resume(generation, written, known["digests"][:written], rev)

    def _stopped(self, bin_id: str, summary: copying.Latest, where: copying.Resume) -> None:
        self.state.write(
            partial=bin_id,
            generation=where.generation,
            targetRev=where.target_rev,
            latest=[summary.version_count, summary.latest_created_at, summary.latest_digest],
            written=where.written,
            digests=where.digests[-BATCH:],
        )

    def _versions(
        self, bin_id: str, count: int, latest: dict[str, Any], first: int = 1
    ) -> Iterator[copying.VersionImage]:
        for number in range(first, count + 1):
            answer = latest if number == count else self.source.get(f"/b/{bin_id}/{number}")
            self.progress.versions += 1
            self.progress.show()
            yield copying.VersionImage(number, str(answer["metadata"].get("createdAt")), answer["record"])

    def run(self, key: str) -> int:
        account_id = self.account(key)
        self.state.start_pass()
        collection_ids = self.collections(account_id)
        self.access_keys(account_id)
        listed = [entry for where in [*collection_ids, None] for entry in _listing(self.source, where)]
        self.progress.total = len(listed)
        for entry in listed:
            self.bin(account_id, entry)
            self.progress.bins += 1
            self.progress.show()
        self.state.write(complete=True)
        refused = [k for k in self.summary.get("accessKeysNotCopied", []) if k["reason"] != MASKED]
        return 1 if self.summary["bins"]["failed"] or refused else 0

    def dry_run(self) -> int:
        """Read only the listings (and with --count-versions each bin's count): what an
        import would copy, and what it would cost the source."""
        listed = self.source.get("/c")
        collections = [c for c in listed if isinstance(c, dict)] if isinstance(listed, list) else []
        docs = {c["schemaDocId"] for c in collections if c.get("schemaDocId")}
        bins = [e for where in [*(c["record"] for c in collections), None] for e in _listing(self.source, where)]
        listing_requests = self.source.requests
        versions: int | None = None
        if self.args.count_versions:
            versions = 0
            for entry in bins:
                versions += self.source.get(f"/b/{entry['record']}/versions/count")["metadata"]["versionCount"]
        per_bin = len(bins) + (versions or 0)  # N + 1 for a bin of N versions, 1 with none (a lower bound)
        estimate = listing_requests + len(docs) + 1 + per_bin
        self.summary = {
            "dryRun": True,
            "bins": len(bins),
            "versions": versions,
            "collections": len(collections),
            "schemaDocs": len(docs),
            "sourceRequests": self.source.requests,
            "estimate": {
                "sourceRequests": estimate,
                "exact": versions is not None,
                "note": "an import costs N + 1 requests for a bin of N versions (1 with none)"
                + ("" if versions is not None else "; without --count-versions the versions are not counted"),
            },
        }
        return 0


def run(args: argparse.Namespace) -> int:
    key = args.source_master_key or os.environ.get(KEY_ENV)
    if not key:
        print(
            json.dumps({"error": f"no source master key: pass --source-master-key or set {KEY_ENV}"}), file=sys.stderr
        )
        return 2
    if not args.dry_run and not args.account and args.requests is None:
        print(json.dumps({"error": "--create-account needs --requests N"}), file=sys.stderr)
        return 2
    source = Source(args.source_url, key, args.requests_per_minute)
    state = State(Path(args.state_file) if args.state_file else default_state_file(args.source_url))
    progress = Progress(sys.stderr, source)
    importer = Importer(args, source, state, progress)
    status = 1
    try:
        status = importer.dry_run() if args.dry_run else importer.run(key)
    except SourceExhausted as error:
        status = 3
        print(
            f"\nthe source's requests are exhausted ({error}). Nothing is lost: what is done is in "
            f"{state.path}. Run the same command again (with the same --state-file) once the source "
            "has requests again; it goes on where it stopped.",
            file=sys.stderr,
        )
    except copying.KeyHeld as error:
        print(json.dumps({"error": error.detail}), file=sys.stderr)
        status = 1
    except SourceRefused as error:
        print(json.dumps({"error": f"the source refused: {error.status} {error.message}"}), file=sys.stderr)
        status = 1
    finally:
        progress.end()
        importer.summary["sourceRequests"] = source.requests
        print(json.dumps(importer.summary))
    return status


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "import-jsonbin",
        help="copy a whole JSONBin (or binvault) account: same bin ids, every version, the same keys",
        description=(
            "Copy a whole account from a JSONBin v3 compatible API into a binvault account. The source's "
            f"master key may come from ${KEY_ENV} instead of --source-master-key (JSONBin keys start "
            "with $2a$10$, which shells and make expand: the variable needs no escaping). Exit status 3 "
            "when the source's requests ran out: run the same command again later to resume."
        ),
    )
    parser.add_argument("--source-url", required=True, help="the source's v3 root, e.g. https://api.jsonbin.io/v3")
    parser.add_argument("--source-master-key", help=f"the source account's X-Master-Key (default: ${KEY_ENV})")
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--account", help="import into this existing account")
    target.add_argument("--create-account", action="store_true", help="import into a new account (needs --requests)")
    parser.add_argument("--requests", type=requests_count, help="the new account's request quota")
    parser.add_argument(
        "--keep-master-key", action="store_true", help="the target account's master key becomes the source's (hashed)"
    )
    parser.add_argument("--dry-run", action="store_true", help="read only the listings: what would be copied, the cost")
    parser.add_argument(
        "--count-versions", action="store_true", help="with --dry-run: one more request a bin, for an exact estimate"
    )
    parser.add_argument("--verify", action="store_true", help="re-read every copied version on the target, compare")
    parser.add_argument(
        "--requests-per-minute", type=int, default=None, help="pace the source calls (default: no pacing)"
    )
    parser.add_argument("--state-file", help="where progress is kept (default: .binvault-import-<hash of URL>.jsonl)")
    parser.set_defaults(run=run)
