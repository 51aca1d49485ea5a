"""Commands that talk to the stream: topics, serve, up, ingest, tail, claims, demo."""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from claimstream.cli.common import EXIT_REJECTED, CliError, decode_for_topic, progress_bar, service_spec
from claimstream.core.settings import SERVICES, STAGE_NAMES, Settings
from claimstream.core.text import printable

log = logging.getLogger("claimstream")


def cmd_topics(args: argparse.Namespace, settings: Settings) -> int:
    """`topics create`: create what is missing; both actions then print what the cluster has."""
    from claimstream.kafka.clients import describe_topics, ensure_topics

    created = ensure_topics(settings, create=True) if args.action == "create" else []
    states = describe_topics(settings)
    missing = differing = 0
    for state in states:
        status = "created" if state.name in created else "exists" if state.exists else "MISSING"
        if not state.exists:
            missing += 1
            print(f"{state.name}\t{status}")
            continue
        differs = state.differences()
        differing += bool(differs)
        configs = " ".join(
            f"{key}={state.configs.get(key, '(not reported)')}"
            + (f" (want {differs[key][1]})" if key in differs else "")
            for key in state.wanted
        )
        print(f"{state.name}\t{status}\tpartitions={state.partitions} replication={state.replication}\t{configs}")
    if missing or differing:
        print(f"claimstream: {missing} topic(s) missing, {differing} configured differently from the settings "
              "(see `(want ...)`; `topics create` leaves existing topics as they are: change one with your "
              "cluster's tools, e.g. kafka-configs.sh --alter)", file=sys.stderr)
    # create: only a topic still missing is a failure (so a deployment's topic job does not block on an
    # old topic's configuration); describe: any difference is, so it can be scripted as a check.
    return EXIT_REJECTED if missing or (differing and args.action == "describe") else 0


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    from claimstream.local.broker import EmbeddedBroker, free_port, port_in_use

    service = args.service
    if args.join:
        settings = join_local_pipeline(settings, service)
    port = settings.port_for(service)
    if port_in_use(settings.metrics_host, port):
        raise CliError(
            f"port {port} ({service} metrics) is already in use on {settings.metrics_host}: is `claimstream up` "
            f"running? To add a worker beside it, run `claimstream serve {service} --join`; or choose a port "
            "with --metrics-port."
        )
    if not settings.bootstrap and port_in_use("127.0.0.1", settings.broker_port):
        raise CliError(
            f"port {settings.broker_port} (the embedded broker) is already in use: is `claimstream up` running? "
            f"To add a worker beside it, run `claimstream serve {service} --join`; to use another broker, set "
            "CLAIMSTREAM_BOOTSTRAP or --broker-port."
        )
    if service == "gateway" and args.join and port_in_use(settings.grpc_host, settings.grpc_port):
        settings = settings.replace(grpc_port=free_port())
        log.info("gRPC port taken; this gateway listens on %s:%d", settings.grpc_host, settings.grpc_port)
    broker = None
    if not settings.bootstrap:
        broker = EmbeddedBroker(port=settings.broker_port).start()
        settings = settings.on_embedded_broker(broker.bootstrap)
        log.info("embedded broker (memory-only) on %s", broker.bootstrap)
    try:
        if service == "gateway":
            from claimstream.gateway.server import serve_gateway

            serve_gateway(settings)
        else:
            from claimstream.runtime.worker import serve

            serve(service_spec(service, settings), settings)
    finally:
        if broker:
            broker.stop()
    return 0


def join_local_pipeline(settings: Settings, service: str) -> Settings:
    """`serve --join`: these settings for a worker beside a running `claimstream up`.

    The worker uses up's embedded broker (127.0.0.1:`broker_port`) unless CLAIMSTREAM_BOOTSTRAP
    names one, and a free metrics port unless `metrics_port` names one; it joins its stage's
    consumer group, so the stage's partitions are shared between the workers.
    """
    from claimstream.local.broker import free_port, port_in_use

    if not settings.bootstrap:
        if not port_in_use("127.0.0.1", settings.broker_port):
            raise CliError(f"--join: no broker listens on 127.0.0.1:{settings.broker_port}; start `claimstream up` "
                           "first (or pass its --broker-port), or drop --join to start a broker of this worker's own")
        settings = settings.on_embedded_broker(f"127.0.0.1:{settings.broker_port}")
    if not settings.metrics_port:
        settings = settings.replace(metrics_port=free_port())
    log.info("%s: joining the pipeline on %s; metrics on http://%s:%d/metrics", service, settings.bootstrap,
             settings.metrics_host, settings.metrics_port)
    return settings


