"""Reading documents from files: `.txt` (one document, id = file stem), `.jsonl` (one per line), `-` (stdin JSONL)."""

from __future__ import annotations

import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from claimstream.core.schema import Document, Rejection, decode_document, document_from_dict

SUFFIXES = (".txt", ".jsonl")


@dataclass(frozen=True)
class InputRecord:
    """One document read from `origin` ("file:line"), or why it could not be read."""

    origin: str
    result: Document | Rejection
    raw: bytes


class InputError(ValueError):
    """A path given on the command line cannot be read."""


def expand_paths(paths: Sequence[str]) -> list[str]:
    """Files to read: directories are searched (sorted) for .txt and .jsonl files."""
    files: list[str] = []
    for item in paths:
        if item == "-":
            files.append(item)
            continue
        path = Path(item)
        if path.is_dir():
            found = sorted(str(p) for p in path.rglob("*") if p.suffix in SUFFIXES and p.is_file())
            if not found:
                raise InputError(f"{item}: no .txt or .jsonl files in this directory")
            files.extend(found)
        elif path.is_file():
            if path.suffix not in SUFFIXES:
                raise InputError(f"{item}: unsupported file type {path.suffix!r}; use .txt or .jsonl")
            files.append(item)
        else:
            raise InputError(f"{item}: no such file or directory")
    return files


def _jsonl(lines: Iterator[bytes], name: str) -> Iterator[InputRecord]:
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        yield InputRecord(f"{name}:{number}", decode_document(line.rstrip(b"\r\n")), line)


def read_records(paths: Sequence[str]) -> Iterator[InputRecord]:
    """Every document in `paths`, in order, with where it came from."""
    for item in expand_paths(paths):
        if item == "-":
            yield from _jsonl(iter(sys.stdin.buffer), "<stdin>")
            continue
        path = Path(item)
        if path.suffix == ".jsonl":
            with path.open("rb") as handle:
                yield from _jsonl(iter(handle), item)
            continue
        raw = path.read_bytes()
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            yield InputRecord(item, Rejection("invalid_utf8", f"byte {exc.start}: {exc.reason}"), raw)
            continue
        yield InputRecord(item, document_from_dict({"id": path.stem, "text": text}), raw)
