"""kafka-python clients and topic administration, configured from Settings.

The stage workers use Faust (aiokafka); the CLI, the gateway and the tests use
these synchronous clients.
"""

from __future__ import annotations

import logging
import socket
import ssl
from collections.abc import Iterable, Sequence
from typing import Any

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka.admin import NewTopic
from kafka.errors import KafkaConnectionError, KafkaError, KafkaTimeoutError, TopicAlreadyExistsError

from claimstream.core.settings import Settings

log = logging.getLogger(__name__)


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


def ensure_topics(settings: Settings, topics: Iterable[str] | None = None) -> list[str]:
    """Create the pipeline's topics (DLQs included) that do not exist yet; return the ones created."""
    wanted = list(dict.fromkeys(topics if topics is not None else settings.all_topics()))
    admin = make_admin(settings)
    try:
        existing = set(admin.list_topics())
        missing = [t for t in wanted if t not in existing]
        created: list[str] = []
        for name in missing:
            topic = NewTopic(
                name, settings.partitions, settings.replication_factor,
                topic_configs={"retention.ms": str(settings.retention_ms)},
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