def cmd_up(args: argparse.Namespace, settings: Settings) -> int:
    from claimstream.local.launcher import LocalPipeline

    services = list(SERVICES)
    if args.services:
        wanted = [name.strip() for name in args.services.split(",") if name.strip()]
        unknown = [name for name in wanted if name not in services]
        if unknown:
            raise CliError(f"--services: {', '.join(unknown)} not available; choose from {', '.join(services)}")
        services = wanted
    stop = {"now": False}

    def on_signal(signum: int, frame: Any) -> None:
        stop["now"] = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    pipeline = LocalPipeline(settings, services)
    print("starting: " + ("embedded broker, " if not settings.bootstrap else "") + ", ".join(services), file=sys.stderr)
    try:
        pipeline.start()
        print(f"\nclaimstream is up (stop with Ctrl-C; a service that exits is restarted)\n\n"
              f"  kafka      {pipeline.bootstrap}" + ("  (embedded Tansu, memory-only)" if pipeline.broker else ""))
        for proc in pipeline.processes:
            where = f"http://{settings.metrics_host}:{proc.port}/metrics"
            if proc.name == "gateway":
                where = f"grpc {settings.grpc_host}:{settings.grpc_port}, {where}"
            print(f"  {proc.name:<10} {where}  (pid {proc.pid})")
        print(f"\n  try:  claimstream ingest examples/news.jsonl --bootstrap {pipeline.bootstrap}\n"
              f"        claimstream tail {settings.topic_langid} --bootstrap {pipeline.bootstrap} --from-beginning\n",
              flush=True)
        # A service that exits is restarted with backoff (its exit and the delay are logged);
        # the broker and the other services keep running. Only the broker's own exit ends `up`.
        while not stop["now"]:
            pipeline.supervise()
            time.sleep(0.5)
        print("stopping...", file=sys.stderr)
    finally:
        pipeline.stop()
    return 0


def send_records(
    settings: Settings, paths: Sequence[str], show_progress: bool = True, send_rejected: bool = False,
    dead_letters: bool = False,
) -> tuple[int, int]:
    """Produce the documents in `paths` to the ingest topic; returns (sent, rejected).

    Rejected lines are reported on stderr with file, line and reason. With `dead_letters`
    (`ingest --dlq`) each also goes to the ingest topic's DLQ as the stages write them
    (stage `ingest`, the line's bytes, keyed by "file:line"). With `send_rejected` (the demo),
    they are sent to the ingest topic as they are, so the first stage's DLQ shows them.
    """
    from claimstream.core.schema import Rejection, admit, encode_document
    from claimstream.kafka.clients import make_producer
    from claimstream.kafka.deadletters import dead_letter, record_size
    from claimstream.local.inputs import read_records

    producer = make_producer(settings)
    dlq_topic = settings.dlq_topic(settings.topic_ingest)
    sent = rejected = 0
    futures = []
    bar = progress_bar(None, "ingest") if show_progress else None

    def reject(origin: str, raw: bytes, rejection: Rejection) -> None:
        print(printable(f"{origin}: rejected ({rejection.reason}: {rejection.detail})"), file=sys.stderr)
        if dead_letters:
            # Not read from Kafka: partition and offset -1; replay would send the line to the ingest topic.
            letter = dead_letter(origin.encode("utf-8"), raw, None, rejection.reason,
                                 f"{origin}: {rejection.detail}", "ingest", settings.topic_ingest, -1, -1,
                                 settings.max_message_bytes)
            futures.append(producer.send(dlq_topic, key=letter.key, value=letter.value, headers=letter.headers))

    try:
        for record in read_records(paths):
            result = admit(record.result, settings.max_text_chars)
            if isinstance(result, Rejection):
                rejected += 1
                if send_rejected:
                    futures.append(producer.send(settings.topic_ingest, key=record.origin.encode(), value=record.raw))
                else:
                    reject(record.origin, record.raw, result)
                continue
            value = encode_document(result, settings.output_encoding)
            key = result.id.encode("utf-8")
            if record_size(key, value, []) > settings.max_message_bytes:
                rejected += 1
                reject(record.origin, record.raw, Rejection(
                    "output_too_large", f"message of {len(value):,} bytes exceeds max_message_bytes"))
                continue
            futures.append(producer.send(settings.topic_ingest, key=key, value=value))
            sent += 1
            if bar is not None:
                bar.update(1)
        for future in futures:
            future.get(timeout=60)
    finally:
        producer.flush()
        producer.close()
        if bar is not None:
            bar.close()
    return sent, rejected


