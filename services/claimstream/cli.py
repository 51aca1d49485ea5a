"""The `claimstream` command line."""

from __future__ import annotations

import argparse
import base64
import importlib
import json
import logging
import os
import signal
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from claimstream.core.logs import configure_logging
from claimstream.core.settings import SERVICES, STAGE_NAMES, Settings, SettingsError
from claimstream.core.text import printable

log = logging.getLogger("claimstream")

EXIT_REJECTED = 1
EXIT_USAGE = 2


class CliError(Exception):
    """An error a user caused: printed as one line, exit status 2."""


# --------------------------------------------------------------------------- helpers
def service_spec(name: str, settings: Settings) -> Any:
    return importlib.import_module(f"claimstream.{name}.service").spec(settings)


def decode_for_topic(
    topic: str, value: bytes, headers: Sequence[tuple[str, bytes]], settings: Settings
) -> dict[str, Any]:
    """A message from any pipeline topic as a JSON-able dict."""
    from claimstream.core.deadletters import DLQ_HEADER_PREFIX
    from claimstream.core.schema import Claim, ClaimGroup, document_to_dict, parse_message

    if topic.endswith(settings.dlq_suffix):
        record: dict[str, Any] = {
            name[len(DLQ_HEADER_PREFIX):]: raw.decode("utf-8", "replace")
            for name, raw in headers if name.startswith(DLQ_HEADER_PREFIX)
        }
        try:
            record["value"] = value.decode("utf-8")
        except UnicodeDecodeError:
            record["value_base64"] = base64.b64encode(value).decode("ascii")
        return record
    if topic in (settings.topic_groups, settings.topic_claims):
        parsed: Claim | ClaimGroup | None = (
            parse_message(ClaimGroup, value) if topic == settings.topic_groups else parse_message(Claim, value)
        )
        return document_to_dict(parsed) if parsed is not None else {"undecodable": "invalid_protobuf"}
    from claimstream.core.schema import Document, decode_document

    doc = decode_document(value)
    if isinstance(doc, Document):
        return document_to_dict(doc)
    return {"undecodable": doc.reason, "detail": doc.detail}


def progress_bar(total: int | None, desc: str) -> Any:
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="doc", file=sys.stderr, disable=None, dynamic_ncols=True)


# --------------------------------------------------------------------------- commands
def cmd_settings(args: argparse.Namespace, settings: Settings) -> int:
    if args.markdown:
        print(Settings.markdown_table())
    else:
        for name, value in settings.public().items():
            print(f"CLAIMSTREAM_{name.upper()}={value}")
    return 0


def cmd_topics(args: argparse.Namespace, settings: Settings) -> int:
    """`topics create`: create what is missing; both actions then print what the cluster has."""
    from claimstream.core.kafka import describe_topics, ensure_topics

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
    from claimstream.core.broker import EmbeddedBroker, free_port, port_in_use

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
            from claimstream.core.runner import serve

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
    from claimstream.core.broker import free_port, port_in_use

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
    from claimstream.core.launcher import LocalPipeline

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
    from claimstream.core.deadletters import dead_letter, record_size
    from claimstream.core.inputs import read_records
    from claimstream.core.kafka import make_producer
    from claimstream.core.schema import Rejection, admit, encode_document

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
    from claimstream.core.kafka import ensure_topics

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

    from claimstream.core.kafka import make_consumer, seek_to_now

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


def cmd_enrich(args: argparse.Namespace, settings: Settings) -> int:
    from claimstream.core.inputs import read_records
    from claimstream.core.pipeline import Pipeline
    from claimstream.core.schema import Document, to_json

    records = list(read_records(args.paths))
    pipeline = Pipeline.load(settings, progress=lambda stage: print(f"loading {stage}...", file=sys.stderr))
    out = open(args.out, "w", encoding="utf-8") if args.out else sys.stdout
    rejected = 0
    bar = progress_bar(len(records), "enrich")
    try:
        for start in range(0, len(records), settings.max_batch):
            chunk = records[start:start + settings.max_batch]
            docs = [r.result for r in chunk if isinstance(r.result, Document)]
            results = iter(pipeline.enrich(docs))
            for record in chunk:
                result = next(results) if isinstance(record.result, Document) else record.result
                if isinstance(result, Document):
                    out.write(to_json(result) + "\n")
                else:
                    rejected += 1
                    print(printable(f"{record.origin}: rejected ({result.reason}: {result.detail})"), file=sys.stderr)
                bar.update(1)
    finally:
        bar.close()
        if args.out:
            out.close()
    if args.groups:
        if pipeline.groups is None:
            raise CliError("--groups needs the claims stage, which is not part of this installation")
        with open(args.groups, "w", encoding="utf-8") as handle:
            for group in pipeline.groups.groups():
                handle.write(to_json(group) + "\n")
    pipeline.close()
    return EXIT_REJECTED if rejected else 0


