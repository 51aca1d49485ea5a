"""The shared ONNX provider chooser (runtime/onnx.py) and the coarse script of a token (core/text.py)."""

import pytest
from claimstream.core.model import ModelLoadError
from claimstream.core.text import script_of
from claimstream.runtime.onnx import CPU, CUDA, TENSORRT, select_providers

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


def test_thread_settings_reach_every_session() -> None:
    from claimstream.core.settings import Settings
    from claimstream.runtime.onnx import Threads, session_options

    settings = Settings.load(environ={"CLAIMSTREAM_INFERENCE_THREADS": "2", "CLAIMSTREAM_INFERENCE_SPINNING": "true",
                                      "CLAIMSTREAM_INFERENCE_INTER_THREADS": "3"})
    threads = Threads.of(settings)
    assert threads == Threads(intra=2, inter=3, spinning=True)
    options = session_options(threads)
    assert (options.intra_op_num_threads, options.inter_op_num_threads) == (2, 3)
    assert options.get_session_config_entry("session.intra_op.allow_spinning") == "1"
    default = session_options(Threads.of(Settings()))
    assert default.get_session_config_entry("session.intra_op.allow_spinning") == "0"  # measured: see README
    assert (default.intra_op_num_threads, default.inter_op_num_threads) == (0, 1)


def test_the_models_take_their_threads_from_the_settings(tiny_onnx) -> None:
    from claimstream.core.settings import Settings
    from claimstream.translate.model import load

    model = load(Settings(translate_models=f"hi={tiny_onnx}", provider="cpu", inference_threads=1,
                          inference_spinning=True))
    session = model.models["hi"].encoder
    assert session.get_session_options().get_session_config_entry("session.intra_op.allow_spinning") == "1"
    assert session.get_session_options().intra_op_num_threads == 1
