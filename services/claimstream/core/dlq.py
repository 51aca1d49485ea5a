"""Dead letters: list what the stages could not process, and send it back after a fix.

A stage writes a message it could not process to `<input topic>.dlq` with the original
bytes as value, the original key, and `x-claimstream-*` headers saying why (see
`deadletters`). `list_dlq` reads those topics from the beginning without a
consumer group (it commits nothing, so listing never changes what a later listing
shows); `replay_dlq` produces each pending entry's original key and bytes to the topic
it came from, where the stage reads it again.

Replay sends each entry once. The replayed message carries `x-claimstream-replayed:
<dlq topic>/<partition>/<offset>`, and once the source topic acknowledged it, a record
keyed the same way goes to the replay log (`topic_dlq_replays`). A later replay skips
every entry in the log, and every entry a later dead letter names in its
`x-claimstream-replayed` header (a stage keeps that header when the replayed message
fails again). A log rather than a consumer group over the DLQ: a group's committed
offset is one position per partition, so it cannot record a replay of some reasons
only (`--reason`), nor the entries skipped on the way (truncated ones); the log says
which entries went back, entry by entry, to every later listing.

An entry that fails again is a new entry, pending until it is replayed once itself.
Replay is still at least once where it cannot be otherwise: if the replay log cannot
be written after the entries were sent, or two replays run at the same moment, an
entry may go back twice (the stages' effects are idempotent by document id).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from claimstream.core.deadletters import DLQ_HEADER_PREFIX, REPLAYED_HEADER
from claimstream.core.settings import Settings
from claimstream.core.text import printable

__all__ = [
    "DeadLetter", "ReplaySummary", "dlq_topics", "list_dlq", "replay_dlq", "replayed_entries", "add_dlq_command",
    "cmd_dlq",
]


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
    #: the dead letter this one is a failure of, when it failed again after a replay (`topic/partition/offset`)
    replayed_from: str = ""
    #: sent back to its source topic by an earlier `dlq --replay`
    replayed: bool = False

    @property
    def coordinates(self) -> str:
        """Where this entry sits, `<dlq topic>/<partition>/<offset>`: its name in the replay log and headers."""
        return f"{self.topic}/{self.partition}/{self.offset}"

    @property
    def state(self) -> str:
        """pending, replayed, or truncated (cannot be replayed)."""
        if self.replayed:
            return "replayed"
        return "truncated" if self.truncated_from is not None else "pending"

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
        replayed_from=found.get("replayed", ""),
    )


def _read_to_end(settings: Settings, topics: Sequence[str], limit: int | None, timeout: float) -> list[Any]:
    """Every record of `topics` (those that exist), up to each partition's end at the time of the call."""
    from claimstream.core.kafka import read_to_end

    return read_to_end(settings, topics, limit=limit, idle_timeout=timeout)


def replayed_entries(settings: Settings, timeout: float = 5.0) -> set[str]:
    """The coordinates (`topic/partition/offset`) of every entry the replay log says went back."""
    return {r.key.decode("utf-8", "replace") for r in _read_to_end(settings, [settings.topic_dlq_replays], None,
                                                                   timeout) if r.key}


def list_dlq(
    settings: Settings, topics: Sequence[str] | None = None, limit: int | None = None, timeout: float = 5.0
) -> list[DeadLetter]:
    """Every entry of the DLQ topics (all of the pipeline's by default), oldest first per partition,
    each marked `replayed` when an earlier replay sent it back.

    Reads up to each partition's end offset at the time of the call; `timeout` bounds the
    wait for a broker that stops answering. Topics that do not exist are skipped.
    """
    wanted = list(topics) if topics else dlq_topics(settings)
    letters = [_dead_letter(r) for r in _read_to_end(settings, wanted, limit, timeout)]
    # Replayed: in the replay log, or named by a later dead letter (the replay failed again).
    done = replayed_entries(settings, timeout) | {d.replayed_from for d in letters if d.replayed_from}
    letters = [replace(d, replayed=True) if d.coordinates in done else d for d in letters]
    letters.sort(key=lambda d: (d.topic, d.partition, d.offset))
    return letters[:limit] if limit is not None else letters


@dataclass(frozen=True)
class ReplaySummary:
    """What one `replay_dlq` did."""

    sent: int  # entries sent back to their source topic
    already: int  # entries an earlier replay had sent (skipped)
    skipped: int  # entries that cannot be replayed (no source topic, truncated)


