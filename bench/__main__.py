"""`make bench`: every benchmark, bounded, loopback only; results in bench/results/.

python -m bench            the full run (a few minutes on two cores)
python -m bench --quick    a smoke run with small counts, into bench/results/quick/
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import (
    cold_start,
    delete_versions,
    imports,
    leases,
    listing,
    load,
    plots,
    quota_scale,
    report,
    round_trips,
    storage,
    throughput,
    usage_logs,
    validation,
    version_list,
)
from bench.common import RESULTS, bench_stack, load_average, machine_info, write_json


def _phase(results: dict[str, Any], name: str, work: Callable[[], Any]) -> Any:
    print(f"[bench] {name} ...", flush=True)
    started = time.perf_counter()
    results[name] = work()
    results["phase_seconds"][name] = round(time.perf_counter() - started, 1)
    print(f"[bench] {name} done in {results['phase_seconds'][name]} s", flush=True)
    return results[name]


def run(quick: bool, out: Path) -> dict[str, Any]:
    started = time.perf_counter()
    results: dict[str, Any] = {
        "command": "python -m bench --quick" if quick else "make bench",
        "quick": quick,
        "machine": machine_info(),
        "phase_seconds": {},
    }
    _phase(results, "storage", lambda: storage.run(quick))
    _phase(results, "round_trips", lambda: round_trips.run(quick))
    _phase(results, "quota_leases", lambda: leases.run(quick))
    _phase(results, "quota_scale", lambda: quota_scale.run(quick))
    _phase(results, "listing", lambda: listing.run(quick))
    _phase(results, "validation", lambda: validation.run(quick))
    _phase(results, "usage_logs", lambda: usage_logs.run(quick))
    _phase(results, "version_list", lambda: version_list.run(quick))
    _phase(results, "cold_start", lambda: cold_start.run(quick))  # its own in-memory stack
    _phase(results, "imports", lambda: imports.run(quick))  # its own child processes
    with tempfile.TemporaryDirectory(prefix="binvault-bench-") as scratch:
        with bench_stack(Path(scratch)) as stack:
            _phase(results, "delete_versions", lambda: delete_versions.run(stack, quick))
            _phase(results, "delete_versions_1mb", lambda: delete_versions.run_large(stack, quick))
            _phase(results, "load", lambda: load.run(stack, quick))
        _phase(results, "throughput", lambda: throughput.run(Path(scratch), quick))
    results["total_seconds"] = round(time.perf_counter() - started, 1)
    results["machine"]["load_average_at_end"] = load_average()

    out.mkdir(parents=True, exist_ok=True)
    plots.delete_versions(results["delete_versions"], out / "delete_versions.png")
    plots.delete_versions(results["delete_versions_1mb"], out / "delete_versions_1mb.png")
    (out / "units.md").write_text(storage.markdown(results["storage"]))
    plots.load(results["load"], results["delete_versions"], out / "load.png")
    write_json(out / "round_trips.json", results["round_trips"])
    (out / "round_trips.md").write_text(round_trips.markdown(results["round_trips"]))
    (out / "quota_leases.md").write_text(leases.markdown(results["quota_leases"]))
    quota_scale.write(results["quota_scale"], out)
    write_json(out / "listing.json", results["listing"])
    (out / "listing.md").write_text(listing.markdown(results["listing"]))
    write_json(out / "validation.json", results["validation"])
    (out / "validation.md").write_text(validation.markdown(results["validation"]))
    write_json(out / "usage_logs.json", results["usage_logs"])
    (out / "usage_logs.md").write_text(usage_logs.markdown(results["usage_logs"]))
    write_json(out / "version_list.json", results["version_list"])
    (out / "version_list.md").write_text(version_list.markdown(results["version_list"]))
    write_json(out / "cold_start.json", results["cold_start"])
    (out / "cold_start.md").write_text(cold_start.markdown(results["cold_start"]))
    write_json(out / "imports.json", results["imports"])
    (out / "imports.md").write_text(imports.markdown(results["imports"]))
    write_json(out / "results.json", results)
    (out / "SUMMARY.md").write_text(report.summary(results))
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small counts, a smoke run (into results/quick/)")
    args = parser.parse_args(argv)
    out = RESULTS / "quick" if args.quick else RESULTS
    results = run(args.quick, out)

    print()
    for line in report.headlines(results):
        print(f"  {line}")
    print()
    print(round_trips.markdown(results["round_trips"]))
    print(load.markdown(results["load"]))
    print(leases.markdown(results["quota_leases"]))
    print(quota_scale.markdown(results["quota_scale"]))
    print(listing.markdown(results["listing"]))
    print(usage_logs.markdown(results["usage_logs"]))
    print(version_list.markdown(results["version_list"]))
    print(throughput.markdown(results["throughput"]))
    print(imports.markdown(results["imports"]))
    print(
        f"results: {out.relative_to(Path.cwd()) if out.is_relative_to(Path.cwd()) else out}/ "
        f"(SUMMARY.md, results.json, round_trips.md, *.png); total {results['total_seconds']} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
