"""`make bench` runs every benchmark: each must at least import against the package as it is now."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

from benchmarks.run import BENCHMARKS

BENCH_DIR = Path(__file__).resolve().parents[2] / "benchmarks"


@pytest.mark.parametrize("name", sorted(p.stem for p in BENCH_DIR.glob("*.py") if p.stem != "__init__"))
def test_every_benchmark_module_imports(name: str) -> None:
    module = importlib.import_module(f"benchmarks.{name}")
    if name in BENCHMARKS:
        assert callable(getattr(module, "main", None)), f"benchmarks.{name} has no main() for make bench"


def test_make_bench_names_only_benchmarks_that_exist() -> None:
    assert set(BENCHMARKS) <= {p.stem for p in BENCH_DIR.glob("*.py")}
