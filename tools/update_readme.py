"""Refresh the generated parts of README.md: the settings table and the benchmark tables.

Run `python tools/update_readme.py` after changing settings.py or running a benchmark.
"""

from __future__ import annotations

import re
from pathlib import Path

from claimstream.core.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
BENCH_ORDER = ("langid", "langid_quality", "langid_quality_languages", "encoder", "onnx_threads", "translate", "ner",
               "claims", "groups", "claims_quality",
               "claims_quality_heldout", "claims_quality_heldout2",
               "claims_numbers", "memory", "pipeline", "load")


def replace_block(text: str, name: str, body: str) -> str:
    pattern = re.compile(rf"(<!-- {name}:begin -->\n).*?(<!-- {name}:end -->)", re.S)
    if not pattern.search(text):
        raise SystemExit(f"README.md has no <!-- {name}:begin/end --> markers")
    return pattern.sub(lambda m: m.group(1) + body + m.group(2), text)


def main() -> None:
    readme = ROOT / "README.md"
    text = readme.read_text(encoding="utf-8")
    text = replace_block(text, "settings", Settings.markdown_table() + "\n")
    results = ROOT / "benchmarks" / "results"
    parts = []
    for stage in BENCH_ORDER:
        md = results / f"{stage}.md"
        if md.exists():
            parts.append(f"### {stage}\n\n{md.read_text(encoding='utf-8').strip()}\n")
    text = replace_block(text, "bench", "\n".join(parts))
    readme.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
