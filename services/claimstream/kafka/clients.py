"""kafka-python clients and topic administration, configured from Settings.

The stage workers use Faust (aiokafka); the CLI, the gateway and the tests use
these synchronous clients.
"""

from __future__ import annotations

import logging
import socket
import ssl
import time
from collections.abc import Generator, Iterable, Sequence
from dataclasses import dataclass
from itertools import islice
from typing import Any

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka.admin import NewTopic
from kafka.errors import Cancelled, KafkaConnectionError, KafkaError, KafkaTimeoutError, TopicAlreadyExistsError

from claimstream.core.settings import Settings

log = logging.getLogger(__name__)


def _not_a_cancelled_refresh(record: logging.LogRecord) -> bool:
    """False for kafka-python's ERROR "Metadata refresh: failed Cancelled".

    kafka-python sends a metadata request when a consumer is assigned partitions; closing the
    consumer before the answer came (a short `claimstream dlq`, a finished Watch) cancels it,
    and kafka-python logs the cancellation as an error. Nothing failed, so that one record is
    dropped; every other metadata failure is still logged.
    """
    args = record.args if isinstance(record.args, tuple) else ()
    return not (record.msg == "Metadata refresh: failed %s" and args and isinstance(args[0], Cancelled))


logging.getLogger("kafka.cluster").addFilter(_not_a_cancelled_refresh)


class BrokerUnavailable(RuntimeError):
    """No broker answered at the configured bootstrap address."""


def client_config(settings: Settings) -> dict[str, Any]:
    """Connection settings shared by every kafka-python client."""
    servers = settings.bootstrap_servers().split(",")
    if not any(_reachable(server) for server in servers):
        raise _unavailable(settings)  # fail in a second, not after kafka-python's 30 s bootstrap timeout
    return {"bootstrap_servers": servers, **security_config(settings)}


def security_config(settings: Settings) -> dict[str, Any]:
    """TLS and SASL options in kafka-python's names (aiokafka uses the same ones)."""
    protocol = settings.kafka_security_protocol
    config: dict[str, Any] = {"security_protocol": protocol}
    if protocol.startswith("SASL_"):
        config.update(
            sasl_mechanism=settings.kafka_sasl_mechanism,
            sasl_plain_username=settings.kafka_sasl_username,
            sasl_plain_password=settings.kafka_sasl_password,
        )
    if protocol.endswith("SSL"):
        for name in ("cafile", "certfile", "keyfile"):
            value = getattr(settings, f"kafka_ssl_{name}")
            if value:
                config[f"ssl_{name}"] = value
    return config


def ssl_context(settings: Settings) -> ssl.SSLContext:
    """The client TLS context for *SSL protocols (Faust takes a context, not file names)."""
    context = ssl.create_default_context(cafile=settings.kafka_ssl_cafile or None)
    if settings.kafka_ssl_certfile:
        context.load_cert_chain(settings.kafka_ssl_certfile, settings.kafka_ssl_keyfile or None)
    return context


def _reachable(server: str) -> bool:
    host, _, port = server.strip().rpartition(":")
    try:
        with socket.create_connection((host.strip("[]") or "localhost", int(port)), timeout=2):
            return True
    except (OSError, ValueError):
        return False


def _unavailable(settings: Settings) -> BrokerUnavailable:
    return BrokerUnavailable(
        f"no Kafka broker answered at {settings.bootstrap_servers()}. Start one with `claimstream up`, "
        "or set CLAIMSTREAM_BOOTSTRAP / --bootstrap to your broker."
    )


def make_producer(settings: Settings, **overrides: Any) -> KafkaProducer:
    """A producer that waits for all in-sync replicas and accepts messages up to max_message_bytes."""
    config: dict[str, Any] = {
        **client_config(settings),
        "acks": "all",
        "linger_ms": 5,
        "retries": 5,
        "max_request_size": settings.max_message_bytes,
        **overrides,
    }
    try:
        return KafkaProducer(**config)
    except (KafkaTimeoutError, KafkaConnectionError):
        raise _unavailable(settings) from None


