"""Quiet, honest output: the CLI says what happened and nothing else, and stops quietly when the reader of
its output goes away (`| head`)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from claimstream.core.schema import ClaimGroup, Document, encode_document, encode_message
from claimstream.core.settings import Settings
from claimstream.kafka.clients import ensure_topics, make_producer
from claimstream.local.broker import EmbeddedBroker

from tests.e2e.test_cli import claimstream

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]

#: The command a shell runs (cwd is a scratch directory, so by module from the installed package).
CLI = f"{sys.executable} -m claimstream.cli"


@pytest.fixture(scope="module")
def settings():
    with EmbeddedBroker(port=0) as broker:
        settings = Settings(bootstrap=broker.bootstrap, partitions=2)
        ensure_topics(settings, create=True)
        producer = make_producer(settings)
        for i in range(300):
            doc = Document(id=f"doc-{i}", text="The river rose above the danger mark. " * 5)
            producer.send(settings.topic_langid, key=doc.id.encode(), value=encode_document(doc, "json"))
            group = ClaimGroup(key=f"people_displaced|place-{i}", predicate="people_displaced", doc_ids=[doc.id])
            producer.send(settings.topic_groups, key=group.key.encode(), value=encode_message(group, "protobuf"))
        producer.flush(30)
        producer.close()
        yield settings


def piped_to_head(command: str, scratch: Path) -> tuple[int, str, str]:
    """Run `command | head -1` in a shell; return the command's own exit status, head's output and its stderr."""
    script = f'{command} 2>err.log | head -1; echo "status=${{PIPESTATUS[0]}}" >&2'
    result = subprocess.run(["bash", "-c", script], capture_output=True, text=True, cwd=scratch, timeout=120)
    status = int(result.stderr.strip().rsplit("status=", 1)[1])
    return status, result.stdout, (scratch / "err.log").read_text()


@pytest.mark.parametrize("command", ["tail docs.langid --from-beginning --timeout 5", "claims --json --timeout 3"])
def test_a_reader_that_goes_away_ends_the_command_quietly(settings, command, tmp_path):
    status, out, err = piped_to_head(f"{CLI} {command} --bootstrap {settings.bootstrap}", tmp_path)
    assert len(out.splitlines()) == 1 and out.startswith("{")
    assert status == 0, err
    assert "Traceback" not in err and "BrokenPipe" not in err and "Exception ignored" not in err


def test_dlq_prints_its_table_and_counts_without_client_noise(settings):
    result = claimstream("dlq", "--bootstrap", settings.bootstrap)
    assert result.returncode == 0
    assert result.stdout.splitlines()[0].split() == ["topic", "partition", "offset", "state", "reason", "detail",
                                                     "value"]
    assert result.stderr.strip() == "0 dead letter(s): 0 pending, 0 replayed, 0 truncated (not replayable)"
