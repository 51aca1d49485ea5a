"""The whole pipeline over Kafka on the embedded broker, against its stages in-process.

Reports documents/s at saturation (every document produced at once), latency from
ingest to docs.enriched, each stage's share of a document's time, the streaming
layer's overhead (end-to-end throughput against the slowest stage in-process), and
scaling with 1 and 2 workers per stage. Writes benchmarks/results/pipeline.{json,md,png}.

`python -m benchmarks.pipeline [--quick] [--docs N] [--rounds N]`. Translation runs with the
settings in the environment (by default no models: documents pass as NO_MODEL).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from claimstream.core.schema import Document, decode_document, encode_document, now_timestamp
from claimstream.core.settings import STAGE_NAMES as STAGES
from claimstream.core.settings import Settings
from claimstream.kafka.clients import make_consumer, make_producer
from claimstream.local.broker import free_port
from claimstream.local.launcher import LocalPipeline
from claimstream.runtime.pipeline import Pipeline

from benchmarks.corpus import batches, sample_documents
from benchmarks.harness import RESULTS, load_note, machine_note, measure, percentile, print_table, save_results, spread


def in_process(settings: Settings, docs: list[Document]) -> list[dict[str, Any]]:
    """Each stage's model alone on the corpus, fed the previous stage's output."""
    rows = []
    current = [d for d in docs]
    for stage in STAGES:
        pipeline = Pipeline.load(settings, stages=[stage])
        model = pipeline.models[0]
        outputs: dict[str, Document] = {}  # by id: the warm-up batch runs twice

        def run(batch: list[Document], model: Any = model, outputs: dict[str, Document] = outputs) -> None:
            outputs.update((d.id, d) for d in model.predict(batch) if isinstance(d, Document))

        chars = lambda b: sum(len(d.text) for d in b)  # noqa: E731
        rows.append(measure(f"{stage} in-process", run, batches(current, settings.max_batch), chars))
        current = list(outputs.values())
        pipeline.close()
    return rows


def over_kafka(settings: Settings, docs: list[Document], replicas: int) -> tuple[dict[str, Any], dict[str, float]]:
    """The four stages as separate workers; every document produced at once."""
    workdir = Path(tempfile.mkdtemp(prefix="claimstream-bench-pipeline-"))
    base = settings.replace(
        broker_port=free_port(), data_dir=str(workdir / "state"), session_timeout=6.0, rebalance_timeout=6.0,
        heartbeat_interval=1.0, commit_interval=0.5,
    )
    services = list(STAGES)
    ports = {s: free_port() for s in services}
    with LocalPipeline(base, services, log_dir=workdir / "logs", ports=ports, replicas=replicas) as lp:
        live = base.replace(bootstrap=lp.bootstrap)
        consumer = make_consumer(live, [live.topic_enriched], from_beginning=True)
        consumer.poll(timeout_ms=100)
        producer = make_producer(live)
        started = time.time()
        for doc in docs:
            copy = Document()
            copy.CopyFrom(doc)
            copy.ingested_at.CopyFrom(now_timestamp())
            producer.send(live.topic_ingest, key=copy.id.encode(), value=encode_document(copy, "protobuf"))
        producer.flush()
        done: dict[str, Document] = {}
        latencies: list[float] = []
        deadline = time.monotonic() + 900
        while len(done) < len(docs) and time.monotonic() < deadline:
            for records in consumer.poll(timeout_ms=500).values():
                for record in records:
                    out = decode_document(record.value)
                    if isinstance(out, Document) and out.id not in done:
                        done[out.id] = out
                        latencies.append(record.timestamp / 1000 - out.ingested_at.ToMilliseconds() / 1000)
        elapsed = time.time() - started
        consumer.close()
        producer.close()
    # Each stage's share: the time between the previous stage's output and its own.
    spans: dict[str, list[float]] = {s: [] for s in services}
    for doc in done.values():
        previous = doc.ingested_at.ToMilliseconds() / 1000
        for stage in services:
            at = doc.processed_at[stage].ToMilliseconds() / 1000
            spans[stage].append(max(0.0, at - previous))
            previous = at
    total = sum(statistics.mean(v) for v in spans.values() if v) or 1.0
    share = {s: round(100 * statistics.mean(v) / total, 1) for s, v in spans.items() if v}
    row = {
        "name": f"pipeline over Kafka, {replicas} worker(s) per stage",
        "docs": len(done),
        "seconds": round(elapsed, 2),
        "docs_per_s": round(len(done) / elapsed, 1),
        "p50_ms": round(percentile(latencies, 50) * 1000),
        "p95_ms": round(percentile(latencies, 95) * 1000),
        "p99_ms": round(percentile(latencies, 99) * 1000),
        "lost": len(docs) - len(done),
    }
    return row, share


def plot(rows: list[dict[str, Any]], medians: list[float], shares: dict[int, dict[str, float]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    names = [r["name"].replace(" in-process", "").replace("pipeline over Kafka, ", "Kafka, ") for r in rows]
    left.barh(names, medians, color=["#4c72b0"] * (len(rows) - 2) + ["#dd8452"] * 2)
    left.set_xlabel("documents / s")
    left.set_title("Throughput: stages in-process vs whole pipeline")
    left.invert_yaxis()
    bottom = [0.0] * len(shares)
    labels = [f"{n} worker(s)" for n in shares]
    for stage in STAGES:
        values = [shares[n].get(stage, 0.0) for n in shares]
        right.bar(labels, values, bottom=bottom, label=stage)
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    right.set_ylabel("% of a document's time in the pipeline")
    right.set_title("Where a document spends its time (over Kafka)")
    right.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def _median_round(rounds: list[list[dict[str, Any]]], index: int) -> dict[str, Any]:
    """Row `index` of the round whose docs/s for it is the median, its docs/s as median (min-max)."""
    values = [r[index]["docs_per_s"] for r in rounds]
    middle = sorted(range(len(rounds)), key=lambda n: values[n])[len(rounds) // 2]
    return dict(rounds[middle][index], docs_per_s=spread(values))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="150 documents, one round")
    parser.add_argument("--docs", type=int, default=None, help="documents per run (default 1000)")
    parser.add_argument("--rounds", type=int, default=0, help="interleaved rounds (default 3, 1 with --quick)")
    args = parser.parse_args(argv)
    count = args.docs or (150 if args.quick else 1000)
    rounds = args.rounds or (1 if args.quick else 3)
    settings = Settings.load()
    docs = sample_documents(count)
    # Each round runs the stages in-process and the pipeline with 1 and 2 workers, in an order that
    # rotates, so that a change of load on the shared machine falls on all three alike.
    runs: dict[str, list[list[dict[str, Any]]]] = {"in-process": [], "1": [], "2": []}
    shares: dict[int, list[dict[str, float]]] = {1: [], 2: []}
    names = list(runs)
    for n in range(rounds):
        for name in names[n % 3:] + names[: n % 3]:
            print(f"round {n + 1}/{rounds}: {name}", file=sys.stderr)
            if name == "in-process":
                runs[name].append(in_process(settings, docs))
            else:
                row, share = over_kafka(settings, docs, int(name))
                runs[name].append([row])
                shares[int(name)].append(share)
    slowest = [min(r, key=lambda row: row["docs_per_s"]) for r in runs["in-process"]]
    rows = [_median_round(runs["in-process"], i) for i in range(len(STAGES))]
    for replicas in (1, 2):
        row = _median_round(runs[str(replicas)], 0)
        ratios = [k[0]["docs_per_s"] / s["docs_per_s"] for k, s in zip(runs[str(replicas)], slowest, strict=True)]
        row["vs_slowest_stage"] = spread(ratios, 2)
        rows.append(row)
    share = {replicas: {stage: round(statistics.median(s[stage] for s in shares[replicas]), 1) for stage in STAGES}
             for replicas in (1, 2)}
    print_table("pipeline", rows)
    for replicas, values in share.items():
        print(f"time share, {replicas} worker(s) per stage: {values}")
    RESULTS.mkdir(exist_ok=True)
    medians = [float(str(r["docs_per_s"]).split()[0]) for r in rows]
    plot(rows, medians, share, RESULTS / "pipeline.png")
    models = settings.translate_models or "none (every document passes as NO_MODEL)"
    note = (
        f"{count} sample documents, {rounds} interleaved rounds (in-process stages, the pipeline with 1 and with 2 "
        "workers per stage, the order rotated each round): docs/s is the median (slowest-fastest round), "
        "`vs_slowest_stage` the end-to-end docs/s over the slowest stage in-process of the same round "
        f"({slowest[0]['name']}); the other columns are the median round's; {load_note()} at the end. "
        f"Translation models: {models}. Time share per stage, median of the rounds (1 worker): {share[1]}; "
        f"(2 workers): {share[2]}. ![pipeline](benchmarks/results/pipeline.png)"
    )
    print(f"\n{machine_note()}. {note}")
    save_results("pipeline", rows, note)


if __name__ == "__main__":
    main()
