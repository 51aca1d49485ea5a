"""Fault-test tier: one real pipeline (embedded broker + a process per stream service) per session.

The pipeline covers every stream stage (`settings.STAGE_NAMES`), so a
service added later is killed, frozen and replayed by these tests without a change here.
Set CLAIMSTREAM_FAULT_SERVICES=langid,translate to run the tier on a prefix of the
pipeline (for example while a later service is broken).

Watchers read the output topics from the beginning, without a consumer group, in a
background thread each, and count messages per key (the stages key every output by
document id), so a test can wait for "every id arrived" without decoding anything.
"""

from __future__ import annotations

import importlib
import itertools
import os
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from claimstream.core.schema import ClaimGroup
from claimstream.core.settings import ENV_PREFIX, STAGE_NAMES, Settings
from claimstream.kafka.clients import make_consumer
from claimstream.local.broker import free_port
from claimstream.local.launcher import LocalPipeline, readyz, service_env, stop_process

from tests.fixtures.ingest import ingest_messages, produce

#: Group timeouts small enough that a join or a dead member's expiry takes seconds, not 30 s.
FAULT_ENV = {
    "SESSION_TIMEOUT": "6",
    "REBALANCE_TIMEOUT": "6",
    "HEARTBEAT_INTERVAL": "1",
    "COMMIT_INTERVAL": "0.5",
    "MAX_WAIT": "0.1",
    "LOG_LEVEL": "info",
    # Smaller than the defaults, so a message at the size limit is quick to make and move.
    "MAX_MESSAGE_BYTES": str(2 * 1024 * 1024),
    "MAX_TEXT_CHARS": "200000",
}


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "faults: kills, freezes and replays a real pipeline (tests/faults)")


def fault_services() -> list[str]:
    """The stream services under test: all that exist, or the prefix named in CLAIMSTREAM_FAULT_SERVICES."""
    services = list(STAGE_NAMES)
    wanted = os.environ.get("CLAIMSTREAM_FAULT_SERVICES", "").strip()
    if wanted:
        names = [name.strip() for name in wanted.split(",") if name.strip()]
        unknown = [name for name in names if name not in services]
        if unknown:
            raise pytest.UsageError(f"CLAIMSTREAM_FAULT_SERVICES names {unknown}; installed: {services}")
        services = [name for name in services if name in names]
    return services


def output_topic(settings: Settings, service: str) -> str:
    return str(importlib.import_module(f"claimstream.{service}.service").spec(settings).output_topic)


def service_input_topic(settings: Settings, service: str) -> str:
    return str(importlib.import_module(f"claimstream.{service}.service").spec(settings).input_topic)


# --------------------------------------------------------------------------- documents
_batch_numbers = itertools.count()


def make_documents(count: int, label: str) -> list[tuple[str, bytes]]:
    """`count` ingest messages (JSON form) with ids unique to this call, texts from the examples."""
    return ingest_messages(f"{label}-{next(_batch_numbers)}", count)


class BackgroundProducer(threading.Thread):
    """`produce` in a thread, so a test can kill a worker while documents keep arriving."""

    def __init__(self, settings: Settings, messages: Sequence[tuple[str, bytes]], rate: float) -> None:
        super().__init__(daemon=True)
        self.settings, self.messages, self.rate = settings, messages, rate
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            produce(self.settings, self.messages, self.rate)
        except BaseException as exc:  # reported by finish()
            self.error = exc

    def finish(self, timeout: float = 90.0) -> None:
        self.join(timeout)
        assert not self.is_alive(), "the test producer did not finish"
        if self.error is not None:
            raise self.error


