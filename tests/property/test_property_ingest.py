"""Property tests of intake: whatever the bytes, fields or record timestamp, a Document or a Rejection.

`admit` (decode, validate, fill ingested_at and the content hash) is what every entry point runs
on every message before a model sees it — the stage workers, `ingest`, `enrich`, the gateway; an
exception there would crash a worker, and a silent None would drop a message.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

from claimstream.core.schema import REASONS, Document, Rejection, admit, document_from_dict, to_json
from claimstream.kafka.deadletters import dead_letter, record_size
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

MAX_TEXT_CHARS = 1_000_000  # the default `max_text_chars`

# Characters that break naive text handling: controls, bidi marks and overrides, zero-width ones,
# a BOM, a lone-surrogate-free set of astral characters.
TRICKY = [
    "\x00", "\x01", "\x07", "\x1b", "\x7f", "\x85", "\u200b", "\u200c", "\u200d", "\u2060", "\ufeff",
    "\u200e", "\u200f", "\u202a", "\u202b", "\u202c", "\u202d", "\u202e", "\u2066", "\u2067", "\u2069",
    "\u061c", "\ufffd", "\U0001f600", "\u0928\u094d", "\u06f2\u06f0\u060c\u06f0\u06f0\u06f0",
]
tricky_text = st.lists(st.one_of(st.sampled_from(TRICKY), st.text(max_size=8)), max_size=40).map("".join)


def outcome(raw: bytes, received_ms: float | None = 1_720_000_000_000) -> Document | Rejection:
    """What a stage does with one message value and its record timestamp, the way the runner does it."""
    return admit(raw, MAX_TEXT_CHARS, received_ms)


def assert_handled(result: object) -> None:
    assert isinstance(result, Document | Rejection), f"got {result!r}"
    if isinstance(result, Rejection):
        assert result.reason in REASONS and result.detail
    else:
        assert result.id, "a decoded document always has an id"
        assert result.text.strip()


@given(st.binary(max_size=2048))
def test_random_bytes(raw: bytes) -> None:
    assert_handled(outcome(raw))


@given(st.binary(max_size=512))
def test_random_bytes_that_look_like_json(tail: bytes) -> None:
    # Bytes after '{' take the JSON path: broken UTF-8 and broken JSON must both be rejected cleanly.
    assert_handled(outcome(b"{" + tail))
    assert_handled(outcome(b"\xef\xbb\xbf [" + tail))


@given(st.text(max_size=200), st.binary(min_size=1, max_size=8))
def test_broken_utf8_inside_a_json_document(text: str, junk: bytes) -> None:
    raw = json.dumps({"id": "x", "text": text}, ensure_ascii=False).encode("utf-8")
    cut = raw.index(b'"text"') + 9
    broken = raw[:cut] + b"\xc3\x28" + junk + raw[cut:]  # \xc3\x28 is never valid UTF-8
    result = outcome(broken)
    assert isinstance(result, Rejection) and result.reason == "invalid_utf8"


@given(tricky_text, tricky_text)
def test_control_bidi_and_zero_width_characters_survive(text: str, title: str) -> None:
    raw = json.dumps({"id": "t", "text": text, "title": title}, ensure_ascii=False).encode("utf-8")
    result = outcome(raw)
    assert_handled(result)
    if isinstance(result, Document):
        assert result.text == text and result.title == title  # nothing stripped or rewritten
    else:
        assert result.reason == "empty_text" and not text.strip()


@given(tricky_text.filter(lambda t: t.strip()))
def test_protobuf_round_trip_of_tricky_text(text: str) -> None:
    doc = Document(id="p", text=text)
    result = outcome(doc.SerializeToString())
    assert isinstance(result, Document) and result.text == text


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)
FIELDS = ["id", "text", "title", "source", "url", "published_at", "lang_hint", "language", "entities", "claims"]


@given(st.dictionaries(st.sampled_from(FIELDS), json_values, max_size=8))
def test_wrongly_typed_json_fields(obj: dict[str, object]) -> None:
    result = outcome(json.dumps(obj).encode("utf-8"))
    assert_handled(result)
    if not isinstance(obj.get("text"), str | None) or (obj.get("id") is not None and not isinstance(obj["id"], str)):
        assert isinstance(result, Rejection) and result.reason in ("invalid_schema", "missing_text")


@given(st.integers(min_value=1, max_value=100_000), st.sampled_from(["[", '{"a":']))
@settings(max_examples=25, deadline=None)
def test_deeply_nested_json(depth: int, opener: str) -> None:
    closer = "]" if opener == "[" else "}"
    raw = (opener * depth + "1" + closer * depth).encode()
    result = outcome(raw)
    assert isinstance(result, Rejection) and result.reason in ("invalid_json", "invalid_schema", "missing_text")


@given(st.integers(min_value=1, max_value=(1 << 29) - 1), st.sampled_from([0, 1, 2, 5]), st.binary(max_size=16))
def test_protobuf_with_unknown_fields_decodes(field_number: int, wire_type: int, payload: bytes) -> None:
    """A newer producer may add fields: an old reader keeps the document (unknown fields are skipped)."""
    known = {f.number for f in Document.DESCRIPTOR.fields}
    field_number = max(field_number, max(known) + 1)  # a field this version does not know
    doc = Document(id="u", text="Flood waters rose in Assam.", title="Assam")
    tag = _varint(field_number << 3 | wire_type)
    if wire_type == 0:
        extra = tag + _varint(len(payload))
    elif wire_type == 1:
        extra = tag + payload.ljust(8, b"\0")[:8]
    elif wire_type == 5:
        extra = tag + payload.ljust(4, b"\0")[:4]
    else:
        extra = tag + _varint(len(payload)) + payload
    result = outcome(doc.SerializeToString() + extra)
    assert isinstance(result, Document)
    assert (result.id, result.text, result.title) == (doc.id, doc.text, doc.title)


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


@given(st.sampled_from(["a", "\u0905", "\u06f2", "\u200b"]), st.sampled_from(["json", "protobuf"]))
@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_ten_megabyte_text_is_rejected_as_too_large(char: str, encoding: str) -> None:
    text = "x " + char * (10 * 1024 * 1024)
    if encoding == "json":
        raw = json.dumps({"id": "big", "text": text}, ensure_ascii=False).encode("utf-8")
    else:
        raw = Document(id="big", text=text).SerializeToString()
    result = outcome(raw)
    assert isinstance(result, Rejection) and result.reason == "text_too_large"
    assert "10,485,762" in result.detail  # says how long it was


# Datetimes anywhere in the representable range, with any UTC offset a timestamp can carry
# (±14:00 is the widest real one; fromisoformat accepts up to ±23:59).
offsets = st.integers(min_value=-(24 * 60 - 1), max_value=24 * 60 - 1).map(lambda m: timezone(timedelta(minutes=m)))
local_times = st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31, 23, 59, 59))


@given(local_times, offsets, st.booleans())
def test_published_at_at_the_edges_of_time(moment: datetime, offset: timezone, date_only: bool) -> None:
    """A date-time whose UTC form leaves the years 0001-9999 is invalid_schema, never an exception."""
    stamp = moment.date().isoformat() if date_only else moment.replace(tzinfo=offset).isoformat()
    result = outcome(json.dumps({"id": "t", "text": "Flood in Assam.", "published_at": stamp}).encode())
    assert_handled(result)
    aware = datetime.fromisoformat(stamp)
    aware = aware if aware.tzinfo else aware.replace(tzinfo=UTC)
    try:
        expected = aware.astimezone(UTC)
    except OverflowError:
        assert isinstance(result, Rejection) and result.reason == "invalid_schema" and "0001-9999" in result.detail
        return
    assert isinstance(result, Document), result
    assert result.published_at.ToDatetime(tzinfo=UTC) == expected
    assert json.loads(to_json(result))["published_at"].startswith(f"{expected.year:04d}-")  # a valid wire form


def test_dates_before_the_year_1000_are_accepted() -> None:
    for stamp in ("0001-01-01", "0999-12-31T23:00:00Z", "0500-06-01T12:00:00+01:00"):
        result = document_from_dict({"text": "An old chronicle.", "published_at": stamp})
        assert isinstance(result, Document), (stamp, result)
        assert to_json(result).count('"published_at":"0') == 1


@given(st.integers(min_value=-(2**63), max_value=2**63 - 1) | st.sampled_from([253402300800000, -62135596800001]))
def test_any_record_timestamp_gives_a_valid_ingest_time(received_ms: int) -> None:
    """A record's timestamp is the producer's to set: one outside protobuf's range is replaced by the clock."""
    result = outcome(json.dumps({"id": "r", "text": "Flood in Assam."}).encode(), received_ms)
    assert isinstance(result, Document)
    ingested = result.ingested_at.ToDatetime(tzinfo=UTC)  # raises if the timestamp were out of range
    if -62135596800000 <= received_ms <= 253402300799000:
        assert result.ingested_at.ToMilliseconds() == received_ms
    else:
        assert abs((datetime.now(UTC) - ingested).total_seconds()) < 60


