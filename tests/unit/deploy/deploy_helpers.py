"""Helpers shared by the deployment-file tests: paths, exported series names, PromQL names."""

from __future__ import annotations

import re
from pathlib import Path

from claimstream.core import metrics
from claimstream.core.settings import STAGES, Settings

REPO = Path(__file__).resolve().parents[3]
DEPLOY = REPO / "deploy"

# Histograms are queried through their series suffixes; prometheus-client keeps a metric's name privately.
HISTOGRAMS = {
    m._name for m in vars(metrics).values() if isinstance(m, metrics.Histogram)  # type: ignore[attr-defined]  # noqa: SLF001
}
#: Prometheus writes `up` for every scrape target itself.
PROMETHEUS_SERIES = {"up"}


def exported_series() -> set[str]:
    """Every series name a query may use: the exported families, with histogram suffixes."""
    names = set(metrics.METRIC_NAMES) | PROMETHEUS_SERIES
    for name in metrics.METRIC_NAMES:
        if name in HISTOGRAMS:
            names |= {f"{name}_bucket", f"{name}_sum", f"{name}_count"}
    return names


# PromQL words that are not series names.
_KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless", "bool", "offset"}
_LABEL_LISTS = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")


def series_names(expr: str) -> set[str]:
    """The series names a PromQL expression selects (functions, labels, strings and durations left out)."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)        # string literals
    text = re.sub(r"\{[^}]*\}", "", text)                    # label matchers
    text = re.sub(r"\[[^\]]*\]", "", text)                   # range selectors
    text = _LABEL_LISTS.sub("", text)                       # grouping label lists
    text = re.sub(r"\$\{?\w+\}?", "", text)                 # Grafana variables
    names = set()
    for match in re.finditer(r"(?<![\w.])([A-Za-z_:][\w:]*)\s*(\()?", text):
        word, call = match.group(1), match.group(2)
        if call or word in _KEYWORDS or re.fullmatch(r"\d+[smhdwy]", word) or word in {"inf", "nan", "Inf", "NaN"}:
            continue
        names.add(word)
    return names


def stage_input_topics(settings: Settings | None = None) -> dict[str, str]:
    """The topic each stream stage consumes (DESIGN.md's flow)."""
    s = settings or Settings()
    return {stage.name: stage.input_topic(s) for stage in STAGES}