def cmd_ingest(args: argparse.Namespace, settings: Settings) -> int:
    from claimstream.kafka.clients import ensure_topics

    ensure_topics(settings)
    sent, rejected = send_records(settings, args.paths, dead_letters=args.dlq)
    where = f" (dead letters in {settings.dlq_topic(settings.topic_ingest)})" if args.dlq and rejected else ""
    print(f"sent {sent} document(s) to {settings.topic_ingest} on {settings.bootstrap_servers()}; "
          f"rejected {rejected}{where}", file=sys.stderr)
    return EXIT_REJECTED if rejected else 0


def consume(
    settings: Settings, topics: Sequence[str], count: int | None, timeout: float | None, from_beginning: bool
) -> Iterator[Any]:
    """Messages from `topics` until `count` were read or nothing came for `timeout` seconds.

    Without `from_beginning`, only messages written after the call: every partition starts at
    its end as of the call, not wherever the first fetch happens to find it.
    """
    from kafka import TopicPartition

    from claimstream.kafka.clients import make_consumer, seek_to_now

    consumer = make_consumer(settings, [], from_beginning=from_beginning)
    seen = 0
    try:
        partitions = []
        for topic in topics:
            found = consumer.partitions_for_topic(topic)
            if not found:
                raise CliError(f"topic {topic!r} does not exist on {settings.bootstrap_servers()}; the pipeline's "
                               "topics are made by `claimstream topics create` (or `up`)")
            partitions += [TopicPartition(topic, p) for p in sorted(found)]
        consumer.assign(partitions)
        if from_beginning:
            consumer.seek_to_beginning(*partitions)
        else:
            seek_to_now(consumer, partitions)
        last = time.monotonic()
        while count is None or seen < count:
            batch = consumer.poll(timeout_ms=500)
            for messages in batch.values():
                for message in messages:
                    yield message
                    seen += 1
                    last = time.monotonic()
                    if count is not None and seen >= count:
                        return
            if timeout is not None and not batch and time.monotonic() - last > timeout:
                return
    finally:
        consumer.close()


def cmd_tail(args: argparse.Namespace, settings: Settings) -> int:
    for message in consume(settings, [args.topic], args.count, args.timeout, args.from_beginning):
        record = decode_for_topic(message.topic, message.value or b"", message.headers or [], settings)
        print(json.dumps(record, ensure_ascii=False), flush=True)
    return 0


def current_groups(messages: Iterable[Any]) -> list[Any]:
    """The latest state of each key among claims.groups messages, ordered by key."""
    from claimstream.claims.store import latest_groups

    return sorted(latest_groups(messages).values(), key=lambda g: g.key)


def cmd_claims(args: argparse.Namespace, settings: Settings) -> int:
    """The current claim groups: the latest state of every key on claims.groups."""
    from claimstream.claims.render import render_groups

    groups = current_groups(consume(settings, [settings.topic_groups], None, args.timeout, True))
    if args.json:
        from claimstream.core.schema import to_json

        for group in groups:
            if group.conflict or not args.conflicts_only:
                print(to_json(group))
        return 0
    conflicts = sum(g.conflict for g in groups)
    print(f"{len(groups)} claim groups on {settings.topic_groups}, {conflicts} with conflicts", file=sys.stderr)
    print(render_groups(groups, conflicts_only=args.conflicts_only))
    return 0


def wait_for_groups(settings: Settings, doc_ids: set[str], timeout: float, settle: float = 3.0) -> list[Any]:
    """The claim groups on claims.groups once they name every one of `doc_ids`, or once they
    stopped changing for `settle` seconds (a claim that forms no group), or after `timeout`."""
    from claimstream.kafka.clients import read_to_end

    deadline = time.monotonic() + timeout
    groups: list[Any] = []
    changed = time.monotonic()
    while True:
        now_groups = current_groups(read_to_end(settings, [settings.topic_groups], idle_timeout=2.0))
        if [g.SerializeToString(deterministic=True) for g in now_groups] != \
                [g.SerializeToString(deterministic=True) for g in groups]:
            groups, changed = now_groups, time.monotonic()
        named = {doc_id for g in groups for doc_id in g.doc_ids}
        now = time.monotonic()
        if doc_ids <= named or now - changed > settle or now > deadline:
            return groups
        time.sleep(0.3)


