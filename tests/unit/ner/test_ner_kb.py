"""Loading knowledge-base files: the shipped one, users' additions, and clear errors on bad files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from babel import Locale
from claimstream.core.model import ModelLoadError
from claimstream.core.settings import Settings
from claimstream.ner.gazetteer import Gazetteer, load_gazetteer
from claimstream.ner.kb import SHIPPED_KB, KBError, kb_paths, load_kb
from claimstream.ner.model import load


def write(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


GOOD = json.dumps({"id": "org:acme", "type": "ORG", "name": "Acme Relief", "aliases": {"fa": ["آکمه"]}})


@pytest.mark.parametrize(
    ("bad_line", "message"),
    [
        ('{"id": "x", "type": "ORG", "name": "X"', "not valid JSON"),
        ('["a list"]', "expected a JSON object"),
        ('{"type": "ORG", "name": "X"}', "'id' must be a non-empty string"),
        ('{"id": "x", "type": "COUNTRY", "name": "X"}', "'type' 'COUNTRY' is not one of"),
        ('{"id": "x", "type": "ORG", "name": "X", "aliases": {"fa": "یک"}}', "aliases['fa'] must be a list"),
        ('{"id": "x", "type": "ORG", "name": "X", "alias": {}}', "unknown field"),
        ('{"id": "new:thing", "aliases": {"en": ["Thing"]}}', "needs 'type' and 'name'"),
        ('{"id": "x", "type": "ORG", "name": "X", "prior": "high"}', "'prior' must be a number"),
    ],
)
def test_malformed_line_is_reported_with_file_and_line(tmp_path: Path, bad_line: str, message: str) -> None:
    path = write(tmp_path / "mine.jsonl", [GOOD, "", bad_line])
    with pytest.raises(KBError) as info:
        load_kb([path])
    assert f"{path}:3:" in str(info.value)
    assert message in str(info.value)


def test_missing_and_undecodable_files_are_reported(tmp_path: Path) -> None:
    with pytest.raises(KBError, match="cannot open"):
        load_kb([tmp_path / "absent.jsonl"])
    bad = tmp_path / "latin1.jsonl"
    bad.write_bytes(GOOD.encode() + b"\n" + '{"id": "x", "type": "ORG", "name": "Caf\xe9"}'.encode("latin-1") + b"\n")
    with pytest.raises(KBError, match=r"latin1\.jsonl:2: not valid UTF-8"):
        load_kb([bad])


def test_service_load_fails_clearly_on_a_bad_user_kb(tmp_path: Path) -> None:
    path = write(tmp_path / "broken.jsonl", ["{oops"])
    with pytest.raises(ModelLoadError, match=r"broken\.jsonl:1"):
        load(Settings(ner_kb_paths=str(path), ner_spacy_model=""))


def test_user_file_adds_entities_and_extends_shipped_ones(tmp_path: Path) -> None:
    extra = write(tmp_path / "extra.jsonl", [
        GOOD,
        json.dumps({"id": "country:IR", "aliases": {"fa": ["ایران‌زمین"]}}),
    ])
    entities = load_kb(kb_paths(f" {extra} ,"))
    gazetteer = Gazetteer(entities.values())
    text = "کمک‌های آکمه به ایران‌زمین رسید"
    found = {(text[m.start:m.end], m.entity.id) for m in gazetteer.find(text)}
    assert ("آکمه", "org:acme") in found
    assert ("ایران‌زمین", "country:IR") in found
    assert entities["country:IR"].name == "Iran"  # extended, not replaced


def test_cached_index_is_rebuilt_when_a_kb_file_changes(tmp_path: Path) -> None:
    kb = write(tmp_path / "kb.jsonl", [GOOD])
    first = load_gazetteer([kb], cache_dir=tmp_path / "cache")
    assert first.find("Acme Relief")
    write(kb, [json.dumps({"id": "org:other", "type": "ORG", "name": "Other Aid Group"})])
    second = load_gazetteer([kb], cache_dir=tmp_path / "cache")
    assert not second.find("Acme Relief")
    assert [m.entity.id for m in second.find("Other Aid Group")] == ["org:other"]
    (tmp_path / "cache").chmod(0o500)  # an unwritable or corrupt cache must not break loading
    for f in (tmp_path / "cache").iterdir():
        f.chmod(0o600)
        f.write_bytes(b"not a pickle")
    assert [m.entity.id for m in load_gazetteer([kb], cache_dir=tmp_path / "cache").find("Other Aid Group")] == [
        "org:other"]


def test_shipped_kb_has_every_cldr_country_in_the_required_languages() -> None:
    entities = load_kb([SHIPPED_KB])
    for code in Locale("en").territories:
        if code.isalpha() and code not in {"ZZ", "XA", "XB", "QO", "UN", "EU", "EZ"}:
            assert f"country:{code}" in entities, code
    required = ["en", "hi", "fa", "ar", "ru", "uk", "ko", "zh", "ur", "es", "fr", "de"]
    for eid in ("country:IR", "country:IN", "country:DE", "country:US", "country:RU"):
        langs = set(entities[eid].aliases)
        assert set(required) <= langs, (eid, set(required) - langs)
    labels = {e.label for e in entities.values()}
    assert {"GPE", "LOC", "ORG", "PERSON"} <= labels
    assert SHIPPED_KB.stat().st_size < 5_000_000
