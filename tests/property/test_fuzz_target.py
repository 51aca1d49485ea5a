"""The fuzz target itself: a short libFuzzer run over the shipped seeds finds nothing, and its
check does flag a decoder that breaks the promise."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TARGET = ROOT / "fuzz" / "fuzz_ingest.py"


def _load_target():
    spec = importlib.util.spec_from_file_location("fuzz_ingest", TARGET)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_short_fuzz_run_over_the_seeds_finds_nothing(tmp_path: Path) -> None:
    pytest.importorskip("atheris")
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    run = subprocess.run(
        [sys.executable, str(TARGET), "-runs=3000", "-seed=7", "-max_len=4096", str(corpus),
         str(ROOT / "fuzz" / "seeds")],
        capture_output=True, text=True, timeout=300, cwd=tmp_path,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert "Done 3000 runs" in run.stderr
    assert not list(tmp_path.glob("crash-*"))


def test_the_check_reports_a_decoder_that_returns_something_else(monkeypatch: pytest.MonkeyPatch) -> None:
    target = _load_target()
    target.check(b'{"id": "a", "text": "About 20,000 people were displaced."}')  # a good input passes
    monkeypatch.setattr(target, "decode_document", lambda data: None)
    with pytest.raises(AssertionError, match="decoder returned None"):
        target.check(b'{"id": "a", "text": "x"}')
