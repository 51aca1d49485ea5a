"""A stage (or the whole pipeline) over Kafka on the embedded broker: docs/s and latency from ingest."""

from __future__ import annotations

import tempfile
import time
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from claimstream.core.schema import Document, decode_document, encode_document, now_timestamp
from claimstream.core.settings import Settings
from claimstream.kafka.clients import make_consumer, make_producer
from claimstream.local.broker import free_port
from claimstream.local.launcher import LocalPipeline
from prometheus_client.parser import text_string_to_metric_families

from benchmarks.harness import percentile


def measure_stream(
    name: str, services: Sequence[str], docs: Sequence[Document], output_topic: str, input_topic: str | None = None,
    settings: Settings | None = None, timeout: float = 600.0, unit_name: str = "chars",
) -> dict[str, Any]:
    """Start `services` on a private broker, produce `docs` at once, wait for all on `output_topic`.

    Latency is per document, from `ingested_at` (set when produced) to the output message's
    broker timestamp, so it includes queueing behind earlier documents (a saturation test).
    `unit_name` "chars" counts the output texts' characters, "claims" the output claims.
    """
    base = settings or Settings()
    workdir = Path(tempfile.mkdtemp(prefix="claimstream-bench-"))
    base = base.replace(
        broker_port=free_port(), data_dir=str(workdir / "state"), session_timeout=6.0, rebalance_timeout=6.0,
        heartbeat_interval=1.0, commit_interval=0.5,
    )
    ports = {service: free_port() for service in services}
    with LocalPipeline(base, services, log_dir=workdir / "logs", ports=ports) as pipeline:
        live = base.replace(bootstrap=pipeline.bootstrap)
        consumer = make_consumer(live, [output_topic], from_beginning=True)
        consumer.poll(timeout_ms=100)
        producer = make_producer(live)
        started = time.time()
        for doc in docs:
            copy = Document()
            copy.CopyFrom(doc)
            copy.ingested_at.CopyFrom(now_timestamp())
            value = encode_document(copy, "protobuf")
            producer.send(input_topic or live.topic_ingest, key=copy.id.encode(), value=value)
        producer.flush()
        latencies: dict[str, float] = {}
        units = 0
        deadline = time.monotonic() + timeout
        while len(latencies) < len(docs) and time.monotonic() < deadline:
            for batch in consumer.poll(timeout_ms=500).values():
                for record in batch:
                    out = decode_document(record.value)
                    if isinstance(out, Document) and out.id not in latencies:
                        latencies[out.id] = record.timestamp / 1000 - out.ingested_at.ToMilliseconds() / 1000
                        units += len(out.claims) if unit_name == "claims" else len(out.text)
        elapsed = time.time() - started
        batches = mean_batches(base.metrics_host, ports)
        consumer.close()
        producer.close()
    values = list(latencies.values())
    return {
        "name": name,
        "docs": len(latencies),
        "seconds": round(elapsed, 2),
        "docs_per_s": round(len(latencies) / elapsed, 1),
        f"{unit_name}_per_s": round(units / elapsed, 1),
        "p50_ms": round(percentile(values, 50) * 1000, 1),
        "p95_ms": round(percentile(values, 95) * 1000, 1),
        "p99_ms": round(percentile(values, 99) * 1000, 1),
        # Measured, per service: "langid 31.2 / ner 12.0" when there are several.
        "mean_batch": (next(iter(batches.values())) if len(batches) == 1
                       else " / ".join(f"{service} {mean:g}" for service, mean in batches.items())),
        "lost": len(docs) - len(latencies),
    }


def mean_batches(host: str, ports: dict[str, int]) -> dict[str, float]:
    """Each service's mean model batch, from its `claimstream_batch_size` histogram: what the
    workers took, not the `max_batch` they were allowed."""
    means = {}
    for service, port in ports.items():
        with urllib.request.urlopen(f"http://{host}:{port}/metrics", timeout=10) as answer:
            body = answer.read().decode()
        for family in text_string_to_metric_families(body):
            if family.name != "claimstream_batch_size":
                continue
            total = {s.name: s.value for s in family.samples if s.labels.get("service") == service}
            count = total.get("claimstream_batch_size_count", 0.0)
            means[service] = round(total.get("claimstream_batch_size_sum", 0.0) / count, 1) if count else 0.0
    return means
