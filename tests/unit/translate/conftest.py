"""Translate unit-test settings over the session's tiny Marian model (tests/conftest.py builds it)."""

from __future__ import annotations

from pathlib import Path

import pytest
from claimstream.core.settings import Settings


@pytest.fixture(scope="session")
def tiny_settings(tiny_onnx: Path) -> Settings:
    return Settings(
        translate_models=f"hi={tiny_onnx},fa={tiny_onnx}", provider="cpu", inference_threads=1,
        translate_max_length=12, max_batch_tokens=256,
    )
