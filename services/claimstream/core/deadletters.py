"""The dead-letter record: what a stage writes to `<input topic>.dlq` for a message it could not process.

Value and key are the original message's; the original headers are kept, and
`x-claimstream-*` headers say why (reason, detail, stage, source topic, partition,
offset, time). Written by the stage workers and the claims group agent alike, read
by `claimstream dlq` and `tail`.

A dead letter must always fit in a Kafka message: the original may have been just under
`max_message_bytes` before the headers were added. When it does not fit, the value is cut
to fit and `x-claimstream-truncated` gives the original size and `x-claimstream-sha256`
its digest, so the entry still says what failed and why (such a value cannot be replayed
as it is; it was refused for its size anyway).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

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
