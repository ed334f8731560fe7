"""The PNG plots (matplotlib, Agg backend: no display needed)."""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt


def _log_axis(axis: Any, ticks: list[int]) -> None:
    """A log x axis labelled with the measured values themselves (1, 10, 100, 1000)."""
    axis.set_xscale("log")
    axis.set_xticks(ticks, [f"{t:,}" for t in ticks])
    axis.minorticks_off()


def delete_versions(result: dict[str, Any], path: Path) -> None:
    sizes = [int(size) for size in result["delete_ms"]]
    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    for size in sizes:
        samples = result["delete_samples_ms"][str(size)]
        left.scatter([size] * len(samples), samples, color="tab:blue", alpha=0.5, s=18)
    medians = [result["delete_ms"][str(size)]["p50_ms"] for size in sizes]
    left.plot(sizes, medians, marker="o", color="tab:blue", label="DELETE /versions (median)")
    _log_axis(left, sizes)
    left.set_ylim(bottom=0, top=max(max(s) for s in result["delete_samples_ms"].values()) * 1.3)
    left.set_xlabel("versions in the bin")
    left.set_ylabel("response time (ms)")
    left.set_title(
        f"Request: time({sizes[-1]}) / time({sizes[0]}) = {result['ratio']}x (medians), "
        f"{result['ratio_of_minimums']}x (fastest)",
        fontsize=10,
    )
    left.grid(True, which="both", alpha=0.3)
    left.legend(loc="lower right")

    purge_sizes, purge_medians = [], []
    for size in sizes:
        done = sorted(p for p in result["purge_seconds"][str(size)] if p is not None)
        if done:
            purge_sizes.append(size)
            purge_medians.append(statistics.median(done))
    right.plot(purge_sizes, purge_medians, marker="s", color="tab:orange", label="old versions gone (median)")
    _log_axis(right, sizes)
    right.set_ylim(bottom=0)
    right.set_xlabel("versions in the bin")
    right.set_ylabel("seconds after the 200")
    right.set_title("Background purge (stream -> BatchWriteItem)")
    right.grid(True, which="both", alpha=0.3)
    right.legend(loc="upper left")
    kb = round(result.get("record_bytes", 1000) / 1000)
    stored = ", records in S3" if kb >= 1000 else ""
    figure.suptitle(
        f"binvault DELETE /v3/b/{{id}}/versions (X-Preserve-Latest: true), ~{kb:,} KB records{stored}, local stack"
    )
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def load(result: dict[str, Any], versions: dict[str, Any] | None, path: Path) -> None:
    panels = 3 if versions else 2
    figure, axes = plt.subplots(1, panels, figsize=(5.2 * panels, 4.2))
    mixed = result["mixed"]
    operations = list(result["mix"])
    width = 0.26
    for offset, (key, color) in enumerate((("p50_ms", "tab:green"), ("p95_ms", "tab:orange"), ("p99_ms", "tab:red"))):
        values = [mixed["operations"][op].get(key, 0) for op in operations]
        axes[0].bar(
            [i + (offset - 1) * width for i in range(len(operations))],
            values,
            width,
            label=key[:3],
            color=color,
        )
    axes[0].set_xticks(range(len(operations)), [op.replace(" ", "\n", 1) for op in operations], fontsize=8)
    axes[0].set_ylabel("ms")
    axes[0].set_title(f"Mixed load: {mixed['requests_per_second']} req/s, {mixed['threads']} threads")
    tallest = max(mixed["operations"][op].get("p99_ms", 0) for op in operations)
    axes[0].set_ylim(0, tallest * 1.25 or 1)
    axes[0].legend(loc="upper left", ncols=3, fontsize=8)
    axes[0].grid(True, axis="y", alpha=0.3)

    sizes = [int(size) for size in result["record_size"]]
    for operation, color in (("PUT versioned", "tab:blue"), ("GET /latest", "tab:purple")):
        rows = [result["record_size"][str(size)][operation] for size in sizes]
        p50 = [row["p50_ms"] for row in rows]
        above = [row["p95_ms"] - row["p50_ms"] for row in rows]
        axes[1].errorbar(sizes, p50, yerr=[[0] * len(p50), above], marker="o", capsize=4, label=operation, color=color)
    _log_axis(axes[1], sizes)
    axes[1].set_ylim(bottom=0)
    axes[1].set_xlabel("record size (bytes of JSON)")
    axes[1].set_ylabel("ms (p50, bar to p95)")
    axes[1].set_title("Latency vs record size (sequential)")
    axes[1].legend()
    axes[1].grid(True, which="both", alpha=0.3)

    if versions:
        counts = [int(c) for c in versions["delete_ms"]]
        series = {"DELETE /versions": [versions["delete_ms"][str(c)]["p50_ms"] for c in counts]}
        for name, rows in versions["latency_vs_versions"].items():
            series[name] = [rows[str(c)]["p50_ms"] for c in counts]
        for name, values in series.items():
            axes[2].plot(counts, values, marker="o", label=name)
        _log_axis(axes[2], counts)
        axes[2].set_ylim(bottom=0)
        axes[2].set_xlabel("versions in the bin")
        axes[2].set_ylabel("ms (p50)")
        axes[2].set_title("Latency vs version count (sequential)")
        axes[2].legend(fontsize=8)
        axes[2].grid(True, which="both", alpha=0.3)
    figure.suptitle("binvault on the local stack (moto DynamoDB, loopback)")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
