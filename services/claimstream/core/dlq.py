"""Dead letters: list what the stages could not process, and send it back after a fix.

A stage writes a message it could not process to `<input topic>.dlq` with the original
bytes as value, the original key, and `x-claimstream-*` headers saying why (see
`deadletters`). `list_dlq` reads those topics from the beginning without a
consumer group (it commits nothing, so listing never changes what a later listing
shows); `replay_dlq` produces each entry's original key and bytes to the topic it
came from, where the stage reads it again.

Replay is at least once: the DLQ is an append-only log, so replaying twice sends the
entries twice (the stages' effects are idempotent by document id), and an entry that
fails again lands in the DLQ again, as a new entry.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from claimstream.core.deadletters import DLQ_HEADER_PREFIX
from claimstream.core.settings import Settings
from claimstream.core.text import printable

__all__ = ["DeadLetter", "dlq_topics", "list_dlq", "replay_dlq", "add_dlq_command", "cmd_dlq"]


@dataclass(frozen=True)
class DeadLetter:
    """One DLQ entry: where it sits, the original message, and why it failed."""

    topic: str  # the DLQ topic
    partition: int
    offset: int
    key: bytes | None
    value: bytes  # the original message bytes, unchanged
    reason: str
    detail: str
    stage: str
    source_topic: str  # where the message was read from (replay sends it back there)
    source_partition: int | None
    source_offset: int | None
    failed_at: str
    headers: tuple[tuple[str, bytes], ...] = ()  # the original message's own headers
    #: the original's size when its value had to be cut to fit in a message (not replayable)
    truncated_from: int | None = None

    def preview(self, width: int = 60) -> str:
        """The value as one short line of text (binary values shown as escaped bytes)."""
        try:
            text = self.value.decode("utf-8")
        except UnicodeDecodeError:
            text = repr(self.value)[2:-1]
        text = " ".join(text.split())
        return text if len(text) <= width else text[: width - 1] + "…"


def dlq_topics(settings: Settings) -> list[str]:
    """The DLQ topics of the pipeline's stages."""
    return [t for t in settings.all_topics() if t.endswith(settings.dlq_suffix)]


def _int_or_none(raw: str) -> int | None:
    try:
        return int(raw)
    except ValueError:
        return None


def _dead_letter(record: Any) -> DeadLetter:
    found: dict[str, str] = {}
    own: list[tuple[str, bytes]] = []
    for name, raw in record.headers or []:
        if name.startswith(DLQ_HEADER_PREFIX):
            found[name[len(DLQ_HEADER_PREFIX):]] = (raw or b"").decode("utf-8", "replace")
        else:
            own.append((name, raw))
    return DeadLetter(
        topic=record.topic,
        partition=record.partition,
        offset=record.offset,
        key=record.key,
        value=record.value or b"",
        reason=found.get("reason", ""),
        detail=found.get("detail", ""),
        stage=found.get("stage", ""),
        source_topic=found.get("topic", ""),
        source_partition=_int_or_none(found.get("partition", "")),
        source_offset=_int_or_none(found.get("offset", "")),
        failed_at=found.get("failed_at", ""),
        headers=tuple(own),
        truncated_from=_int_or_none(found.get("truncated", "")),
    )


def list_dlq(
    settings: Settings, topics: Sequence[str] | None = None, limit: int | None = None, timeout: float = 5.0
) -> list[DeadLetter]:
    """Every entry of the DLQ topics (all of the pipeline's by default), oldest first per partition.

    Reads up to each partition's end offset at the time of the call; `timeout` bounds the
    wait for a broker that stops answering. Topics that do not exist are skipped.
    """
    from kafka import TopicPartition

    from claimstream.core.kafka import make_consumer

    wanted = list(topics) if topics else dlq_topics(settings)
    consumer = make_consumer(settings, [], from_beginning=True)
    letters: list[DeadLetter] = []
    try:
        partitions = [
            TopicPartition(topic, p)
            for topic in wanted
            for p in sorted(consumer.partitions_for_topic(topic) or ())
        ]
        if not partitions:
            return []
        consumer.assign(partitions)
        consumer.seek_to_beginning()
        # The end offsets are a floor, not the stop: the embedded broker has been seen to report a
        # partition's end below records it then served, so reading stops only once every partition
        # reached its end and a further poll brought nothing.
        ends = consumer.end_offsets(partitions)
        idle_deadline = time.monotonic() + timeout
        while limit is None or len(letters) < limit:
            batch = consumer.poll(timeout_ms=300)
            now = time.monotonic()
            if not batch:
                at_end = all(consumer.position(tp) >= ends.get(tp, 0) for tp in partitions)
                if at_end or now > idle_deadline:
                    break
                continue
            idle_deadline = now + timeout
            for records in batch.values():
                letters.extend(_dead_letter(record) for record in records)
    finally:
        consumer.close()
    letters.sort(key=lambda d: (d.topic, d.partition, d.offset))
    return letters[:limit] if limit is not None else letters