# --------------------------------------------------------------------------- watching topics
class TopicWatcher(threading.Thread):
    """Counts the messages on a topic per key, from the beginning, until stopped."""

    def __init__(self, settings: Settings, topic: str, keep_values: bool = False) -> None:
        super().__init__(daemon=True, name=f"watch-{topic}")
        self.settings, self.topic, self.keep_values = settings, topic, keep_values
        self.counts: Counter[str] = Counter()
        self.values: dict[str, list[bytes]] = {}
        self._lock = threading.Lock()
        self._halt = threading.Event()

    def run(self) -> None:
        from kafka import TopicPartition

        consumer = make_consumer(self.settings, [], from_beginning=True)
        try:
            partitions = None
            while not self._halt.is_set() and not partitions:
                partitions = consumer.partitions_for_topic(self.topic)
                if not partitions:
                    time.sleep(0.2)
            consumer.assign([TopicPartition(self.topic, p) for p in sorted(partitions or ())])
            consumer.seek_to_beginning()
            while not self._halt.is_set():
                for records in consumer.poll(timeout_ms=300).values():
                    with self._lock:
                        for record in records:
                            key = (record.key or b"").decode("utf-8", "replace")
                            self.counts[key] += 1
                            if self.keep_values:
                                self.values.setdefault(key, []).append(record.value)
        finally:
            consumer.close()

    def stop(self) -> None:
        self._halt.set()
        self.join(10)

    def count(self, ids: Iterable[str]) -> int:
        """How many of `ids` arrived at least once."""
        with self._lock:
            return sum(1 for i in ids if self.counts[i] > 0)

    def snapshot(self, ids: Iterable[str]) -> dict[str, int]:
        with self._lock:
            return {i: self.counts[i] for i in ids}

    def latest(self, key: str) -> bytes | None:
        with self._lock:
            values = self.values.get(key)
            return values[-1] if values else None

    def all_latest(self) -> dict[str, bytes]:
        with self._lock:
            return {key: values[-1] for key, values in self.values.items()}

    def wait_for(self, ids: Iterable[str], timeout: float, times: int = 1) -> set[str]:
        """Wait until every id arrived `times` times; return the ids still missing at the deadline."""
        wanted = list(ids)
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                missing = {i for i in wanted if self.counts[i] < times}
            if not missing or time.monotonic() > deadline:
                return missing
            time.sleep(0.2)


# --------------------------------------------------------------------------- the pipeline
@dataclass
class FaultPipeline:
    """The running pipeline of this session and what the tests need to disturb and observe it."""

    settings: Settings
    pipeline: LocalPipeline
    services: list[str]
    final_topic: str
    outputs: dict[str, TopicWatcher]  # service -> watcher of its output topic
    groups: TopicWatcher | None  # claims.groups, when the claims service runs
    log_dir: Path
    extra: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def final(self) -> TopicWatcher:
        return self.outputs[self.services[-1]]

    def process(self, service: str) -> subprocess.Popen[bytes]:
        for proc in self.pipeline.processes:
            if proc.name == service:
                return proc.process
        raise KeyError(service)

    def restart(self, service: str, timeout: float = 120.0) -> None:
        self.pipeline.start_service(service)
        self.pipeline.wait_ready(timeout)

    def heal(self) -> None:
        """Restart any service that a test left dead, so the next test starts from a whole pipeline."""
        for proc in list(self.pipeline.processes):
            if proc.process.poll() is not None:
                self.pipeline.start_service(proc.name)
        self.pipeline.wait_ready(120)

    def start_second_worker(self, service: str) -> tuple[subprocess.Popen[bytes], int]:
        """Another `claimstream serve SERVICE` in the same consumer group, on its own metrics port."""
        port = free_port()
        log = open(self.log_dir / f"{service}-second.log", "ab")  # lives as long as the process
        process = subprocess.Popen(
            [sys.executable, "-m", "claimstream.cli", "serve", service],
            env=service_env(self.settings, self.pipeline.bootstrap, service, port),
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )
        self.extra.append(process)
        deadline = time.monotonic() + 120
        while not readyz(self.settings.metrics_host, port):
            assert process.poll() is None, f"second {service} worker exited: {process.returncode}"
            assert time.monotonic() < deadline, f"second {service} worker not ready"
            time.sleep(0.25)
        return process, port

    def log_tails(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.log_tail(15)}" for p in self.pipeline.processes)


