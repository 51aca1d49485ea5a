"""Sustained overload: ingest at about twice the pipeline's capacity, then watch it drain.

    python -m benchmarks.load            # 120 s of overload
    python -m benchmarks.load --quick    # 30 s
    python -m benchmarks.load --duration 300 --services langid

Steps: start the broker and every stream service (LocalPipeline, private ports); measure
the capacity with a burst of documents (docs/s from the first to the last output on the
furthest topic); produce at `--factor` (2) times that rate for `--duration` seconds while
sampling each worker's resident memory (/proc) and consumer lag (its /metrics gauge
`claimstream_consumer_lag`); stop producing and time the drain until every id has
arrived. Results: benchmarks/results/load.json and load.md.

Bounded memory under overload is the point: a worker that buffered without limit would
grow with the backlog; ours take a batch only after the last one was delivered.
"""

from __future__ import annotations

import argparse
import importlib
import os
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from claimstream.core.settings import ENV_PREFIX, STAGE_NAMES, Settings
from claimstream.kafka.clients import make_consumer
from claimstream.local.broker import free_port
from claimstream.local.launcher import LocalPipeline

from benchmarks.harness import machine_note, print_table, save_results
from tests.fixtures.ingest import ingest_messages, metric_sum, produce

# Quick group joins, as in the fault tests; the service processes read them from the environment.
WORKER_ENV = {"SESSION_TIMEOUT": "10", "REBALANCE_TIMEOUT": "10", "HEARTBEAT_INTERVAL": "1", "COMMIT_INTERVAL": "0.5"}


class Arrivals(threading.Thread):
    """Counts distinct keys on a topic (from the beginning) and when each first arrived."""

    def __init__(self, settings: Settings, topic: str) -> None:
        super().__init__(daemon=True)
        self.settings, self.topic = settings, topic
        self.first_seen: dict[str, float] = {}
        self.halt = threading.Event()

    def run(self) -> None:
        consumer = make_consumer(self.settings, [self.topic], from_beginning=True)
        try:
            while not self.halt.is_set():
                for records in consumer.poll(timeout_ms=300).values():
                    now = time.monotonic()
                    for record in records:
                        self.first_seen.setdefault((record.key or b"").decode(), now)
        finally:
            consumer.close()

    def arrived(self, ids: Sequence[str]) -> int:
        seen = self.first_seen
        return sum(1 for i in ids if i in seen)

    def wait(self, ids: Sequence[str], timeout: float) -> float | None:
        """Monotonic time when the last of `ids` arrived, or None at the timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.arrived(ids) == len(ids):
                return max(self.first_seen[i] for i in ids)
            time.sleep(0.2)
        return None


def proc_memory_mb(pid: int) -> tuple[float, float]:
    """(current RSS, peak RSS) of a process in MiB, from /proc/<pid>/status."""
    values = {"VmRSS": 0.0, "VmHWM": 0.0}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, rest = line.partition(":")
            if key in values:
                values[key] = int(rest.split()[0]) / 1024
    except (OSError, ValueError):
        pass
    return values["VmRSS"], values["VmHWM"]


def scrape_lag(port: int) -> float | None:
    """Sum of claimstream_consumer_lag over a worker's partitions, or None when unreadable."""
    try:
        return metric_sum(port, "claimstream_consumer_lag", timeout=2)
    except OSError:
        return None


class Sampler(threading.Thread):
    """Once a second: every worker's RSS and consumer lag; keeps the maxima."""

    def __init__(self, pipeline: LocalPipeline) -> None:
        super().__init__(daemon=True)
        self.pipeline = pipeline
        self.halt = threading.Event()
        self.rss_start: dict[str, float] = {}
        self.rss_max: dict[str, float] = {}
        self.lag_max: dict[str, float] = {}

    def run(self) -> None:
        while not self.halt.wait(1.0):
            for proc in self.pipeline.processes:
                rss, _ = proc_memory_mb(proc.process.pid)
                self.rss_start.setdefault(proc.name, rss)
                self.rss_max[proc.name] = max(self.rss_max.get(proc.name, 0.0), rss)
                lag = scrape_lag(proc.port)
                if lag is not None:
                    self.lag_max[proc.name] = max(self.lag_max.get(proc.name, 0.0), lag)


