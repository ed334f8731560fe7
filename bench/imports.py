"""Moving in (issue 21): `python -m bench.imports [--quick]`.

- import throughput: ``binvault-admin import-jsonbin`` from a local JSONBin v3 source (the
  tests' fake account, tests/support/fake_jsonbin.py, over loopback HTTP) into moto
  in-process: versions per second and source requests per version;
- peak memory of ``export`` and ``import-backup`` for the same account (>= 10,000 versions
  in the full run), measured with tracemalloc (Python allocations at their peak) in a child
  process per size, at two sizes, so that "bounded" is a comparison, not a claim: the peak
  must not grow with the account.

Each measurement runs in its own child process (a fresh interpreter: nothing cached from a
previous phase, and the peak RSS, ru_maxrss, is its own). Loopback only, moto only.
Results: bench/results/imports.json and imports.md.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from typing import Any

from tests.support.stack import ROOT, child_env

from bench.common import RESULTS, load_average, write_json

CHILD = r"""
import io, json, os, resource, sys, tempfile, time, tracemalloc
from pathlib import Path
sys.path.insert(0, os.getcwd())
from bench.inproc import ENV
os.environ.update(ENV)
from tests.support.inproc import moto_tables, reset_caches
from tests.support.fake_jsonbin import FakeAccount, fake_jsonbin

bins, versions, size = (int(a) for a in sys.argv[1:4])
fake = FakeAccount()
def pad():  # hex noise: records that compress as little as real data
    return os.urandom(size // 2).hex()
for b in range(bins):
    history = [{"bin": b, "v": v, "pad": pad()} for v in range(1, versions + 1)]
    fake.add_bin({"bin": b, "pad": pad()}, versions=history)
report = {"bins": bins, "versions": bins * versions, "record_bytes": size}
scratch = Path(tempfile.mkdtemp())
with moto_tables(ENV):
    from binvault import admin
    from binvault.admin import backups
    from binvault.local.template_tables import create_tables
    from binvault.dal.client import dynamodb
    account = admin.create_account(1000)["accountId"]
    with fake_jsonbin(fake) as source:
        started = time.perf_counter()
        out = io.StringIO()
        sys.stdout, saved = out, sys.stdout
        code = admin.main(["import-jsonbin", "--source-url", source.url, "--source-master-key", fake.master_key,
                           "--account", account, "--state-file", str(scratch / "state")])
        sys.stdout = saved
        seconds = time.perf_counter() - started
        summary = json.loads(out.getvalue().splitlines()[-1])
        assert code == 0 and summary["versions"] == bins * versions, summary
        report["import"] = {"seconds": round(seconds, 2), "versions_per_second": round(bins * versions / seconds, 1),
                            "source_requests": source.requests,
                            "requests_per_version": round(source.requests / (bins * versions), 3)}
    sink = io.StringIO()
    tracemalloc.start()
    exported = backups.export(account, scratch / "a.zip", stream=sink)
    report["export"] = {"peak_python_bytes": tracemalloc.get_traced_memory()[1],
                        "file_bytes": (scratch / "a.zip").stat().st_size, "counts": exported["counts"]}
    tracemalloc.stop()
    os.environ["TABLE_NAME"] = "binvault-bench-restore"
    reset_caches()
    create_tables(dynamodb(), "binvault-bench-restore", "binvault-bench-restore-idem")
    tracemalloc.start()
    code, restored = backups.import_backup(scratch / "a.zip", None, False, scratch / "restore-state", stream=sink)
    current, peak = tracemalloc.get_traced_memory()
    # what moto keeps of the restored table is traced too: the working memory is the rest
    report["import_backup"] = {"peak_python_bytes": peak, "retained_bytes": current, "working_bytes": peak - current}
    tracemalloc.stop()
    assert code == 0 and restored["versions"] == bins * versions, restored
report["peak_rss_kib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps(report))
"""


def _child(bins: int, versions: int, size: int) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(bins), str(versions), str(size)],
        cwd=ROOT,
        env=child_env(PYTHONPATH=f"{ROOT / 'src'}:{ROOT}"),
        capture_output=True,
        text=True,
        timeout=3600,
    )
    if done.returncode != 0:
        raise RuntimeError(f"bench.imports child failed:\n{done.stderr[-4000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def run(quick: bool) -> dict[str, Any]:
    # the full run: 100 bins of 100 versions (10,000 versions) and a tenth of it to compare
    bins, versions, size = (10, 20, 500) if quick else (100, 100, 500)
    small = _child(max(1, bins // 10), versions, size)
    large = _child(bins, versions, size)
    return {
        "command": "python -m bench.imports" + (" --quick" if quick else ""),
        "load_average": load_average(),
        "small": small,
        "large": large,
        "export_peak_growth": round(large["export"]["peak_python_bytes"] / small["export"]["peak_python_bytes"], 2),
        "import_backup_working_growth": round(
            large["import_backup"]["working_bytes"] / small["import_backup"]["working_bytes"], 2
        ),
    }


def markdown(results: dict[str, Any]) -> str:
    def mib(value: int) -> str:
        return f"{value / 1048576:.1f} MiB"

    rows = [
        "| account | import (versions/s) | source requests/version | export peak | import-backup peak "
        "(working) | backup file | peak RSS |",
        "|---|---|---|---|---|---|---|",
    ]
    for key in ("small", "large"):
        r = results[key]
        rows.append(
            f"| {r['bins']} bins, {r['versions']} versions of ~{r['record_bytes']} B "
            f"| {r['import']['versions_per_second']} | {r['import']['requests_per_version']} "
            f"| {mib(r['export']['peak_python_bytes'])} | {mib(r['import_backup']['peak_python_bytes'])} "
            f"({mib(r['import_backup']['working_bytes'])}) "
            f"| {r['export']['file_bytes'] / 1024:.0f} KiB | {r['peak_rss_kib'] / 1024:.0f} MiB |"
        )
    return (
        "## Moving in: import-jsonbin, export, import-backup\n\n"
        f"`{results['command']}`; the source is a local JSONBin v3 fake over loopback HTTP, the target moto\n"
        "in-process (so these are the importer's own costs, not JSONBin's latency: against JSONBin\n"
        "the source's pacing, `--requests-per-minute`, decides). Peaks are Python allocations at\n"
        "their highest (tracemalloc) during the command; an import-backup's peak includes the rows\n"
        "moto keeps in memory for the restored table, its working memory is the peak less what is\n"
        "still held at the end. RSS is the whole child process (moto's tables included).\n\n"
        + "\n".join(rows)
        + f"\n\nA 10x larger account: export peak x{results['export_peak_growth']}, "
        f"import-backup working memory x{results['import_backup_working_growth']} (bounded: one version page and one\n"
        "record at a time, a bin's entry spooled to disk beyond 1 MB).\n"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.imports")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    results = run(args.quick)
    out = RESULTS / "quick" if args.quick else RESULTS
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "imports.json", results)
    (out / "imports.md").write_text(markdown(results))
    print(markdown(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
