"""Peak memory of each stage, the measurement the Kubernetes memory limits come from.

    python -m benchmarks.memory [--stages langid,ner,claims] [--chars N]

Each stage runs in a fresh process (so one stage's peak is not another's): it loads its
model as the service does, then predicts a batch of the sample documents (the steady
state), then, one at a time, each hostile document of `--chars` characters (default the
`max_text_chars` limit; tests/fixtures/hostile.py): the worst a single accepted document
can do. It reports resident memory after load, the peak after the batch, the peak after
the hostile documents, the slowest hostile document, and the limit the manifests should
give the stage (the hostile peak plus half, rounded up to 256 MiB).
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

from benchmarks.harness import machine_note, print_table, save_results

ROOT = Path(__file__).resolve().parents[1]

_PROBE = r"""
import importlib, json, sys, time
sys.path.insert(0, sys.argv[3])
from claimstream.core.schema import Document, document_from_dict
from claimstream.core.settings import Settings
from tests.fixtures.hostile import KINDS, hostile_text

def rss_mib():
    # VmHWM, this process's own peak (ru_maxrss would include the parent's at fork)
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024

stage, chars = sys.argv[1], int(sys.argv[2])
model = importlib.import_module(f"claimstream.{stage}.model").load(Settings())
model.warmup()
loaded = rss_mib()
docs = []
for line in open(sys.argv[3] + "/examples/news.jsonl", encoding="utf-8"):
    doc = document_from_dict(json.loads(line))
    if isinstance(doc, Document):
        doc.language.code = doc.lang_hint or "en"
        docs.append(doc)
model.predict(docs[:32])
steady = rss_mib()
worst = 0.0
for kind in KINDS:
    doc = Document(id=kind, text=hostile_text(kind, chars))
    doc.language.code = "hi" if "Hindi" in kind else "en"
    started = time.perf_counter()
    model.predict([doc])
    worst = max(worst, time.perf_counter() - started)
print(json.dumps({"loaded_mib": loaded, "batch_peak_mib": steady, "hostile_peak_mib": rss_mib(),
                  "slowest_hostile_s": worst}))
"""


def probe(stage: str, chars: int) -> dict[str, Any]:
    out = subprocess.run([sys.executable, "-c", _PROBE, stage, str(chars), str(ROOT)], capture_output=True,
                         text=True, check=True, cwd=ROOT)
    found = json.loads(out.stdout.strip().splitlines()[-1])
    limit = math.ceil(found["hostile_peak_mib"] * 1.5 / 256) * 256
    return {"stage": stage, **{k: round(v, 1) for k, v in found.items()}, "suggested_limit": f"{limit}Mi"}


def main() -> None:
    from claimstream.core.settings import Settings

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stages", default="langid,translate,ner,claims")
    parser.add_argument("--chars", type=int, default=Settings().max_text_chars)
    args = parser.parse_args()
    rows = []
    for stage in args.stages.split(","):
        print(f"{stage}...", file=sys.stderr, flush=True)
        rows.append(probe(stage, args.chars))
    note = f"{machine_note()}. Hostile documents of {args.chars:,} characters each (tests/fixtures/hostile.py)."
    print_table("Peak memory per stage", rows)
    save_results("memory", rows, note)


if __name__ == "__main__":
    main()
