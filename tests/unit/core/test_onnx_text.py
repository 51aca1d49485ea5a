"""The shared ONNX provider chooser (core/onnx.py) and the coarse script of a token (core/text.py)."""

import pytest
from claimstream.core.model import ModelLoadError
from claimstream.core.onnx import CPU, CUDA, TENSORRT, select_providers
from claimstream.core.text import script_of

GPU = [TENSORRT, CUDA, CPU]


@pytest.mark.parametrize(
    ("setting", "available", "chosen"),
    [
        ("cpu", GPU, [CPU]),
        ("auto", [CPU], [CPU]),
        ("auto", [CUDA, CPU], [CUDA, CPU]),
        ("auto", GPU, [TENSORRT, CUDA, CPU]),
        ("cuda", GPU, [CUDA, CPU]),
        ("tensorrt", GPU, [TENSORRT, CUDA, CPU]),
        ("tensorrt", [TENSORRT, CPU], [TENSORRT, CPU]),
    ],
)
def test_providers_for_each_setting(setting: str, available: list[str], chosen: list[str]) -> None:
    assert select_providers(setting, available) == chosen


@pytest.mark.parametrize(("setting", "available"), [("cuda", [CPU]), ("tensorrt", [CPU]), ("tensorrt", [CUDA, CPU])])
def test_a_gpu_provider_that_is_not_there_is_a_load_error(setting: str, available: list[str]) -> None:
    with pytest.raises(ModelLoadError, match="onnxruntime-gpu"):
        select_providers(setting, available)


@pytest.mark.parametrize(
    ("token", "script"),
    [
        ("iran", "latin"), ("1990s", "latin"), ("_x", "latin"), ("éire", "latin"),
        ("иран", "cyrillic"), ("ایران", "arabic"), ("۱۴۰۲", "arabic"), ("٢٠٢٤", "arabic"),
        ("भारत", "devanagari"), ("२०२४", "devanagari"), ("\u093eब", "devanagari"),
        ("서울", "hangul"), ("東京", "other"), ("αθήνα", "other"), ("ⅻ", "other"),
    ],
)
def test_coarse_script_of_a_token(token: str, script: str) -> None:
    assert script_of(token) == script
