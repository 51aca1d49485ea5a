"""The committed generated code must match protos/ (regenerate with `make protos`)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def test_generated_code_is_current(tmp_path):
    protos = sorted(str(p.relative_to(ROOT / "protos")) for p in (ROOT / "protos").rglob("*.proto"))
    subprocess.run(
        [sys.executable, "-m", "grpc_tools.protoc", "-I", "protos", f"--python_out={tmp_path}",
         f"--pyi_out={tmp_path}", f"--grpc_python_out={tmp_path}", *[f"protos/{p}" for p in protos]],
        cwd=ROOT, check=True,
    )
    generated = sorted(tmp_path.rglob("*.py*"))
    assert generated
    for new in generated:
        committed = ROOT / "services" / new.relative_to(tmp_path)
        assert committed.exists(), f"{committed} is missing: run `make protos`"
        assert committed.read_bytes() == new.read_bytes(), f"{committed} is stale: run `make protos`"