def make_consumer(
    settings: Settings,
    topics: Sequence[str],
    group_id: str | None = None,
    from_beginning: bool = False,
    **overrides: Any,
) -> KafkaConsumer:
    """A consumer of `topics`; without a group it reads every partition and commits nothing."""
    config: dict[str, Any] = {
        **client_config(settings),
        "group_id": group_id,
        "auto_offset_reset": "earliest" if from_beginning else "latest",
        "enable_auto_commit": group_id is not None,
        "fetch_max_bytes": settings.max_message_bytes,
        "max_partition_fetch_bytes": settings.max_message_bytes,
        **overrides,
    }
    try:
        return KafkaConsumer(*topics, **config)
    except (KafkaTimeoutError, KafkaConnectionError):
        raise _unavailable(settings) from None


def make_admin(settings: Settings) -> KafkaAdminClient:
    try:
        return KafkaAdminClient(**client_config(settings), request_timeout_ms=10_000)
    except (KafkaTimeoutError, KafkaConnectionError):
        raise _unavailable(settings) from None


class TopicsMissing(RuntimeError):
    """Topics the pipeline needs do not exist, and this client may not create them (`create_topics`)."""


def topic_configs(settings: Settings, name: str) -> dict[str, str]:
    """The configuration the pipeline creates topic `name` with.

    `claims.groups` is the claim-group store's changelog: a worker rebuilds its groups by
    reading it to the end, so it is compacted (the latest group of every key is kept for
    ever) rather than deleted by age. Every other topic is an event stream kept for
    `retention_ms`. Every topic accepts messages up to `max_message_bytes` (Kafka's own
    default is about 1 MB).
    """
    configs = {"max.message.bytes": str(settings.max_message_bytes)}
    if name == settings.topic_groups:
        return {
            "cleanup.policy": "compact",
            "min.compaction.lag.ms": str(settings.groups_min_compaction_lag_ms),
            "segment.ms": str(settings.groups_segment_ms),
            **configs,
        }
    return {"cleanup.policy": "delete", "retention.ms": str(settings.retention_ms), **configs}


@dataclass(frozen=True)
class TopicState:
    """What the cluster has for one of the pipeline's topics (`partitions` is 0 when it does not exist)."""

    name: str
    partitions: int
    replication: int
    configs: dict[str, str]  # the cluster's values of the keys the pipeline sets
    wanted: dict[str, str]  # what the pipeline creates it with

    @property
    def exists(self) -> bool:
        return self.partitions > 0

    def differences(self) -> dict[str, tuple[str | None, str]]:
        """Keys whose value on the cluster is not what the pipeline wants: key -> (cluster's, wanted)."""
        return {k: (self.configs.get(k), v) for k, v in self.wanted.items() if self.configs.get(k) != v}


def ensure_topics(
    settings: Settings, topics: Iterable[str] | None = None, create: bool | None = None
) -> list[str]:
    """Create the pipeline's topics (DLQs included) that do not exist yet; return the ones created.

    `create` None follows `settings.creates_topics()` (CLAIMSTREAM_CREATE_TOPICS). A client
    that may not create them raises TopicsMissing naming every missing topic.
    """
    wanted = list(dict.fromkeys(topics if topics is not None else settings.all_topics()))
    admin = make_admin(settings)
    try:
        existing = set(admin.list_topics())
        missing = [t for t in wanted if t not in existing]
        if missing and not (settings.creates_topics() if create is None else create):
            raise TopicsMissing(
                f"{len(missing)} topic(s) missing on {settings.bootstrap_servers()}: {', '.join(missing)}. "
                "Create them with `claimstream topics create` (partitions, compaction and retention from the "
                "settings), or set CLAIMSTREAM_CREATE_TOPICS=true to let this client create them."
            )
        created: list[str] = []
        for name in missing:
            topic = NewTopic(
                name, settings.partitions, settings.replication_factor, topic_configs=topic_configs(settings, name),
            )
            try:
                admin.create_topics([topic])
                created.append(name)
            except TopicAlreadyExistsError:
                pass  # another worker created it first
            except KafkaError as exc:
                raise RuntimeError(f"could not create topic {name!r}: {exc}") from exc
        if created:
            log.info("created topics: %s", ", ".join(created))
        return created
    finally:
        admin.close()