def run(duration: float, factor: float, services: Sequence[str], calibration_docs: int,
        drain_timeout: float) -> list[dict[str, Any]]:
    workdir = Path(tempfile.mkdtemp(prefix="claimstream-load-"))
    os.environ.update({ENV_PREFIX + k: v for k, v in WORKER_ENV.items()})
    os.environ[ENV_PREFIX + "DATA_DIR"] = str(workdir / "state")
    settings = Settings.load().replace(broker_port=free_port())
    ports = {name: free_port() for name in services}
    final_topic = importlib.import_module(f"claimstream.{services[-1]}.service").spec(settings).output_topic
    print(f"load: {' -> '.join(services)}; logs in {workdir / 'logs'}", flush=True)
    with LocalPipeline(settings, services, log_dir=workdir / "logs", ports=ports) as pipeline:
        live = settings.replace(bootstrap=pipeline.bootstrap)
        arrivals = Arrivals(live, final_topic)
        arrivals.start()

        burst = ingest_messages("calibrate", calibration_docs)
        burst_ids = [d for d, _ in burst]
        start = time.monotonic()
        produce(live, burst, None)
        done = arrivals.wait(burst_ids, drain_timeout)
        if done is None:
            raise SystemExit(f"calibration: {arrivals.arrived(burst_ids)}/{len(burst_ids)} arrived; see the logs")
        capacity = len(burst_ids) / (done - start)
        rate = factor * capacity
        print(f"capacity ≈ {capacity:.1f} docs/s; offering {rate:.1f} docs/s for {duration:.0f} s", flush=True)

        sampler = Sampler(pipeline)
        sampler.start()
        load = ingest_messages("load", max(1, int(rate * duration)))
        load_ids = [d for d, _ in load]
        load_started = time.monotonic()
        achieved = produce(live, load, rate)
        produced_at = time.monotonic()
        backlog = len(load_ids) - arrivals.arrived(load_ids)
        done = arrivals.wait(load_ids, drain_timeout)
        sampler.halt.set()
        sampler.join(5)
        arrivals.halt.set()
        arrived = arrivals.arrived(load_ids)
        alive = {p.name: p.process.poll() is None for p in pipeline.processes}
        peaks = {p.name: proc_memory_mb(p.process.pid)[1] for p in pipeline.processes}
        summary = {
            "name": "pipeline",
            "capacity_docs_per_s": round(capacity, 1),
            "offered_docs_per_s": round(achieved, 1),
            "ingest_s": round(produced_at - load_started, 1),
            "sent": len(load_ids),
            "arrived": arrived,
            "lost": len(load_ids) - arrived,
            "backlog_at_stop": backlog,
            "drain_s": round(done - produced_at, 1) if done is not None else f">{drain_timeout:.0f}",
        }
        rows: list[dict[str, Any]] = [summary]
        for name in services:
            rows.append({
                "name": name,
                "rss_start_mb": round(sampler.rss_start.get(name, 0.0), 1),
                "rss_max_mb": round(sampler.rss_max.get(name, 0.0), 1),
                "peak_rss_mb": round(peaks.get(name, 0.0), 1),  # VmHWM: includes model loading
                "max_lag": int(sampler.lag_max.get(name, 0)),
                "alive": alive.get(name, False),
            })
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="30 s of overload instead of 120")
    parser.add_argument("--duration", type=float, default=None, help="seconds of overload (default 120)")
    parser.add_argument("--factor", type=float, default=2.0, help="offered rate / measured capacity")
    parser.add_argument("--services", help="comma-separated prefix of the pipeline (default: every stream service)")
    parser.add_argument("--calibration-docs", type=int, default=None, help="burst size for the capacity estimate")
    parser.add_argument("--drain-timeout", type=float, default=600.0)
    args = parser.parse_args(argv)
    duration = args.duration or (30.0 if args.quick else 120.0)
    services = [s.strip() for s in args.services.split(",")] if args.services else list(STAGE_NAMES)
    calibration = args.calibration_docs or (200 if args.quick else 500)
    rows = run(duration, args.factor, services, calibration, args.drain_timeout)
    title = f"load: {args.factor:g}x capacity for {duration:.0f} s through {' -> '.join(services)}"
    print_table(title, rows)
    note = (f"{args.factor:g}x the measured capacity for {duration:.0f} s, services {', '.join(services)}; "
            "rss_max from /proc VmRSS sampled each second under load, peak_rss VmHWM over the process life, "
            "max_lag from each worker's claimstream_consumer_lag gauge (updated every 5 s).")
    path = save_results("load", rows, note)
    print(f"\nsaved {path} ({machine_note()})")
    return 1 if rows[0]["lost"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
