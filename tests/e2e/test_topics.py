"""Topics on a real (embedded) broker: what `topics create` makes, what `topics describe` reports, and who may
create a missing topic.

Tansu (the embedded broker) stores the configuration a topic is created with and reports it back through
DescribeConfigs (with the source DEFAULT_CONFIG), so these tests read back exactly what was asked for. It
does not itself compact or expire anything (it keeps everything in memory), so compaction is tested as far
as the configuration the cluster holds.
"""

from __future__ import annotations

import pytest
from claimstream.core.settings import Settings
from claimstream.kafka.clients import TopicsMissing, describe_topics, ensure_topics, make_admin
from claimstream.local.broker import EmbeddedBroker
from kafka.admin import NewTopic

from tests.e2e.test_cli import claimstream

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]


@pytest.fixture
def broker():
    with EmbeddedBroker(port=0) as running:
        yield running


def lines_by_topic(stdout: str) -> dict[str, str]:
    return {line.split("\t")[0]: line for line in stdout.splitlines() if line.strip()}


def test_topics_create_compacts_the_group_store_and_describe_reads_the_cluster(broker):
    created = claimstream("topics", "create", "--bootstrap", broker.bootstrap, "--groups-min-compaction-lag-ms",
                          "120000")
    assert created.returncode == 0, created.stderr
    lines = lines_by_topic(created.stdout)
    want = Settings.load()  # the settings the command ran with (the environment may set some)
    assert set(lines) == set(want.all_topics())
    groups = lines["claims.groups"]
    assert f"\tcreated\tpartitions={want.partitions} replication=1\t" in groups
    assert "cleanup.policy=compact" in groups and "min.compaction.lag.ms=120000" in groups
    assert f"segment.ms={want.groups_segment_ms}" in groups and "retention.ms" not in groups
    for event_topic in ("docs.ingest", "docs.enriched", "docs.ingest.dlq", "claims.normalized"):
        assert "cleanup.policy=delete" in lines[event_topic]
        assert f"retention.ms={want.retention_ms}" in lines[event_topic]
    assert all(f"max.message.bytes={want.max_message_bytes}" in line for line in lines.values())

    again = claimstream("topics", "describe", "--bootstrap", broker.bootstrap, "--groups-min-compaction-lag-ms",
                        "120000")
    assert again.returncode == 0, again.stderr
    assert lines_by_topic(again.stdout)["claims.groups"] == groups.replace("\tcreated\t", "\texists\t")
    assert "want" not in again.stdout


def test_describe_flags_a_group_store_that_is_not_compacted_and_missing_topics(broker):
    admin = make_admin(Settings(bootstrap=broker.bootstrap))
    admin.create_topics([NewTopic("claims.groups", 2, 1, topic_configs={"cleanup.policy": "delete"})])
    admin.close()
    described = claimstream("topics", "describe", "--bootstrap", broker.bootstrap)
    assert described.returncode == 1
    lines = lines_by_topic(described.stdout)
    assert "partitions=2" in lines["claims.groups"]
    assert "cleanup.policy=delete (want compact)" in lines["claims.groups"]
    assert lines["docs.ingest"] == "docs.ingest\tMISSING"
    assert "12 topic(s) missing, 1 configured differently" in described.stderr


def test_clients_create_topics_on_the_embedded_broker_only_unless_told(broker, tmp_path):
    doc = tmp_path / "one.jsonl"
    doc.write_text('{"id": "t-1", "text": "The river rose above the danger mark."}\n')
    # An external cluster (CLAIMSTREAM_BOOTSTRAP set): ingest and the workers do not create topics.
    refused = claimstream("ingest", str(doc), "--bootstrap", broker.bootstrap)
    assert refused.returncode == 2
    assert "topic(s) missing on " + broker.bootstrap in refused.stderr
    assert "docs.ingest" in refused.stderr and "claims.groups" in refused.stderr
    assert "claimstream topics create" in refused.stderr and "Traceback" not in refused.stderr
    with pytest.raises(TopicsMissing, match="docs.ingest.dlq"):
        ensure_topics(Settings(bootstrap=broker.bootstrap))
    assert not [s for s in describe_topics(Settings(bootstrap=broker.bootstrap)) if s.exists]

    allowed = claimstream("ingest", str(doc), "--bootstrap", broker.bootstrap,
                          env={"CLAIMSTREAM_CREATE_TOPICS": "true"})
    assert allowed.returncode == 0, allowed.stderr
    assert "sent 1 document(s)" in allowed.stderr
    states = {s.name: s for s in describe_topics(Settings(bootstrap=broker.bootstrap))}
    assert all(s.exists for s in states.values())
    assert states["claims.groups"].configs["cleanup.policy"] == "compact"


def test_the_embedded_broker_gets_its_topics_by_default(broker, tmp_path):
    # No CLAIMSTREAM_BOOTSTRAP: the client talks to the embedded broker's address and creates what is missing.
    doc = tmp_path / "one.jsonl"
    doc.write_text('{"id": "t-2", "text": "The river rose above the danger mark."}\n')
    embedded = {"CLAIMSTREAM_BOOTSTRAP": ""}
    refused = claimstream("ingest", str(doc), "--broker-port", str(broker.port),
                          env={**embedded, "CLAIMSTREAM_CREATE_TOPICS": "false"})
    assert refused.returncode == 2 and "docs.ingest" in refused.stderr  # false means false, even here
    ingest = claimstream("ingest", str(doc), "--broker-port", str(broker.port), env=embedded)
    assert ingest.returncode == 0, ingest.stderr
    states = {s.name: s for s in describe_topics(Settings(broker_port=broker.port))}
    assert all(s.exists for s in states.values())
    assert states["docs.ingest"].configs["retention.ms"] == str(Settings.load().retention_ms)
