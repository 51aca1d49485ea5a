"""The measuring kit every stage's benchmark uses.

`measure` runs a function over batches and reports docs/s, units/s (characters
or tokens), per-batch latency percentiles and the mean batch size; `save_results`
writes benchmarks/results/<stage>.json and a markdown table that the README quotes.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"


def machine_note() -> str:
    """One line naming the machine the numbers came from."""
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, {platform.system()}"


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return 0.0
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def measure(
    name: str,
    fn: Callable[[Any], Any],
    batches: Sequence[Any],
    units: Callable[[Any], int] | None = None,
    unit_name: str = "chars",
    warmup: int = 1,
    progress: bool = True,
) -> dict[str, Any]:
    """Run `fn(batch)` over every batch (after `warmup` untimed batches) and summarize."""
    for batch in batches[:warmup]:
        fn(batch)
    latencies: list[float] = []
    docs = total_units = 0
    started = time.perf_counter()
    for n, batch in enumerate(batches, start=1):
        t0 = time.perf_counter()
        fn(batch)
        latencies.append(time.perf_counter() - t0)
        size = len(batch) if hasattr(batch, "__len__") else 1
        docs += size
        total_units += units(batch) if units else 0
        if progress and sys.stderr.isatty():
            print(f"\r  {name}: {n}/{len(batches)} batches", end="", file=sys.stderr, flush=True)
    elapsed = time.perf_counter() - started
    if progress and sys.stderr.isatty():
        print(file=sys.stderr)
    return {
        "name": name,
        "docs": docs,
        "seconds": round(elapsed, 3),
        "docs_per_s": round(docs / elapsed, 1) if elapsed else 0.0,
        f"{unit_name}_per_s": round(total_units / elapsed, 1) if elapsed else 0.0,
        "p50_ms": round(percentile(latencies, 50) * 1000, 2),
        "p95_ms": round(percentile(latencies, 95) * 1000, 2),
        "p99_ms": round(percentile(latencies, 99) * 1000, 2),
        "mean_batch": round(statistics.mean(len(b) for b in batches), 1) if batches else 0,
    }


def interleaved_rounds(systems: Mapping[str, Callable[[], object]], rounds: int) -> dict[str, list[float]]:
    """Seconds per round for each system: the systems run in turn, the order rotated every round, so that
    a change of load on a shared machine falls on all of them alike."""
    seconds: dict[str, list[float]] = {name: [] for name in systems}
    names = list(systems)
    for n in range(rounds):
        for name in names[n % len(names):] + names[: n % len(names)]:
            t0 = time.perf_counter()
            systems[name]()
            seconds[name].append(time.perf_counter() - t0)
        if sys.stderr.isatty():
            print(f"\r  round {n + 1}/{rounds}", end="", file=sys.stderr, flush=True)
    if rounds and sys.stderr.isatty():
        print(file=sys.stderr)
    return seconds


def spread(values: Sequence[float], digits: int = 1) -> str:
    """Median (min-max)."""
    return f"{statistics.median(values):.{digits}f} ({min(values):.{digits}f}-{max(values):.{digits}f})"


def load_note() -> str:
    """The 1/5/15-minute load averages, for a benchmark's note."""
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.1f}/{five:.1f}/{fifteen:.1f}"


def markdown_table(rows: Sequence[dict[str, Any]]) -> str:
    columns: list[str] = []
    for row in rows:
        columns.extend(k for k in row if k not in columns)
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in rows:
        lines.append("| " + " | ".join(str(row.get(c, "")) for c in columns) + " |")
    return "\n".join(lines)


def print_table(title: str, rows: Sequence[dict[str, Any]]) -> None:
    print(f"\n{title}\n")
    print(markdown_table(rows))


def save_results(stage: str, rows: Sequence[dict[str, Any]], note: str = "") -> Path:
    """Write results/<stage>.json and results/<stage>.md (the table quoted in the README)."""
    RESULTS.mkdir(exist_ok=True)
    payload = {"stage": stage, "machine": machine_note(), "note": note, "rows": list(rows)}
    (RESULTS / f"{stage}.json").write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n")
    md = f"Machine: {payload['machine']}.{(' ' + note) if note else ''}\n\n{markdown_table(rows)}\n"
    path = RESULTS / f"{stage}.md"
    path.write_text(md)
    return path