def cmd_claims(args: argparse.Namespace, settings: Settings) -> int:
    """The current claim groups: the latest state of every key on claims.groups."""
    from claimstream.claims.groups import render_groups
    from claimstream.core.schema import ClaimGroup, parse_message

    latest: dict[bytes, ClaimGroup] = {}
    for message in consume(settings, [settings.topic_groups], None, args.timeout, True):
        group = parse_message(ClaimGroup, message.value)
        if group is not None and message.key:
            latest[message.key] = group
    groups = sorted(latest.values(), key=lambda g: g.key)
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


def cmd_build_models(args: argparse.Namespace, settings: Settings) -> int:
    """Build the ONNX graphs the stages load from the bundled weights (cached by content hash)."""
    from claimstream.core.model import ModelLoadError
    from claimstream.encoder.build import build
    from claimstream.ner.transformer import build_tagger

    try:
        encoder = build(out=args.out)
        print(f"encoder     {encoder.directory}", file=sys.stderr)
        graph, config, _ = build_tagger(cache_dir=args.out)
        print(f"ner tagger  {graph} (top {config['top_layers']} layers fine-tuned)", file=sys.stderr)
    except ModelLoadError as exc:
        raise CliError(str(exc)) from None
    return 0


def cmd_export_model(args: argparse.Namespace, settings: Settings) -> int:
    try:
        from claimstream.translate.export import ExportError, export_model
    except ModuleNotFoundError as exc:
        raise CliError(f"export-model needs the export extra ({exc.name} is missing): "
                       "pip install 'claimstream[export]'") from None
    print(f"exporting {args.src} -> {args.out} ({args.dtype})...", file=sys.stderr)
    try:
        manifest = export_model(args.src, Path(args.out), args.dtype)
    except ExportError as exc:
        raise CliError(str(exc)) from None
    print(json.dumps(manifest, indent=2, ensure_ascii=False))
    return 0


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
    from claimstream.core.broker import free_port
    from claimstream.core.inputs import read_records
    from claimstream.core.launcher import LocalPipeline
    from claimstream.core.schema import Document

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
        from claimstream.claims.groups import ClaimGroups, render_groups
        from claimstream.core.schema import document_from_dict

        groups = ClaimGroups(tolerance=settings.claims_conflict_tolerance)
        for doc in results.values():
            parsed = document_from_dict(doc)
            if isinstance(parsed, Document):
                groups.merge_document(parsed)
        merged = groups.groups()
        print(f"\n{len(merged)} claim groups, {sum(g.conflict for g in merged)} with conflicts:\n")
        print(render_groups(merged))
    missing = len(ids) - len(results)
    print(f"\n{len(results)}/{len(ids)} documents enriched" + (f"; {missing} missing" if missing else ""))
    return 1 if missing else 0