def replay_dlq(
    settings: Settings, topics: Sequence[str] | None = None, reasons: Iterable[str] | None = None
) -> ReplaySummary:
    """Send each pending dead letter's original key, bytes and headers back to its source topic, once.

    `reasons` keeps only entries with those reason codes. Entries an earlier replay sent are
    skipped; so are entries without a source topic header (not written by a claimstream
    stage) and entries whose value was cut to fit in a message, with a warning on stderr.
    """
    from claimstream.core.kafka import ensure_topics, make_producer

    keep = set(reasons) if reasons else None
    letters = [d for d in list_dlq(settings, topics) if keep is None or d.reason in keep]
    already = sum(d.replayed for d in letters)
    pending = [d for d in letters if not d.replayed]
    skipped = 0
    for letter in pending:
        where = f"dlq: {letter.topic}[{letter.partition}]@{letter.offset}"
        if not letter.source_topic:
            print(f"{where} has no source topic header; not replayed", file=sys.stderr)
        elif letter.truncated_from is not None:
            print(f"{where} keeps only the first {len(letter.value):,} of {letter.truncated_from:,} bytes; "
                  "not replayed", file=sys.stderr)
        else:
            continue
        skipped += 1
    pending = [d for d in pending if d.source_topic and d.truncated_from is None]
    if not pending:
        return ReplaySummary(0, already, skipped)
    ensure_topics(settings, [settings.topic_dlq_replays])
    producer = make_producer(settings)
    try:
        sends = []
        for letter in pending:
            headers = [*letter.headers, (REPLAYED_HEADER, letter.coordinates.encode("utf-8"))]
            sends.append((letter, producer.send(letter.source_topic, key=letter.key, value=letter.value,
                                                headers=headers)))
        # Logged only once the source topic has it: a crash in between sends it again next time, never loses it.
        logged = []
        for letter, future in sends:
            sent = future.get(timeout=60)
            record = {"replayed_at": datetime.now(UTC).isoformat(), "to": letter.source_topic,
                      "partition": sent.partition, "offset": sent.offset}
            logged.append(producer.send(settings.topic_dlq_replays, key=letter.coordinates.encode("utf-8"),
                                        value=json.dumps(record).encode("utf-8")))
        for future in logged:
            future.get(timeout=60)
    finally:
        producer.close()
    return ReplaySummary(len(pending), already, skipped)


# --------------------------------------------------------------------------- CLI
def add_dlq_command(subparsers: Any, parents: Sequence[argparse.ArgumentParser]) -> argparse.ArgumentParser:
    """Register `claimstream dlq [TOPIC] [--replay] [--reason R] [--limit N]`."""
    help_text = "List dead letters (messages a stage could not process) with their reasons, or replay them."
    p: argparse.ArgumentParser = subparsers.add_parser(
        "dlq", help=help_text, description=help_text, parents=list(parents)
    )
    p.add_argument("topic", nargs="?", help="one DLQ topic (default: every stage's DLQ)")
    p.add_argument("--replay", action="store_true",
                   help="send the pending entries back to the topic they came from (after fixing the cause); "
                        "each entry is sent once, however often this runs")
    p.add_argument("--reason", action="append", metavar="REASON",
                   help="only entries with this reason code (repeatable)")
    p.add_argument("--limit", type=int, default=None, help="list at most N entries")
    p.set_defaults(func=cmd_dlq)
    return p


def cmd_dlq(args: argparse.Namespace, settings: Settings) -> int:
    """`claimstream dlq`: a table of entries (partition, offset, pending or replayed), or with --replay the
    number sent back."""
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
        summary = replay_dlq(settings, topics, args.reason)
        print(f"replayed {summary.sent} dead letter(s) to their source topics; {summary.already} replayed before "
              f"(skipped), {summary.skipped} not replayable", file=sys.stderr)
        return 0
    keep = set(args.reason or [])
    letters = [d for d in list_dlq(settings, topics) if not keep or d.reason in keep]
    states = Counter(d.state for d in letters)
    total = len(letters)
    if args.limit is not None:
        letters = letters[: args.limit]
    rows = [(printable(d.topic), str(d.partition), str(d.offset), d.state, printable(d.reason), printable(d.detail),
             printable(d.preview())) for d in letters]
    header = ("topic", "partition", "offset", "state", "reason", "detail", "value")
    widths = [min(max([len(header[i])] + [len(r[i]) for r in rows]), 48 if i == 5 else 60) for i in range(len(header))]
    print("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)))
    for row in rows:
        cells = [c if len(c) <= w else c[: w - 1] + "…" for c, w in zip(row, widths, strict=True)]
        print("  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip())
    shown = f"; {len(rows)} shown" if len(rows) < total else ""
    print(f"{total} dead letter(s): {states['pending']} pending, {states['replayed']} replayed, "
          f"{states['truncated']} truncated (not replayable){shown}", file=sys.stderr)
    return 0
