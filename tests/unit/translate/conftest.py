"""Session fixtures: one tiny Marian checkpoint and its ONNX export, built once per test run."""

from __future__ import annotations

from pathlib import Path

import pytest
from claimstream.core.settings import Settings
from claimstream.translate.export import export_model

from tests.fixtures.tiny_marian import build_tiny_marian


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_marian(tmp_path_factory.mktemp("translate") / "tiny-marian")


@pytest.fixture(scope="session")
def tiny_onnx(tiny_checkpoint: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("translate-onnx") / "tiny-marian-onnx"
    export_model(tiny_checkpoint, out, "fp32")
    return out


@pytest.fixture(scope="session")
def tiny_settings(tiny_onnx: Path) -> Settings:
    return Settings(
        translate_models=f"hi={tiny_onnx},fa={tiny_onnx}", provider="cpu", inference_threads=1,
        translate_max_length=12, max_batch_tokens=256,
    )