def summarize_document(doc: dict[str, Any]) -> list[str]:
    """What each stage added to a document, as indented lines."""
    lines = []
    lang = doc.get("language", {})
    if lang:
        alts = ", ".join(f"{a['code']} {a.get('confidence', 0):.2f}" for a in lang.get("alternatives", []))
        lines.append(f"  langid     {lang.get('code')} ({lang.get('script')}, {lang.get('confidence', 0):.2f}"
                     f"{', also ' + alts if alts else ''}) by {lang.get('method')}")
    tr = doc.get("translation")
    if tr:
        detail = tr.get("detail") or (tr.get("text", "")[:80] + "…" if tr.get("text") else "")
        lines.append(f"  translate  {tr.get('status')} {detail}")
    ents = doc.get("entities", [])
    if "entities" in doc or "ner" in doc.get("processed_at", {}):
        linked = sorted({e.get("canonical_name") or e["text"] for e in ents})
        lines.append(f"  ner        {len(ents)} entities: {', '.join(linked[:10])}{' …' if len(linked) > 10 else ''}")
    if "claims" in doc.get("processed_at", {}):
        claims = doc.get("claims", [])
        lines.append(f"  claims     {len(claims)} claim(s)")
        for claim in claims[:6]:
            lines.append(f"             - {claim.get('text')}")
    return lines


def cmd_demo(args: argparse.Namespace, settings: Settings) -> int:
    from claimstream.core.schema import Document
    from claimstream.local.broker import free_port
    from claimstream.local.inputs import read_records
    from claimstream.local.launcher import LocalPipeline

    paths = args.paths or ["examples/"]
    services = list(STAGE_NAMES)
    log_dir = Path(tempfile.mkdtemp(prefix="claimstream-demo-"))
    # A private broker and ports, so the demo runs beside a `claimstream up`.
    settings = settings.replace(broker_port=free_port()) if not settings.bootstrap else settings
    ports = {name: free_port() for name in services}
    ids = [r.result.id for r in read_records(paths) if isinstance(r.result, Document) and r.result.text.strip()]
    final_topic = service_spec(services[-1], settings).output_topic
    print(f"claimstream demo: {len(ids)} sample documents through {' -> '.join(services)} "
          f"(service logs in {log_dir})", file=sys.stderr)
    with LocalPipeline(settings, services, log_dir=log_dir, ports=ports) as pipeline:
        live = settings.replace(bootstrap=pipeline.bootstrap)
        print(f"broker {pipeline.bootstrap}; services ready", file=sys.stderr)
        _, bad_sent = send_records(live, paths, send_rejected=True)
        results: dict[str, dict[str, Any]] = {}
        bar = progress_bar(len(ids), f"waiting for {final_topic}")
        for message in consume(live, [final_topic], None, args.timeout, True):
            doc = decode_for_topic(final_topic, message.value, [], live)
            if doc.get("id") in ids and doc["id"] not in results:
                results[doc["id"]] = doc
                bar.update(1)
            if len(results) == len(ids):
                break
        bar.close()
        dlq = []
        if bad_sent:
            dlq_topic = live.dlq_topic(live.topic_ingest)
            for message in consume(live, [dlq_topic], bad_sent, args.timeout, True):
                dlq.append(decode_for_topic(dlq_topic, message.value, message.headers, live))
        groups: list[Any] = []
        if "claims" in services:  # what the stream's group agent wrote, not a merge redone here
            with_claims = {doc_id for doc_id, doc in results.items() if doc.get("claims")}
            groups = [g for g in wait_for_groups(live, with_claims, args.timeout) if set(g.doc_ids) & set(ids)]
    for doc_id in ids:
        arrived = results.get(doc_id)
        print("\n" + printable(doc_id) + ("" if arrived else "  (did not arrive)"))
        for line in summarize_document(arrived or {}):
            print(printable(line))
    if dlq:
        print(f"\n{len(dlq)} bad message(s) in {live.dlq_topic(live.topic_ingest)}:")
        for entry in dlq:
            print(printable(f"  {entry.get('reason')}: {entry.get('detail')}"))
    if "claims" in services:
        from claimstream.claims.render import render_groups

        print(f"\n{len(groups)} claim groups on {live.topic_groups}, {sum(g.conflict for g in groups)} with "
              "conflicts:\n")
        print(render_groups(groups))
    missing = len(ids) - len(results)
    print(f"\n{len(results)}/{len(ids)} documents enriched" + (f"; {missing} missing" if missing else ""))
    return 1 if missing else 0
