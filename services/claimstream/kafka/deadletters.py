"""The dead-letter record: what a stage writes to `<input topic>.dlq` for a message it could not process.

Value and key are the original message's; the original headers are kept, and
`x-claimstream-*` headers say why (reason, detail, stage, source topic, partition,
offset, time). Written by the stage workers and the claims group agent alike (both
through `send_dead_letter`), read by `claimstream dlq` and `tail`.

A dead letter must always fit in a Kafka message: the original may have been just under
`max_message_bytes` before the headers were added. When it does not fit, the value is cut
to fit and `x-claimstream-truncated` gives the original size and `x-claimstream-sha256`
its digest, so the entry still says what failed and why (such a value cannot be replayed
as it is; it was refused for its size anyway).

Listing and replay (`claimstream dlq`, in `cli/deadletters.py`, is their command):
`list_dlq` reads those topics from the beginning without a
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

import hashlib
import json
import logging
import sys
from collections.abc import Awaitable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, cast

from claimstream.core import metrics
from claimstream.core.schema import Rejection
from claimstream.core.settings import Settings
from claimstream.kafka.clients import ensure_topics, make_producer, read_to_end

log = logging.getLogger(__name__)

#: Header names on DLQ messages, after the prefix.
DLQ_HEADERS = ("reason", "detail", "stage", "topic", "partition", "offset", "failed_at")
DLQ_HEADER_PREFIX = "x-claimstream-"
#: Set only on a dead letter whose value had to be cut to fit: the original size in bytes, its sha256.
TRUNCATED_HEADER = DLQ_HEADER_PREFIX + "truncated"
SHA256_HEADER = DLQ_HEADER_PREFIX + "sha256"
#: On a message `dlq --replay` sent back to its source topic: the dead letter it came from
#: (`<dlq topic>/<partition>/<offset>`). A stage keeps it on the message's next dead letter, if any.
REPLAYED_HEADER = DLQ_HEADER_PREFIX + "replayed"

# What a record costs beyond key, value and headers (record batch framing, varints), with room to spare.
_RECORD_OVERHEAD = 1024

Headers = list[tuple[str, bytes]]


def dlq_headers(
    reason: str, detail: str, stage: str, topic: str, partition: int, offset: int
) -> Headers:
    """The `x-claimstream-*` headers of one dead letter."""
    values = (reason, detail[:2000], stage, topic, str(partition), str(offset), datetime.now(UTC).isoformat())
    return [(DLQ_HEADER_PREFIX + name, value.encode("utf-8")) for name, value in zip(DLQ_HEADERS, values, strict=True)]


@dataclass(frozen=True)
class DeadLetterRecord:
    """A dead letter ready to produce."""

    key: bytes | None
    value: bytes
    headers: Headers
    truncated: bool


def record_size(key: bytes | None, value: bytes, headers: Sequence[tuple[str, bytes]]) -> int:
    """An upper bound of the bytes a record takes on the wire."""
    return (len(key or b"") + len(value) + sum(len(name) + len(raw or b"") for name, raw in headers)
            + _RECORD_OVERHEAD)


def dead_letter(
    key: bytes | None, value: bytes | None, original_headers: Sequence[tuple[str, bytes]] | None,
    reason: str, detail: str, stage: str, topic: str, partition: int, offset: int, limit: int,
) -> DeadLetterRecord:
    """The dead letter of one message, cut to fit in `limit` bytes if it must be."""
    value = value or b""
    own = [(name, raw or b"") for name, raw in original_headers or []
           if not name.startswith(DLQ_HEADER_PREFIX) or name == REPLAYED_HEADER]
    headers = own + dlq_headers(reason, detail, stage, topic, partition, offset)
    if record_size(key, value, headers) <= limit:
        return DeadLetterRecord(key, value, headers, truncated=False)
    digest = hashlib.sha256(value).hexdigest()
    headers += [(TRUNCATED_HEADER, str(len(value)).encode()), (SHA256_HEADER, digest.encode())]
    room = limit - record_size(key, b"", headers)
    if room < 0:  # the original headers alone are too large: keep ours only
        headers = headers[len(own):]
        room = max(0, limit - record_size(key, b"", headers))
    return DeadLetterRecord(key, value[:room], headers, truncated=True)


class UndeliveredError(RuntimeError):
    """An output or a dead letter could not be written: the batch must not be acknowledged."""


async def send_dead_letter(topic: Any, message: Any, rejection: Rejection, service: str, limit: int) -> Awaitable[Any]:
    """Produce one message's dead letter to `topic` (a Faust topic; counted, logged); returns the ack to await.

    Raises UndeliveredError when the producer refuses it outright.
    """
    metrics.DLQ.labels(service, rejection.reason).inc()
    metrics.MESSAGES.labels(service, "dlq").inc()
    log.warning("%s: %s[%d]@%d -> DLQ (%s: %s)", service, message.topic, message.partition, message.offset,
                rejection.reason, rejection.detail[:200])
    record = dead_letter(message.key, message.value, message.headers, rejection.reason, rejection.detail, service,
                         message.topic, message.partition, message.offset, limit)
    try:
        return cast(Awaitable[Any], await topic.send(key=record.key, value=record.value, headers=record.headers))
    except Exception as exc:
        raise UndeliveredError(f"dead letter for {message.topic}[{message.partition}]@{message.offset}") from exc


# --------------------------------------------------------------------------- listing and replay

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


def split_headers(headers: Sequence[tuple[str, bytes | None]]) -> tuple[dict[str, str], list[tuple[str, bytes]]]:
    """A dead letter's headers as (its DLQ fields by name without the prefix: reason, detail, stage,
    topic, ...; the original message's own headers)."""
    found: dict[str, str] = {}
    own: list[tuple[str, bytes]] = []
    for name, raw in headers:
        if name.startswith(DLQ_HEADER_PREFIX):
            found[name[len(DLQ_HEADER_PREFIX):]] = (raw or b"").decode("utf-8", "replace")
        else:
            own.append((name, raw or b""))
    return found, own


def _dead_letter(record: Any) -> DeadLetter:
    found, own = split_headers(record.headers or [])
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
