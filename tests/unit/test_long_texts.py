"""Hostile documents at the size limit: every stage's work per document is bounded.

Each text here is exactly `max_text_chars` (1,000,000) characters, the longest a stage accepts:
one digit repeated, a text with no sentence punctuation and one number, a number every two
characters, one sentence repeated with two numbers and two triggers each, and a Hindi text
without dandas. Before the bounds, the first held the claims stage for over 12 minutes and
the fourth for hours (quadratic in its numbers); the ner stage needed 3.6 GB for one
English text of this size. The tests assert what bounds the work — the claims kept, what is
embedded, the memory a stage peaks at — not how long it took: speed is the benchmarks' job.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from claimstream.claims.extract import MAX_SENTENCE_CHARS
from claimstream.core.schema import Document
from claimstream.core.settings import Settings

from tests.fixtures.hostile import BASE, KINDS, hostile_text

LIMIT = Settings().max_text_chars


@pytest.fixture(scope="module")
def claims_model():  # type: ignore[no-untyped-def]
    from claimstream.claims.model import load

    model = load(Settings())
    seen: list[str] = []
    real = model.embedder.classify

    def recording(texts):  # type: ignore[no-untyped-def]
        seen.extend(texts)
        return real(texts)

    model.embedder.classify = recording  # type: ignore[method-assign]
    model.embedded = seen  # type: ignore[attr-defined]
    return model


@pytest.mark.timeout(300)
@pytest.mark.parametrize("kind", KINDS)
def test_claims_work_per_document_is_bounded(claims_model, kind: str) -> None:  # type: ignore[no-untyped-def]
    settings = Settings()
    text = hostile_text(kind, LIMIT)
    assert len(text) == LIMIT
    doc = Document(id=f"long-{kind}", text=text)
    doc.language.code = "hi" if "Hindi" in kind else "en"
    claims_model.embedded.clear()
    [result] = claims_model.predict([doc])
    assert isinstance(result, Document), result
    assert len(result.claims) <= settings.claims_max_per_document
    assert len(claims_model.embedded) <= settings.claims_max_embedded
    assert all(len(context) <= MAX_SENTENCE_CHARS for context in claims_model.embedded)
    assert all(len(claim.source_text) <= MAX_SENTENCE_CHARS for claim in result.claims)
    if kind == "claims in every clause":
        assert len(result.claims) == settings.claims_max_per_document  # capped, not dropped wholesale
    if kind == "no punctuation, one number":
        assert any(c.quantity.value == 45 for c in result.claims)  # the one number is still read


# Peak memory from /proc/self/status VmHWM: unlike getrusage's ru_maxrss, which a child inherits
# from the parent it was forked from (a test session holding gigabytes), it is this process's own.
PEAK_SCRIPT = """
import json, sys
from claimstream.core.schema import Document
from claimstream.core.settings import Settings
from claimstream.ner.model import load

def peak_kib():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1])

model = load(Settings())
model.warmup()
before = peak_kib()
doc = Document(id="long", text=sys.stdin.read())
doc.language.code = "en"
[result] = model.predict([doc])
tagged = [e.end for e in result.entities if "e5" in e.recognizer.split("+")]
print(json.dumps({"ok": isinstance(result, Document), "entities": len(result.entities),
                  "tagged_until": max(tagged, default=0), "tagger_limit": model.max_tagged_chars,
                  "loaded_kib": before, "peak_kib": peak_kib()}))
"""


@pytest.mark.timeout(300)
def test_ner_memory_for_a_text_at_the_limit_stays_under_its_deployment_limit() -> None:
    """The ner stage's peak memory on a 1,000,000-character English text, in its own process,
    stays well under deploy/k8s/base/ner.yaml's limit (it chunks what spaCy holds at once), and
    the e5 tagger reads at most `ner_max_tagged_chars` of it."""
    from pathlib import Path

    import yaml

    manifest = Path(__file__).resolve().parents[2] / "deploy" / "k8s" / "base" / "ner.yaml"
    limits = [d for d in yaml.safe_load_all(manifest.read_text()) if d and d.get("kind") == "Deployment"][0]
    limit = limits["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["memory"]
    limit_kib = int(limit[:-2]) * (1024 * 1024 if limit.endswith("Gi") else 1024)
    text = (BASE + "Reuters reported from Guwahati in Assam, India. ") * (LIMIT // 160 + 1)
    out = subprocess.run([sys.executable, "-c", PEAK_SCRIPT], input=text[:LIMIT], capture_output=True,
                         text=True, timeout=280, check=True)
    found = json.loads(out.stdout.strip().splitlines()[-1])
    assert found["ok"] and found["entities"] > 1000  # it did read the whole text (the gazetteer to its end)
    assert 0 < found["tagged_until"] <= found["tagger_limit"]  # the e5 tagger read only the first part
    assert found["peak_kib"] < 0.75 * limit_kib, json.dumps(found)