def replay_dlq(
    settings: Settings, topics: Sequence[str] | None = None, reasons: Iterable[str] | None = None
) -> int:
    """Send each dead letter's original key, bytes and headers back to its source topic; return how many.

    `reasons` keeps only entries with those reason codes. Entries without a source topic
    header (not written by a claimstream stage), and entries whose value was cut to fit in a
    message, are skipped with a warning on stderr.
    """
    from claimstream.core.kafka import make_producer

    keep = set(reasons) if reasons else None
    letters = [d for d in list_dlq(settings, topics) if keep is None or d.reason in keep]
    if not letters:
        return 0
    producer = make_producer(settings)
    sent = 0
    try:
        futures = []
        for letter in letters:
            if not letter.source_topic:
                print(f"dlq: {letter.topic}[{letter.partition}]@{letter.offset} has no source topic header; "
                      "not replayed", file=sys.stderr)
                continue
            if letter.truncated_from is not None:
                print(f"dlq: {letter.topic}[{letter.partition}]@{letter.offset} keeps only the first "
                      f"{len(letter.value):,} of {letter.truncated_from:,} bytes; not replayed", file=sys.stderr)
                continue
            futures.append(producer.send(
                letter.source_topic, key=letter.key, value=letter.value, headers=list(letter.headers)
            ))
        for future in futures:
            future.get(timeout=60)
            sent += 1
    finally:
        producer.close()
    return sent


# --------------------------------------------------------------------------- CLI
def add_dlq_command(subparsers: Any, parents: Sequence[argparse.ArgumentParser]) -> argparse.ArgumentParser:
    """Register `claimstream dlq [TOPIC] [--replay] [--reason R] [--limit N]`."""
    help_text = "List dead letters (messages a stage could not process) with their reasons, or replay them."
    p: argparse.ArgumentParser = subparsers.add_parser(
        "dlq", help=help_text, description=help_text, parents=list(parents)
    )
    p.add_argument("topic", nargs="?", help="one DLQ topic (default: every stage's DLQ)")
    p.add_argument("--replay", action="store_true",
                   help="send the entries back to the topic they came from (after fixing the cause)")
    p.add_argument("--reason", action="append", metavar="REASON",
                   help="only entries with this reason code (repeatable)")
    p.add_argument("--limit", type=int, default=None, help="list at most N entries")
    p.set_defaults(func=cmd_dlq)
    return p


def cmd_dlq(args: argparse.Namespace, settings: Settings) -> int:
    """`claimstream dlq`: a table of entries, or with --replay the number sent back."""
    from claimstream.core.schema import REASONS

    topics = [args.topic] if args.topic else None
    if args.topic and not args.topic.endswith(settings.dlq_suffix):
        print(f"claimstream: {args.topic!r} is not a DLQ topic (they end in {settings.dlq_suffix!r}): "
              f"choose from {', '.join(dlq_topics(settings))}", file=sys.stderr)
        return 2
    unknown = [r for r in args.reason or [] if r not in REASONS]
    if unknown:
        print(f"claimstream: unknown reason {', '.join(unknown)}; choose from {', '.join(REASONS)}",
              file=sys.stderr)
        return 2
    if args.replay:
        sent = replay_dlq(settings, topics, args.reason)
        print(f"replayed {sent} dead letter(s) to their source topics", file=sys.stderr)
        return 0
    keep = set(args.reason or [])
    letters = [d for d in list_dlq(settings, topics) if not keep or d.reason in keep]
    if args.limit is not None:
        letters = letters[: args.limit]
    rows = [(printable(d.topic), str(d.offset), printable(d.reason), printable(d.detail), printable(d.preview()))
            for d in letters]
    header = ("topic", "offset", "reason", "detail", "value")
    widths = [min(max([len(header[i])] + [len(r[i]) for r in rows]), 48 if i == 3 else 60) for i in range(5)]
    print("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)))
    for row in rows:
        cells = [c if len(c) <= w else c[: w - 1] + "…" for c, w in zip(row, widths, strict=True)]
        print("  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip())
    print(f"{len(rows)} dead letter(s)", file=sys.stderr)
    return 0
