"""Fixtures shared by every test tier."""

from __future__ import annotations

import time
from collections.abc import Iterable
from pathlib import Path

import pytest
from claimstream.core.settings import Settings
from claimstream.local.broker import free_port

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"


def stream_settings(tmp_path: Path, **changes: object) -> Settings:
    """Settings for a test pipeline: a private broker port, quick group joins, state under tmp_path."""
    base = Settings(
        broker_port=free_port(),
        session_timeout=6.0,
        rebalance_timeout=6.0,
        heartbeat_interval=1.0,
        commit_interval=0.5,
        max_wait=0.1,
        data_dir=str(tmp_path / "state"),
    )
    return base.replace(**changes)


def collect(settings: Settings, topic: str, want: Iterable[str] | int, timeout: float = 90.0) -> list:
    """Messages from `topic` (from the beginning) until every wanted key arrived, or `want` messages.

    Returns the kafka-python records read; the caller asserts on them.
    """
    from claimstream.kafka.clients import make_consumer

    wanted = set(want) if not isinstance(want, int) else None
    consumer = make_consumer(settings, [topic], from_beginning=True)
    records: list = []
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            for batch in consumer.poll(timeout_ms=500).values():
                records.extend(batch)
            if wanted is not None and wanted <= {r.key.decode() for r in records if r.key}:
                break
            if wanted is None and len(records) >= want:  # type: ignore[operator]
                break
    finally:
        consumer.close()
    return records


@pytest.fixture
def examples() -> Path:
    return EXAMPLES


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny Marian checkpoint (random weights, SentencePiece trained on the fly), built once per run."""
    from tests.fixtures.tiny_marian import build_tiny_marian

    return build_tiny_marian(tmp_path_factory.mktemp("translate") / "tiny-marian")


@pytest.fixture(scope="session")
def tiny_onnx(tiny_checkpoint: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny checkpoint exported to the ONNX layout the translate service loads."""
    from claimstream.translate.export import export_model

    out = tmp_path_factory.mktemp("translate-onnx") / "tiny-marian-onnx"
    export_model(tiny_checkpoint, out, "fp32")
    return out
