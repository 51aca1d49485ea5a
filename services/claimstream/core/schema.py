"""The Document on the wire: decoding (protobuf or JSON), validation, encoding.

Every stage reads with `decode_document` and writes with `encode_document`. A
message that cannot become a valid Document becomes a `Rejection` instead, whose
`reason` is one of the codes below; the stage runner sends it to the DLQ.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, TypeVar

from google.protobuf import json_format
from google.protobuf.message import DecodeError
from google.protobuf.timestamp_pb2 import Timestamp

from claimstream.v1.document_pb2 import (
    Claim,
    ClaimGroup,
    ClaimGroupMember,
    Document,
    Entity,
    EntityRef,
    Language,
    LanguageScore,
    Quantity,
    TimeSpan,
    Translation,
)

__all__ = [
    "Claim", "ClaimGroup", "ClaimGroupMember", "Document", "Entity", "EntityRef", "Language",
    "LanguageScore", "Quantity", "TimeSpan", "Translation", "Rejection", "REASONS",
    "decode_document", "encode_document", "encode_message", "parse_message", "document_to_dict",
    "document_from_dict", "to_json",
    "validate_document", "content_hash", "now_timestamp", "mark_processed", "admit",
]

M = TypeVar("M", Claim, ClaimGroup, Document)

# DLQ reason codes: what was wrong with a message. Documented in the README.
REASONS = {
    "empty_message": "the Kafka message had no bytes",
    "invalid_utf8": "a JSON message was not valid UTF-8",
    "invalid_json": "a message starting with '{' or '[' was not valid JSON",
    "invalid_protobuf": "a binary message did not parse as a claimstream.v1.Document",
    "invalid_schema": "JSON that is not an object, or a field of the wrong type or format",
    "missing_text": "the document has no `text` field",
    "empty_text": "the document's text is empty or only whitespace",
    "text_too_large": "the text is longer than `max_text_chars`",
    "processing_error": "the stage raised on this document (detail has the error); the rest of its batch goes on",
    "output_too_large": "the stage's output for this document is larger than `max_message_bytes`",
}

# The range a protobuf Timestamp can hold: 0001-01-01T00:00:00Z to 9999-12-31T23:59:59Z.
_MIN_SECONDS, _MAX_SECONDS = -62_135_596_800, 253_402_300_799

# Fields of the plain JSON ingest form, all strings.
INGEST_FIELDS = ("id", "text", "title", "source", "url", "published_at", "lang_hint")


@dataclass(frozen=True)
class Rejection:
    """Why a message could not be processed; becomes a DLQ entry."""

    reason: str
    detail: str

    def __post_init__(self) -> None:
        if self.reason not in REASONS:
            raise ValueError(f"unknown DLQ reason {self.reason!r}")


def content_hash(doc: Document) -> str:
    """sha256 of title and text: the identity of a document's content."""
    return hashlib.sha256((doc.title + "\n" + doc.text).encode("utf-8")).hexdigest()


def now_timestamp() -> Timestamp:
    ts = Timestamp()
    ts.GetCurrentTime()
    return ts


def mark_processed(doc: Document, stage: str) -> None:
    """Record when `stage` produced its output for this document."""
    doc.processed_at[stage].CopyFrom(now_timestamp())


def _parse_datetime(value: str) -> datetime:
    value = value.strip()
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        parsed = datetime.combine(date.fromisoformat(value), datetime.min.time())
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def document_from_dict(obj: Any) -> Document | Rejection:
    """A Document from the JSON ingest form or protobuf's canonical JSON (proto field names).

    Unknown top-level fields are ignored, so producers may carry extra metadata.
    A document without `id` gets one derived from its content hash.
    """
    if not isinstance(obj, dict):
        return Rejection("invalid_schema", f"expected a JSON object, got {type(obj).__name__}")
    if "text" not in obj:
        return Rejection("missing_text", "the JSON object has no 'text' field")
    for name in INGEST_FIELDS:
        if name in obj and obj[name] is not None and not isinstance(obj[name], str):
            return Rejection("invalid_schema", f"field '{name}' must be a string, got {type(obj[name]).__name__}")
    known = {f.name for f in Document.DESCRIPTOR.fields}
    data = {k: v for k, v in obj.items() if k in known and v is not None}
    published = data.pop("published_at", None)
    doc = Document()
    try:
        json_format.ParseDict(data, doc, ignore_unknown_fields=True)
    except (json_format.ParseError, ValueError, TypeError, AttributeError, OverflowError) as exc:
        return Rejection("invalid_schema", str(exc)[:500])
    if published:
        try:
            stamp = _parse_datetime(published)
        except ValueError:
            return Rejection("invalid_schema", f"published_at {published[:100]!r} is not an ISO 8601 date or datetime")
        try:
            # FromDatetime, not strftime: years before 1000 keep their zero padding.
            doc.published_at.FromDatetime(stamp.astimezone(UTC))
        except (OverflowError, ValueError):
            return Rejection("invalid_schema", f"published_at {published[:100]!r} is outside the years 0001-9999 (UTC)")
    if not doc.id:
        doc.id = "sha256-" + content_hash(doc)[:16]
    return doc


def _sniff(raw: bytes) -> str:
    """"json", "protobuf", or "ambiguous" for whitespace followed by '{' or '['.

    A protobuf message never starts with '{' or '[' (they would be group tags, which proto3
    does not use), but it may start with 0x0a or 0x20 — whitespace to a JSON reader — so
    leading whitespace alone does not make a message JSON.
    """
    if raw[:1] in (b"{", b"[") or raw.startswith(b"\xef\xbb\xbf"):
        return "json"
    if raw.lstrip(b" \t\r\n")[:1] in (b"{", b"["):
        return "ambiguous"
    return "protobuf"


