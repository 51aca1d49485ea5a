"""Every line a stream service writes names the service, Faust's own lines included, as text or as
JSON lines (`CLAIMSTREAM_LOG_FORMAT=json`)."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from claimstream.core.settings import Settings
from claimstream.local.broker import EmbeddedBroker, free_port
from claimstream.local.launcher import readyz, stop_process

from tests.conftest import ROOT, collect, stream_settings
from tests.fixtures.ingest import ingest_messages, produce

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]

#: A text line: `2026-12-02 05:46:09,716 INFO langid claimstream.runtime.worker: ...`, or a further line of one record.
TEXT_LINE = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (DEBUG|INFO|WARNING|ERROR|CRITICAL) langid (\S+): "
                       r"|langid \| ")


@pytest.fixture(scope="module")
def bootstrap() -> Iterator[str]:
    with EmbeddedBroker(port=0) as broker:
        yield broker.bootstrap


def langid_settings(bootstrap: str, tmp_path: Path) -> Settings:
    return stream_settings(tmp_path, bootstrap=bootstrap, create_topics="true", metrics_port=free_port())


def run_langid(settings: Settings, log_format: str, tmp_path: Path) -> tuple[str, str]:
    """`serve langid` until it has processed a valid and an invalid document, then SIGTERM; its stdout and stderr."""
    env = {**os.environ, **settings.to_env(), "CLAIMSTREAM_LOG_FORMAT": log_format, "PYTHONUNBUFFERED": "1"}
    out, err = tmp_path / "stdout", tmp_path / "stderr"
    with open(out, "wb") as stdout, open(err, "wb") as stderr:
        process = subprocess.Popen([sys.executable, "-m", "claimstream.cli", "serve", "langid"], env=env, cwd=ROOT,
                                   stdout=stdout, stderr=stderr, stdin=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 90
        while not readyz("127.0.0.1", settings.metrics_port):
            assert process.poll() is None, f"langid exited ({process.returncode}):\n{err.read_text()[-3000:]}"
            assert time.monotonic() < deadline, f"langid not ready in 90 s:\n{err.read_text()[-3000:]}"
            time.sleep(0.2)
        # Ids of this run only: both runs share the broker, and `collect` reads from the beginning.
        bad = f"{log_format}-not-a-document"
        produce(settings, [*ingest_messages(log_format, 1), (bad, b'{"id": "%s", "text": 5}' % bad.encode())])
        assert collect(settings, settings.dlq_topic(settings.topic_ingest), [bad], timeout=60)
        assert collect(settings, settings.topic_langid, [f"{log_format}-000000"], timeout=60)
    finally:
        stop_process(process, signal.SIGTERM, grace=30)
    assert process.returncode == 0, err.read_text()[-3000:]
    return out.read_text(), err.read_text()


def test_every_text_line_names_the_service(bootstrap, tmp_path):
    stdout, stderr = run_langid(langid_settings(bootstrap, tmp_path), "text", tmp_path)
    assert stdout == ""
    lines = stderr.splitlines()
    unnamed = [line for line in lines if not TEXT_LINE.match(line)]
    assert not unnamed, f"{len(unnamed)} line(s) without the service, e.g. {unnamed[:3]}"
    loggers = {match[2] for line in lines if (match := TEXT_LINE.match(line)) and match[2]}
    assert "faust.worker" in loggers, "Faust's own lines are missing"
    dead_letter_line = " WARNING langid claimstream.kafka.deadletters: langid: docs.ingest["
    assert any(dead_letter_line in line and "-> DLQ (invalid_schema" in line for line in lines), stderr[-3000:]


def test_every_json_line_is_an_object_naming_the_service(bootstrap, tmp_path):
    stdout, stderr = run_langid(langid_settings(bootstrap, tmp_path), "json", tmp_path)
    assert stdout == ""
    entries = []
    for line in stderr.splitlines():
        try:
            entries.append(json.loads(line))
        except ValueError:
            pytest.fail(f"not a JSON line: {line!r}")
    assert entries and all(entry["service"] == "langid" for entry in entries)
    assert all(set(entry) >= {"time", "level", "service", "logger", "message"} for entry in entries)
    assert any(entry["logger"] == "faust.worker" and entry["message"].endswith("Ready") for entry in entries)
    dead = [e for e in entries if e["level"] == "WARNING" and "-> DLQ (invalid_schema" in e["message"]]
    assert dead and dead[0]["logger"] == "claimstream.kafka.deadletters"
