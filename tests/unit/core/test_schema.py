"""Decoding what producers put on the ingest topic, and what becomes a DLQ reason."""

from __future__ import annotations

import json

import pytest
from claimstream.core.schema import (
    REASONS,
    Document,
    Rejection,
    decode_document,
    encode_document,
    to_json,
    validate_document,
)


def test_plain_json_ingest_form_becomes_a_document():
    raw = json.dumps({
        "id": "a1", "text": "سیل در آسام", "title": "T", "source": "IRNA", "url": "https://example.org/a1",
        "published_at": "2024-07-04", "lang_hint": "fa", "author": "extra fields are ignored",
    }, ensure_ascii=False).encode()
    doc = decode_document(raw)
    assert isinstance(doc, Document)
    assert (doc.id, doc.text, doc.source, doc.lang_hint) == ("a1", "سیل در آسام", "IRNA", "fa")
    assert doc.published_at.ToJsonString() == "2024-07-04T00:00:00Z"


def test_protobuf_round_trip_and_canonical_json_use_proto_field_names():
    doc = Document(id="p1", text="hello", lang_hint="en")
    doc.published_at.FromJsonString("2024-07-04T10:00:00Z")
    decoded = decode_document(encode_document(doc, "protobuf"))
    assert decoded == doc
    as_json = json.loads(to_json(doc))
    assert as_json["lang_hint"] == "en" and "langHint" not in as_json
    assert decode_document(encode_document(doc, "json")) == doc


def test_missing_id_is_derived_from_content():
    first = decode_document(b'{"text": "same words"}')
    second = decode_document(b'{"text": "same words"}')
    assert isinstance(first, Document) and first.id.startswith("sha256-") and first.id == second.id


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"", "empty_message"),
        (b'{"id": "x", "text": "caf\xe9"}', "invalid_utf8"),
        (b'{"id": "x", "text": ', "invalid_json"),
        (b'["not", "an", "object"]', "invalid_schema"),
        (b'{"id": "x"}', "missing_text"),
        (b'{"id": "x", "text": 12345}', "invalid_schema"),
        (b'{"id": 7, "text": "t"}', "invalid_schema"),
        (b'{"id": "x", "text": "t", "published_at": "yesterday"}', "invalid_schema"),
        (b"\x08\x96\x01\xff\xff", "invalid_protobuf"),
    ],
)
def test_bad_messages_become_rejections_with_their_reason(raw, reason):
    result = decode_document(raw)
    assert isinstance(result, Rejection)
    assert result.reason == reason
    assert result.detail


@pytest.mark.parametrize(
    ("text", "reason"), [("", "empty_text"), (" \n\t", "empty_text"), ("x" * 101, "text_too_large")]
)
def test_validation(text, reason):
    problem = validate_document(Document(id="v", text=text), max_text_chars=100)
    assert problem is not None and problem.reason == reason


def test_every_reason_is_documented_in_the_readme():
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[3] / "README.md").read_text(encoding="utf-8")
    for reason in REASONS:
        assert f"`{reason}`" in readme, reason


def test_protobuf_whose_first_bytes_look_like_json_whitespace_is_still_protobuf():
    # Field 1 (id) has tag 0x0a, a newline to a JSON reader; a 123-character id makes the next byte '{'.
    doc = Document(id="x" * 123, text="t")
    raw = doc.SerializeToString()
    assert raw[:2] == b"\n{"
    assert decode_document(raw) == doc


def test_json_with_leading_whitespace_is_json():
    doc = decode_document(b'  \n {"id": "w", "text": "hello"}')
    assert isinstance(doc, Document) and doc.id == "w"