@given(st.integers(min_value=-(2**63), max_value=2**63 - 1), st.integers(min_value=-(2**31), max_value=2**31 - 1))
def test_protobuf_timestamps_out_of_range_are_rejected(seconds: int, nanos: int) -> None:
    doc = Document(id="p", text="Flood in Assam.")
    doc.published_at.seconds, doc.published_at.nanos = seconds, nanos
    result = outcome(doc.SerializeToString())
    assert_handled(result)
    valid = -62135596800 <= seconds <= 253402300799 and 0 <= nanos < 10**9
    assert isinstance(result, Document) == valid, result


@given(st.integers(min_value=0, max_value=4096), st.binary(max_size=64),
       st.lists(st.tuples(st.text(max_size=20), st.binary(max_size=300)), max_size=5))
def test_a_dead_letter_always_fits_in_a_message(missing: int, key: bytes, headers: list[tuple[str, bytes]]) -> None:
    """The dead letter of a message at (or near) the size limit still fits, and says it was cut."""
    from aiokafka.record.default_records import DefaultRecordBatchBuilder

    limit = 64 * 1024
    value = b"x" * max(0, limit - missing)
    record = dead_letter(key, value, headers, "text_too_large", "d" * 5000, "langid", "docs.ingest", 3, 10**12, limit)
    assert DefaultRecordBatchBuilder.estimate_size_in_bytes(record.key, record.value, record.headers) <= limit
    assert record_size(record.key, record.value, record.headers) <= limit
    names = dict(record.headers)
    assert names["x-claimstream-reason"] == b"text_too_large"
    if record.truncated:
        assert int(names["x-claimstream-truncated"]) == len(value) and value.startswith(record.value)
    else:
        assert record.value == value and all(h in record.headers for h in headers)
