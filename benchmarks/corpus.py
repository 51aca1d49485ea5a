"""The benchmark corpus: the shipped sample documents, repeated with unique ids."""

from __future__ import annotations

from pathlib import Path

from claimstream.core.schema import Document
from claimstream.local.inputs import read_records

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def sample_documents(count: int) -> list[Document]:
    """`count` documents cycling through examples/news.jsonl, each with a unique id."""
    base = [r.result for r in read_records([str(EXAMPLES / "news.jsonl")]) if isinstance(r.result, Document)]
    docs = []
    for n in range(count):
        doc = Document()
        doc.CopyFrom(base[n % len(base)])
        doc.id = f"{doc.id}-{n}"
        docs.append(doc)
    return docs


def batches(items: list, size: int) -> list[list]:
    return [items[i:i + size] for i in range(0, len(items), size)]
