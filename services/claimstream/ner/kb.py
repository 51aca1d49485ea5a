"""The knowledge base of canonical entities: loading and validating JSONL files.

One JSON object per line (blank lines are skipped):

    {"id": "country:IR", "type": "GPE", "name": "Iran",
     "aliases": {"en": ["Iran", "Islamic Republic of Iran"], "fa": ["ایران"], "hi": ["ईरान"]},
     "country": "IR"}

- `id` (string, required): the canonical id written to `Entity.canonical_id`.
- `type` (string): the entity label, one of `LABELS`; required for a new id.
- `name` (string): the canonical English name (`Entity.canonical_name`); required for a new id.
- `aliases` (object): language code -> list of names; the English name is always an alias.
- `country` (string, optional): ISO 3166 alpha-2 code of the country the entity belongs to.
- `parent` (string, optional): the id of the entity this one lies in, one level up: the
  first-level subdivision of a city (`"subdivision:IN-BR"` for Patna). Files written
  before this field existed have none, and an entity without it has `parent == ""`.
- `prior` (number, optional): which entity wins when two share an alias (higher wins;
  defaults by type: countries over cities over organisations over people).

Later files extend earlier ones: an object whose `id` is already known adds its
aliases to that entity and replaces `type`, `name`, `country`, `parent` or `prior` where given.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: The shipped knowledge base, built by tools/build_kb.py.
SHIPPED_KB = Path(__file__).parent / "data" / "kb.jsonl"

LABELS = frozenset(
    {"PERSON", "ORG", "GPE", "LOC", "NORP", "FAC", "EVENT", "PRODUCT", "LAW", "LANGUAGE", "WORK_OF_ART", "MISC"}
)
_DEFAULT_PRIOR = {"GPE": 3.0, "LOC": 2.5, "ORG": 2.0, "NORP": 1.5, "PERSON": 1.0}
_FIELDS = {"id", "type", "name", "aliases", "country", "parent", "prior"}


class KBError(ValueError):
    """A knowledge-base file is missing or malformed; the message names the file and line."""


@dataclass
class KBEntity:
    """One canonical entity and every name it is known by."""

    id: str
    label: str
    name: str
    aliases: dict[str, list[str]] = field(default_factory=dict)
    country: str = ""
    prior: float = 0.0
    #: id of the entity one level up (a city's subdivision), "" when unknown
    parent: str = ""

    def all_aliases(self) -> Iterable[tuple[str, str]]:
        """(language, alias) pairs, the English name first."""
        yield "en", self.name
        for lang, names in self.aliases.items():
            for alias in names:
                yield lang, alias


def _fail(path: Path, lineno: int, message: str) -> KBError:
    return KBError(f"{path}:{lineno}: {message}")


def parse_line(path: Path, lineno: int, line: str) -> dict[str, Any]:
    """Parse and check one line of a KB file; raise `KBError` naming the file and line.

    The object it returns has the field types checked here (JSON values, hence `Any`)."""
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as exc:
        raise _fail(path, lineno, f"not valid JSON ({exc.msg} at column {exc.colno})") from None
    if not isinstance(obj, dict):
        raise _fail(path, lineno, f"expected a JSON object, got {type(obj).__name__}")
    unknown = set(obj) - _FIELDS
    if unknown:
        raise _fail(path, lineno, f"unknown field(s) {sorted(unknown)}; allowed: {sorted(_FIELDS)}")
    if not isinstance(obj.get("id"), str) or not obj["id"].strip():
        raise _fail(path, lineno, "'id' must be a non-empty string")
    for key in ("type", "name", "country", "parent"):
        if key in obj and not isinstance(obj[key], str):
            raise _fail(path, lineno, f"'{key}' must be a string")
    if "parent" in obj and (not obj["parent"].strip() or obj["parent"] == obj["id"]):
        raise _fail(path, lineno, "'parent' must be the id of another entity")
    if "type" in obj and obj["type"] not in LABELS:
        raise _fail(path, lineno, f"'type' {obj['type']!r} is not one of {sorted(LABELS)}")
    if "name" in obj and not str(obj["name"]).strip():
        raise _fail(path, lineno, "'name' must not be empty")
    if "prior" in obj and (isinstance(obj["prior"], bool) or not isinstance(obj["prior"], int | float)):
        raise _fail(path, lineno, "'prior' must be a number")
    aliases = obj.get("aliases", {})
    if not isinstance(aliases, dict):
        raise _fail(path, lineno, "'aliases' must be an object mapping a language code to a list of names")
    for lang, names in aliases.items():
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise _fail(path, lineno, f"aliases[{lang!r}] must be a list of strings")
    return obj


def load_kb(paths: Iterable[str | Path]) -> dict[str, KBEntity]:
    """Read KB files in order into entities by id; raise `KBError` naming the file and line on bad input."""
    entities: dict[str, KBEntity] = {}
    parent_set_at: dict[str, tuple[Path, int]] = {}  # entity id -> where its `parent` was last given
    for raw_path in paths:
        path = Path(raw_path)
        try:
            handle = path.open("rb")  # decoded line by line, so a bad byte is reported on its line
        except OSError as exc:
            raise KBError(f"{path}: cannot open knowledge-base file ({exc.strerror})") from None
        with handle:
            for lineno, raw in enumerate(handle, start=1):
                try:
                    line = raw.decode("utf-8-sig" if lineno == 1 else "utf-8")
                except UnicodeDecodeError as exc:
                    raise _fail(path, lineno, f"not valid UTF-8 ({exc.reason} at byte {exc.start})") from None
                if line.strip():
                    obj = parse_line(path, lineno, line)
                    _merge(entities, obj, path, lineno)
                    if "parent" in obj:
                        parent_set_at[str(obj["id"])] = (path, lineno)
    for eid, (path, lineno) in parent_set_at.items():
        if entities[eid].parent not in entities:
            raise _fail(path, lineno, f"'parent' {entities[eid].parent!r} of {eid!r} is not an entity of the KB")
    return entities


def _merge(entities: dict[str, KBEntity], obj: dict[str, Any], path: Path, lineno: int) -> None:
    eid = str(obj["id"])
    aliases: dict[str, list[str]] = obj.get("aliases", {})
    current = entities.get(eid)
    if current is None:
        if "type" not in obj or "name" not in obj:
            raise _fail(path, lineno, f"new entity {eid!r} needs 'type' and 'name'")
        label = str(obj["type"])
        prior = obj.get("prior")
        entities[eid] = KBEntity(
            id=eid,
            label=label,
            name=str(obj["name"]),
            aliases={lang: list(names) for lang, names in aliases.items()},
            country=str(obj.get("country", "")),
            parent=str(obj.get("parent", "")),
            prior=float(prior) if prior is not None else _DEFAULT_PRIOR.get(label, 1.0),
        )
        return
    if "type" in obj:
        current.label = str(obj["type"])
    if "name" in obj:
        current.name = str(obj["name"])
    if "country" in obj:
        current.country = str(obj["country"])
    if "parent" in obj:
        current.parent = str(obj["parent"])
    if "prior" in obj:
        current.prior = float(obj["prior"])
    for lang, names in aliases.items():
        known = current.aliases.setdefault(lang, [])
        known.extend(n for n in names if n not in known)


_LOADED: dict[tuple[tuple[str, int, int], ...], dict[str, KBEntity]] = {}


def files_key(paths: Iterable[str | Path]) -> tuple[tuple[str, int, int], ...]:
    """Each KB file as (resolved path, size, modification time): what says the files are unchanged.
    Raises OSError for a file that cannot be read."""
    key = []
    for raw in paths:
        path = Path(raw)
        stat = path.stat()
        key.append((str(path.resolve()), stat.st_size, stat.st_mtime_ns))
    return tuple(key)


def knowledge_base(paths: Iterable[str | Path]) -> dict[str, KBEntity]:
    """`load_kb(paths)`, read once per process while the files are unchanged: the ner stage's
    gazetteer and the claims stage's place lookups share one copy. Callers must not change it."""
    paths = list(paths)
    try:
        key = files_key(paths)
    except OSError:
        return load_kb(paths)  # raises KBError naming the file
    if key not in _LOADED:
        _LOADED[key] = load_kb(paths)
    return _LOADED[key]


def remember_knowledge_base(paths: Iterable[str | Path], entities: Iterable[KBEntity]) -> None:
    """Record entities read another way (the gazetteer's index cache) as the KB of these files."""
    try:
        _LOADED.setdefault(files_key(paths), {e.id: e for e in entities})
    except OSError:
        pass  # a file gone since the index was read: the next knowledge_base() call reports it


def kb_paths(extra: str) -> list[Path]:
    """The shipped KB followed by the comma-separated extra files of `ner_kb_paths`."""
    return [SHIPPED_KB] + [Path(p.strip()) for p in extra.split(",") if p.strip()]