def describe_topics(settings: Settings, topics: Iterable[str] | None = None) -> list[TopicState]:
    """Partitions, replication and the configuration the cluster reports for the pipeline's topics."""
    from kafka.admin import ConfigResource, ConfigResourceType

    wanted = list(dict.fromkeys(topics if topics is not None else settings.all_topics()))
    admin = make_admin(settings)
    try:
        existing = [t for t in wanted if t in set(admin.list_topics())]
        layout: dict[str, tuple[int, int]] = {}
        configs: dict[str, dict[str, Any]] = {}
        if existing:
            for info in admin.describe_topics(existing):
                partitions = info.get("partitions") or []
                replicas = len(partitions[0].get("replica_nodes") or []) if partitions else 0
                layout[info["name"]] = (len(partitions), replicas)
            # "all", not kafka-python's default "modified": some brokers (Tansu) report a topic's own
            # configuration with the source DEFAULT_CONFIG, which "modified" leaves out.
            described = admin.describe_configs(
                [ConfigResource(ConfigResourceType.TOPIC, t) for t in existing], config_filter="all"
            )
            configs = described.get("topic", {})
    finally:
        admin.close()
    states = []
    for name in wanted:
        want = topic_configs(settings, name)
        have = configs.get(name, {})
        values = {k: str(have[k]["value"]) for k in want if k in have and have[k].get("value") is not None}
        partitions, replicas = layout.get(name, (0, 0))
        states.append(TopicState(name, partitions, replicas, values, want))
    return states


def seek_to_now(consumer: KafkaConsumer, partitions: Sequence[Any], timeout: float = 3.0) -> dict[Any, int]:
    """Put an assigned consumer at the end of `partitions` as of now, so it reads only what comes next.

    The end is the larger of the broker's ListOffsets answer and the high watermark of a first
    fetch: the embedded broker (Tansu) answers ListOffsets with the start of a partition's last
    record batch, so seeking there alone replays that batch. Whatever that first fetch returns
    was written before this call and is dropped. Returns where each partition starts.
    """
    ends = consumer.end_offsets(list(partitions))
    for tp in partitions:
        consumer.seek(tp, ends[tp])
    deadline = time.monotonic() + timeout
    while any(consumer.highwater(tp) is None for tp in partitions) and time.monotonic() < deadline:
        consumer.poll(timeout_ms=100)
    starts = {}
    for tp in partitions:
        starts[tp] = max(ends[tp], consumer.highwater(tp) or 0)
        consumer.seek(tp, starts[tp])
    return starts


def read_to_end(
    settings: Settings, topics: Sequence[str] = (), partitions: Sequence[Any] = (), limit: int | None = None,
    idle_timeout: float = 5.0, quiet_polls: int = 1,
) -> list[Any]:
    """Every record of `topics` (those that exist) and of `partitions` (TopicPartitions), from the
    beginning up to each partition's end at the time of the call; at most `limit` records (see
    `iter_to_end`)."""
    records = iter_to_end(settings, topics, partitions, idle_timeout, quiet_polls)
    try:
        return list(records if limit is None else islice(records, limit))
    finally:
        records.close()


def iter_to_end(
    settings: Settings, topics: Sequence[str] = (), partitions: Sequence[Any] = (),
    idle_timeout: float | None = 5.0, quiet_polls: int = 1,
) -> Generator[Any, None, None]:
    """The records of `topics` (those that exist) and of `partitions` (TopicPartitions), one by
    one, from the beginning up to each partition's end at the time of the call.

    The end offsets are a floor, not the stop: the embedded broker (Tansu) has been seen to report
    a partition's end below records it then served, so reading stops once every partition reached
    its end and `quiet_polls` polls in a row brought nothing. `idle_timeout` bounds the wait for a
    broker that stops answering; None waits as long as it takes (the claim-group store, which must
    not start from a partial state). The one reader of a topic to its end: the DLQ listing, the
    replay log, the demo and the claim-group store use it.
    """
    from kafka import TopicPartition

    consumer = make_consumer(settings, [], from_beginning=True)
    try:
        wanted = list(partitions) + [
            TopicPartition(topic, p) for topic in topics for p in sorted(consumer.partitions_for_topic(topic) or ())
        ]
        if not wanted:
            return
        consumer.assign(wanted)
        consumer.seek_to_beginning(*wanted)
        ends = consumer.end_offsets(wanted)
        idle_deadline = None if idle_timeout is None else time.monotonic() + idle_timeout
        quiet = 0
        while True:
            batch = consumer.poll(timeout_ms=200)
            now = time.monotonic()
            if batch:
                quiet = 0
                idle_deadline = None if idle_timeout is None else now + idle_timeout
                for batch_records in batch.values():
                    yield from batch_records
                continue
            if all(consumer.position(tp) >= ends.get(tp, 0) for tp in wanted):
                quiet += 1
                if quiet >= quiet_polls:
                    break
            if idle_deadline is not None and now > idle_deadline:
                break
    finally:
        consumer.close()
