"""Prometheus metrics, named as in DESIGN.md: base units, `_total` counters, histograms.

One registry per process; each service process exports it on `/metrics`, with the
client library's process and platform collectors (`process_resident_memory_bytes`,
`process_cpu_seconds_total`, `process_open_fds`, `python_info`, `python_gc_*`), as on its
default registry. Every claimstream metric has a `service` label.
"""

from __future__ import annotations

from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    GC_COLLECTOR,
    PLATFORM_COLLECTOR,
    PROCESS_COLLECTOR,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)

disable_created_metrics()  # the *_created series only add noise to every dashboard query

REGISTRY = CollectorRegistry(auto_describe=True)
for _collector in (PROCESS_COLLECTOR, PLATFORM_COLLECTOR, GC_COLLECTOR):
    REGISTRY.register(_collector)


class _OneService:
    """A metric only one service writes, its `service` label fixed, so the writer names only the others.

    `claimstream_claim_groups` is set by the claims worker as `.labels(conflict)`; the label
    was added after, and this keeps that call as it is.
    """

    def __init__(self, metric: Any, service: str) -> None:
        self._metric, self._service = metric, service

    def labels(self, *values: str) -> Any:
        return self._metric.labels(self._service, *values)

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)
_BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512)
#: A gRPC call lasts from a millisecond (a health check, a small Enrich) to as long as a client keeps a Watch open.
_RPC_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600)

MESSAGES = Counter(
    "claimstream_messages_total",
    "Messages a stage finished, by outcome (ok, dlq).",
    ["service", "outcome"],
    registry=REGISTRY,
)
BATCH_SIZE = Histogram(
    "claimstream_batch_size", "Messages per model batch.", ["service"], buckets=_BATCH_BUCKETS, registry=REGISTRY
)
INFERENCE_SECONDS = Histogram(
    "claimstream_inference_seconds",
    "Wall time of one model batch.",
    ["service", "model", "provider"],
    buckets=_LATENCY_BUCKETS,
    registry=REGISTRY,
)
STAGE_LATENCY = Histogram(
    "claimstream_stage_latency_seconds",
    "Time from ingest to this stage's output being acknowledged by the broker.",
    ["service"],
    buckets=_LATENCY_BUCKETS,
    registry=REGISTRY,
)
CONSUMER_LAG = Gauge(
    "claimstream_consumer_lag",
    "Messages in the input partition not yet processed (high watermark - committed offset).",
    ["service", "topic", "partition"],
    registry=REGISTRY,
)
TOKENS = Counter(
    "claimstream_tokens_total",
    "Model tokens processed (direction: input, output).",
    ["service", "direction"],
    registry=REGISTRY,
)
DLQ = Counter(
    "claimstream_dlq_total", "Messages sent to a dead-letter topic, by reason.", ["service", "reason"],
    registry=REGISTRY,
)
MODEL_INFO = Gauge(
    "claimstream_model_info",
    "The model a service loaded (value 1).",
    ["service", "model", "provider"],
    registry=REGISTRY,
)
CLAIM_GROUPS = _OneService(Gauge(
    "claimstream_claim_groups", "Claim groups held by this claims worker, by conflict state.", ["service", "conflict"],
    registry=REGISTRY,
), "claims")
TRANSLATIONS = Counter(
    "claimstream_translations_total", "Documents by translation status.", ["service", "status", "source_language"],
    registry=REGISTRY,
)
GRPC_REQUESTS = Counter(
    "claimstream_grpc_requests_total",
    "gRPC calls the server finished, by method and the status code they ended with.",
    ["service", "method", "code"],
    registry=REGISTRY,
)
GRPC_REQUEST_SECONDS = Histogram(
    "claimstream_grpc_request_seconds",
    "Wall time of one gRPC call, from its start until it ended (a stream: until it closed).",
    ["service", "method"],
    buckets=_RPC_BUCKETS,
    registry=REGISTRY,
)
GRPC_IN_FLIGHT = Gauge(
    "claimstream_grpc_in_flight",
    "gRPC calls in progress (open Watch streams included).",
    ["service", "method"],
    registry=REGISTRY,
)

#: Every metric family this package exports (dashboards and alerts may use only these).
METRIC_NAMES = (
    "claimstream_messages_total",
    "claimstream_batch_size",
    "claimstream_inference_seconds",
    "claimstream_stage_latency_seconds",
    "claimstream_consumer_lag",
    "claimstream_tokens_total",
    "claimstream_dlq_total",
    "claimstream_model_info",
    "claimstream_claim_groups",
    "claimstream_translations_total",
    "claimstream_grpc_requests_total",
    "claimstream_grpc_request_seconds",
    "claimstream_grpc_in_flight",
)


#: The content type of `exposition()`.
CONTENT_TYPE = CONTENT_TYPE_LATEST


def exposition() -> bytes:
    """The registry in Prometheus text format."""
    return generate_latest(REGISTRY)
