"""`claimstream ingest --dlq`: lines the CLI rejects go to the ingest topic's DLQ with their reasons, in the
same form the stages write, so `tail docs.ingest.dlq` and `claimstream dlq` show them."""

from __future__ import annotations

import json

import pytest
from claimstream.core.settings import Settings
from claimstream.kafka.deadletters import list_dlq
from claimstream.local.broker import EmbeddedBroker

from tests.conftest import EXAMPLES
from tests.e2e.test_cli import claimstream

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]


def test_ingest_dlq_sends_rejected_lines_with_their_reasons(tmp_path):
    bad = EXAMPLES / "bad.jsonl"
    with EmbeddedBroker(port=0) as broker:
        settings = Settings(bootstrap=broker.bootstrap)
        created = claimstream("topics", "create", "--bootstrap", broker.bootstrap)
        assert created.returncode == 0, created.stderr

        plain = claimstream("ingest", str(bad), "--bootstrap", broker.bootstrap)
        assert plain.returncode == 1 and "bad.jsonl:1: rejected (invalid_json" in plain.stderr
        assert list_dlq(settings) == []  # without --dlq nothing goes to the DLQ

        ingest = claimstream("ingest", "--dlq", str(bad), str(EXAMPLES / "txt"), "--bootstrap", broker.bootstrap)
        assert ingest.returncode == 1  # something was rejected
        assert "sent 3 document(s)" in ingest.stderr
        assert "(dead letters in docs.ingest.dlq)" in ingest.stderr
        rejected = [line for line in ingest.stderr.splitlines() if ": rejected (" in line]

        # The README's step: tail the DLQ after ingest.
        tail = claimstream("tail", "docs.ingest.dlq", "--from-beginning", "--bootstrap", broker.bootstrap,
                           "--timeout", "3")
        assert tail.returncode == 0, tail.stderr
        letters = [json.loads(line) for line in tail.stdout.splitlines()]
        assert len(letters) == len(rejected) == 6
        by_line = {letter["detail"].split(": ")[0].rsplit(":", 1)[1]: letter for letter in letters}
        assert by_line["1"]["reason"] == "invalid_json" and by_line["2"]["reason"] == "missing_text"
        assert {letter["reason"] for letter in letters} == {"invalid_json", "missing_text", "invalid_schema",
                                                            "empty_text"}
        assert all(letter["stage"] == "ingest" and letter["topic"] == "docs.ingest" for letter in letters)
        original = bad.read_text(encoding="utf-8").splitlines()
        assert by_line["3"]["value"].rstrip("\n") == original[2]  # the line's own bytes

        listed = claimstream("dlq", "--bootstrap", broker.bootstrap)
        assert listed.returncode == 0, listed.stderr
        assert "6 dead letter(s): 6 pending" in listed.stderr
        assert sum("invalid_json" in line for line in listed.stdout.splitlines()) == 1
