"""The `claimstream` command as a user runs it: separate processes, real broker."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from claimstream.local.broker import free_port
from claimstream.local.launcher import readyz

from tests.conftest import EXAMPLES, ROOT

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(420)]


def claimstream(*args: str, env: dict[str, str] | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "claimstream.cli", *args], capture_output=True, text=True, timeout=timeout,
        env={**os.environ, **(env or {})}, cwd=ROOT,
    )


def quick_env(tmp_path: Path) -> dict[str, str]:
    return {
        "CLAIMSTREAM_SESSION_TIMEOUT": "6", "CLAIMSTREAM_REBALANCE_TIMEOUT": "6",
        "CLAIMSTREAM_HEARTBEAT_INTERVAL": "1", "CLAIMSTREAM_DATA_DIR": str(tmp_path / "state"),
    }


def test_up_ingest_tail_as_a_new_user(tmp_path):
    port = free_port()
    metrics = free_port()
    env = {**os.environ, **quick_env(tmp_path), "CLAIMSTREAM_METRICS_PORT": str(metrics), "PYTHONUNBUFFERED": "1"}
    up = subprocess.Popen(
        [sys.executable, "-m", "claimstream.cli", "up", "--broker-port", str(port), "--services", "langid"],
        stdout=subprocess.PIPE, stderr=open(tmp_path / "up.log", "w"), text=True, env=env, cwd=ROOT,
    )
    try:
        deadline = time.monotonic() + 120
        while not readyz("127.0.0.1", metrics):
            assert up.poll() is None, (tmp_path / "up.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "claimstream up did not become ready"
            time.sleep(0.5)
        bootstrap = f"127.0.0.1:{port}"
        ingest = claimstream("ingest", str(EXAMPLES / "news.jsonl"), str(EXAMPLES / "txt"), "--bootstrap", bootstrap)
        assert ingest.returncode == 0, ingest.stderr
        assert "sent 30 document(s)" in ingest.stderr
        bad = claimstream("ingest", str(EXAMPLES / "bad.jsonl"), "--bootstrap", bootstrap)
        assert bad.returncode == 1
        assert "bad.jsonl:1: rejected (invalid_json" in bad.stderr
        assert "bad.jsonl:2: rejected (missing_text" in bad.stderr

        tail = claimstream("tail", "docs.langid", "--bootstrap", bootstrap, "--from-beginning", "--count", "30",
                           "--timeout", "60")
        assert tail.returncode == 0, tail.stderr
        docs = [json.loads(line) for line in tail.stdout.splitlines()]
        languages = {d["id"]: d["language"]["code"] for d in docs}
        assert len(languages) == 30
        assert languages["assam-flood-fa-1"] == "fa" and languages["chabahar-fa-2"] == "fa"
        assert languages["assam-flood-mixed-1"] == "hi" and languages["nk-troops-ko-1"] == "ko"
    finally:
        up.send_signal(signal.SIGINT)
        up.wait(60)
    assert up.returncode == 0
    assert "claimstream is up" in up.stdout.read()


def test_enrich_translates_in_process_with_a_configured_model(tmp_path, tiny_onnx):
    out = tmp_path / "out.jsonl"
    result = claimstream(
        "enrich", str(EXAMPLES / "news.jsonl"), "--out", str(out), "--groups", str(tmp_path / "groups.jsonl"),
        env={"CLAIMSTREAM_TRANSLATE_MODELS": f"hi={tiny_onnx}", "CLAIMSTREAM_TRANSLATE_MAX_LENGTH": "8"},
    )
    assert result.returncode == 0, result.stderr
    docs = {d["id"]: d for d in map(json.loads, out.read_text().splitlines())}
    assert docs["assam-flood-hi-1"]["translation"]["status"] == "OK"
    assert docs["assam-flood-hi-1"]["translation"]["model"]
    assert docs["assam-flood-fa-1"]["translation"]["status"] == "NO_MODEL"
    assert docs["assam-flood-en-1"]["translation"]["status"] == "SOURCE_IS_TARGET"
    groups = [json.loads(line) for line in (tmp_path / "groups.jsonl").read_text().splitlines()]
    assert any(g.get("conflict") for g in groups)
    assert {"key", "claims", "doc_ids", "languages"} <= set(groups[0])


def test_enrich_never_imports_torch_and_spacy_still_tags(tmp_path):
    # spaCy's thinc imports torch when it can; the models run on ONNX Runtime, so the ner stage
    # keeps it out while spaCy loads (about 2 s and 180 MiB less at start) and tags the same.
    doc = tmp_path / "one.jsonl"
    doc.write_text(json.dumps({"id": "t1", "text": "Floods killed 12 people in Patna, officials said."}) + "\n")
    result = claimstream("enrich", str(doc), env={"PYTHONPROFILEIMPORTTIME": "1"})
    assert result.returncode == 0, result.stderr[-2000:]
    imported = re.findall(r"^import time:\s+\d+ \|\s+\d+ \|\s+(\S+)$", result.stderr, re.M)
    assert "spacy" in imported and "thinc" in imported  # the probe ran...
    assert not [m for m in imported if m.startswith("torch.")]  # ...and found no torch
    [enriched] = [json.loads(line) for line in result.stdout.splitlines()]
    assert {"text": "Patna", "label": "GPE"}.items() <= next(
        e for e in enriched["entities"] if e["text"] == "Patna").items()


def test_export_model_cli_writes_a_loadable_directory_and_names_what_is_wrong(tmp_path, tiny_checkpoint):
    ok = claimstream("export-model", str(tiny_checkpoint), str(tmp_path / "int8"), "--dtype", "int8")
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["dtype"] == "int8"
    assert (tmp_path / "int8" / "manifest.json").exists()
    missing = claimstream("export-model", str(tmp_path / "nope"), str(tmp_path / "x"))
    assert missing.returncode == 2 and "nope" in missing.stderr


def test_demo_enriches_every_sample_and_shows_conflicts(tmp_path):
    result = claimstream("demo", "--data-dir", str(tmp_path / "state"), env=quick_env(tmp_path), timeout=400)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "30/30 documents enriched" in result.stdout
    assert "assam-flood-fa-1\n  langid     fa" in result.stdout
    assert "CONFLICT" in result.stdout
    assert "bad message(s) in docs.ingest.dlq" in result.stdout