# --------------------------------------------------------------------------- parser
def build_parser() -> argparse.ArgumentParser:
    settings_flags = argparse.ArgumentParser(add_help=False)
    Settings.add_arguments(settings_flags)
    parser = argparse.ArgumentParser(
        prog="claimstream", description="Streaming NLP pipeline for multilingual news, over Kafka."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, func: Callable[[argparse.Namespace, Settings], int], help: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help, description=help, parents=[settings_flags])
        p.set_defaults(func=func)
        return p

    p = command(
        "up", cmd_up, "Embedded broker (unless CLAIMSTREAM_BOOTSTRAP is set) and every service; Ctrl-C stops all."
    )
    p.add_argument("--services", help="comma-separated subset to run (default: all)")
    p = command("serve", cmd_serve, "Run one service, as a container would.")
    p.add_argument("service", choices=SERVICES)
    p.add_argument("--join", action="store_true",
                   help="run beside a running `claimstream up`: use its embedded broker and a free metrics port "
                        "(the worker shares its stage's partitions)")
    p = command("ingest", cmd_ingest, "Send documents (.txt, .jsonl, directories, - for stdin) to the ingest topic.")
    p.add_argument("paths", nargs="+", metavar="PATH")
    p.add_argument("--dlq", action="store_true",
                   help="also send each rejected line to the ingest topic's DLQ, with its reason (stage `ingest`)")
    p = command("tail", cmd_tail, "Print a topic's messages as JSON lines.")
    p.add_argument("topic")
    p.add_argument("--count", type=int, default=None, help="stop after N messages")
    p.add_argument("--timeout", type=float, default=None, help="stop after S seconds without a message")
    p.add_argument("--from-beginning", action="store_true", help="start at the oldest message")
    p = command("enrich", cmd_enrich, "Run every stage in-process (no Kafka) and write enriched JSON lines.")
    p.add_argument("paths", nargs="+", metavar="PATH")
    p.add_argument("--out", help="write documents here instead of stdout")
    p.add_argument("--groups", help="write the claim groups of these documents here (JSON lines)")
    p = command("claims", cmd_claims, "The current claim groups and their conflicts, as a table.")
    p.add_argument("--conflicts-only", action="store_true", help="only groups whose values disagree")
    p.add_argument("--json", action="store_true", help="JSON lines instead of a table")
    p.add_argument("--timeout", type=float, default=3.0, help="stop reading after S seconds without a message")
    p = command("build-models", cmd_build_models,
                "Build the e5 encoder and the NER tagger as ONNX from the bundled weights (`make install` runs it; "
                "the stages also build on first load).")
    p.add_argument("--out", default=None, help="cache directory (default: $CLAIMSTREAM_ENCODER_CACHE, "
                   "else ~/.cache/claimstream/encoder)")
    p = command("export-model", cmd_export_model,
                "Convert a Hugging Face translation checkpoint (Marian, M2M100, NLLB) into the ONNX layout "
                "the translate service loads.")
    p.add_argument("src", help="checkpoint directory, or a hub id when the hub is reachable")
    p.add_argument("out", help="output directory (created; must be empty or a previous export)")
    p.add_argument("--dtype", choices=["fp32", "fp16", "int8"], default="fp32")
    from claimstream.core.dlq import add_dlq_command

    add_dlq_command(sub, [settings_flags])
    p = command("topics", cmd_topics,
                "Create the pipeline's topics (DLQs included; claims.groups compacted), or describe what the "
                "cluster has: partitions, replication and configuration (describe: exit status 1 if a topic is "
                "missing or configured differently).")
    p.add_argument("action", choices=["create", "describe"])
    p = command("settings", cmd_settings, "Print the effective settings (or the README table with --markdown).")
    p.add_argument("--markdown", action="store_true")
    p = command("demo", cmd_demo, "The whole pipeline on the embedded broker over sample documents, then exit.")
    p.add_argument("paths", nargs="*", metavar="PATH",
                   help="default: examples/ (bad lines are sent too, to show the DLQ)")
    p.add_argument("--timeout", type=float, default=120.0, help="give up after S seconds without output")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from claimstream.core.lifetime import honour_parent_death

    honour_parent_death()  # a service the launcher started dies with it
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        settings = Settings.load(args=args)
    except SettingsError as exc:
        print(printable(f"claimstream: {exc}"), file=sys.stderr)
        return EXIT_USAGE
    # Every line names its writer: the service of `serve`, else the command.
    configure_logging(args.service if args.command == "serve" else args.command, settings.log_level,
                      settings.log_format)
    from claimstream.core.broker import BrokerError
    from claimstream.core.inputs import InputError
    from claimstream.core.kafka import BrokerUnavailable, TopicsMissing
    from claimstream.core.launcher import LaunchError
    from claimstream.core.model import ModelLoadError

    try:
        code = int(args.func(args, settings))
        sys.stdout.flush()  # here, so a reader that went away is noticed below rather than at exit
        return code
    except BrokenPipeError:
        # The reader of stdout went away (`tail ... | head`): stop quietly, as other Unix tools do.
        # stdout goes to /dev/null so the interpreter's last flush at exit does not fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except (CliError, InputError, BrokerUnavailable, TopicsMissing, BrokerError, ModelLoadError, LaunchError,
            SettingsError) as exc:
        if args.command == "serve":  # a service's stderr is its log (JSON with log_format=json)
            log.error("%s", printable(str(exc)))
        else:
            print(printable(f"claimstream: {exc}"), file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