@pytest.fixture(scope="session")
def fault_pipeline(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FaultPipeline]:
    services = fault_services()
    if not services:
        pytest.skip("no stream service is installed")
    base = tmp_path_factory.mktemp("faults")
    env = {ENV_PREFIX + k: v for k, v in FAULT_ENV.items()}
    env[ENV_PREFIX + "BROKER_PORT"] = str(free_port())
    env[ENV_PREFIX + "DATA_DIR"] = str(base / "state")
    # The service processes inherit os.environ (launcher.service_env), so the settings go there.
    saved = {k: os.environ.get(k) for k in env}
    for k in (ENV_PREFIX + "BOOTSTRAP", ENV_PREFIX + "METRICS_PORT"):
        saved[k] = os.environ.pop(k, None)
    os.environ.update(env)
    settings = Settings.load()
    ports = {name: free_port() for name in services}
    log_dir = base / "logs"
    pipeline = LocalPipeline(settings, services, log_dir=log_dir, ports=ports)
    watchers: list[TopicWatcher] = []
    fault: FaultPipeline | None = None
    try:
        pipeline.start(ready_timeout=180)
        live = settings.replace(bootstrap=pipeline.bootstrap)
        # The final documents are kept when claims runs: the undisturbed claim groups are rebuilt from them.
        outputs = {
            name: TopicWatcher(live, output_topic(live, name), keep_values=name == "claims" and name == services[-1])
            for name in services
        }
        groups = TopicWatcher(live, live.topic_groups, keep_values=True) if "claims" in services else None
        watchers = list(outputs.values()) + ([groups] if groups else [])
        for watcher in watchers:
            watcher.start()
        fault = FaultPipeline(live, pipeline, services, output_topic(live, services[-1]), outputs, groups, log_dir)
        yield fault
    finally:
        for watcher in watchers:
            watcher.stop()
        for process in fault.extra if fault else []:
            if process.poll() is None:
                process.kill()
                process.wait(10)
        pipeline.stop()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@pytest.fixture
def faults(fault_pipeline: FaultPipeline) -> Iterator[FaultPipeline]:
    """The session pipeline, whole at the start of the test (a service a test killed is restarted)."""
    fault_pipeline.heal()
    yield fault_pipeline
    for process in fault_pipeline.extra:
        stop_process(process)


# --------------------------------------------------------------------------- claim groups
def parse_group(value: bytes) -> ClaimGroup:
    group = ClaimGroup()
    if value.lstrip()[:1] == b"{":
        from google.protobuf import json_format

        json_format.Parse(value.decode("utf-8"), group, ignore_unknown_fields=True)
    else:
        group.ParseFromString(value)
    return group


def group_signature(groups: Iterable[ClaimGroup], ids: Iterable[str]) -> dict[str, tuple[tuple[str, ...], int]]:
    """Per group touching `ids`: its documents among `ids` and how many (member, document) pairs
    it has from them, republished copies folded into a member (`also_in`) counted too.

    Which copy a member is filed under depends on what the group held before (documents of
    earlier tests), so the count, not the member's own doc_id, is what is compared. A group
    that gained a member under a replay or a crash-restart would show here.
    """
    wanted = set(ids)
    out = {}
    for group in groups:
        mine = sorted(d for d in group.doc_ids if d in wanted)
        if mine:
            members = sum(1 for m in group.claims for d in (m.doc_id, *m.also_in) if d in wanted)
            out[group.key] = (tuple(mine), members)
    return out


def groups_on_topic(fault: FaultPipeline, ids: Iterable[str]) -> dict[str, tuple[tuple[str, ...], int]]:
    """The latest state of each group on claims.groups, as a signature over `ids`."""
    assert fault.groups is not None
    return group_signature((parse_group(v) for v in fault.groups.all_latest().values()), ids)


def whole_groups(groups: Iterable[ClaimGroup], ids: Iterable[str]) -> dict[str, bytes]:
    """Per group touching `ids`: the whole group message, serialized deterministically, without
    its update time (the one field a redo may change)."""
    wanted = set(ids)
    out = {}
    for group in groups:
        if wanted & set(group.doc_ids):
            copy = ClaimGroup()
            copy.CopyFrom(group)
            copy.ClearField("updated_at")
            out[group.key] = copy.SerializeToString(deterministic=True)
    return out


def whole_groups_on_topic(fault: FaultPipeline, ids: Iterable[str]) -> dict[str, bytes]:
    """The latest message of each group on claims.groups that touches `ids`, whole (minus times)."""
    assert fault.groups is not None
    return whole_groups((parse_group(v) for v in fault.groups.all_latest().values()), ids)