def _decode_json(raw: bytes) -> Document | Rejection:
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        return Rejection("invalid_utf8", f"byte {exc.start}: {exc.reason}")
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        return Rejection("invalid_json", f"line {exc.lineno} column {exc.colno}: {exc.msg}")
    except RecursionError:
        return Rejection("invalid_json", "nesting too deep")
    return document_from_dict(obj)


def _decode_protobuf(raw: bytes) -> Document | Rejection:
    doc = Document()
    try:
        doc.ParseFromString(raw)
    except (DecodeError, RuntimeWarning, ValueError) as exc:
        return Rejection("invalid_protobuf", str(exc)[:500] or "not a claimstream.v1.Document")
    # protobuf's Python runtime accepts invalid UTF-8 in string fields in some builds; check.
    try:
        (doc.id + doc.text + doc.title).encode("utf-8")
    except UnicodeEncodeError:
        return Rejection("invalid_utf8", "a string field is not valid UTF-8")
    if not doc.id and doc.text:
        doc.id = "sha256-" + content_hash(doc)[:16]
    return doc


def decode_document(raw: bytes | None) -> Document | Rejection:
    """Bytes from a docs.* topic -> Document: JSON (the ingest form or canonical JSON) or protobuf."""
    if not raw:
        return Rejection("empty_message", "the message value is empty")
    kind = _sniff(raw)
    if kind == "json":
        return _decode_json(raw)
    decoded = _decode_protobuf(raw)
    if kind == "ambiguous" and isinstance(decoded, Rejection):
        return _decode_json(raw)
    return decoded


def _valid_timestamp(stamp: Timestamp) -> bool:
    return _MIN_SECONDS <= stamp.seconds <= _MAX_SECONDS and 0 <= stamp.nanos < 1_000_000_000


def validate_document(doc: Document, max_text_chars: int) -> Rejection | None:
    """The checks every stage applies before its model sees a document."""
    if not doc.text.strip():
        return Rejection("empty_text", "text is empty or whitespace only")
    if len(doc.text) > max_text_chars:
        return Rejection("text_too_large", f"text has {len(doc.text):,} characters; the limit is {max_text_chars:,}")
    for name in ("published_at", "ingested_at"):
        if doc.HasField(name) and not _valid_timestamp(getattr(doc, name)):
            seconds = getattr(doc, name).seconds
            return Rejection("invalid_schema", f"{name} is outside the years 0001-9999 ({seconds} s since 1970)")
    return None


def admit(
    message: bytes | Document | Rejection | None, max_text_chars: int, received_ms: float | None = None
) -> Document | Rejection:
    """Take one document in: decode (given bytes), validate, and fill what the pipeline derives.

    Every entry point (the stage workers, `ingest`, `enrich`, the gateway) calls this, so a
    document is judged the same way wherever it arrives. `ingested_at` comes from `received_ms`
    (the Kafka record's timestamp) when that is a representable time, else from the clock.
    It never raises: whatever goes wrong becomes a Rejection naming it, so one hostile message
    cannot take the documents around it down with it.
    """
    try:
        doc = message if isinstance(message, Document | Rejection) else decode_document(message)
        if isinstance(doc, Rejection):
            return doc
        problem = validate_document(doc, max_text_chars)
        if problem is not None:
            return problem
        if not doc.HasField("ingested_at"):
            received = int(received_ms) if received_ms is not None else None
            if received is not None and _MIN_SECONDS * 1000 <= received <= _MAX_SECONDS * 1000:
                doc.ingested_at.FromMilliseconds(received)
            else:
                doc.ingested_at.CopyFrom(now_timestamp())
        if not doc.content_hash:
            doc.content_hash = content_hash(doc)
        if not doc.id:
            doc.id = "sha256-" + doc.content_hash[:16]
        return doc
    except Exception as exc:  # a bug in intake: reported on this document alone
        return Rejection("processing_error", f"intake: {type(exc).__name__}: {exc}"[:2000])


def document_to_dict(message: Any) -> dict[str, Any]:
    """Protobuf's canonical JSON form with proto (snake_case) field names."""
    return json_format.MessageToDict(message, preserving_proto_field_name=True)


def to_json(message: Any) -> str:
    """One line of canonical JSON (UTF-8, not ASCII-escaped)."""
    return json.dumps(document_to_dict(message), ensure_ascii=False, separators=(",", ":"))


def encode_message(message: Any, encoding: str) -> bytes:
    """A protobuf message as bytes in the configured output encoding (protobuf or canonical JSON)."""
    if encoding == "json":
        return to_json(message).encode("utf-8")
    return bytes(message.SerializeToString())


def encode_document(doc: Document, encoding: str) -> bytes:
    """Bytes for a docs.* topic in the configured output encoding."""
    return encode_message(doc, encoding)


def parse_message(cls: type[M], raw: bytes | None) -> M | None:
    """A Claim or ClaimGroup from protobuf or JSON bytes; None when they do not parse."""
    if not raw:
        return None
    kinds = {"json": ["json"], "protobuf": ["protobuf"], "ambiguous": ["protobuf", "json"]}[_sniff(raw)]
    for kind in kinds:
        message = cls()
        try:
            if kind == "json":
                json_format.Parse(raw.decode("utf-8-sig"), message, ignore_unknown_fields=True)
            else:
                message.ParseFromString(raw)
            return message
        except (DecodeError, json_format.ParseError, UnicodeDecodeError, ValueError):
            continue
    return None
