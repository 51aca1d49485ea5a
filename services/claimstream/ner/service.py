"""ner stream wiring: docs.translated -> docs.entities."""

from __future__ import annotations

from claimstream.core.runner import StageSpec
from claimstream.core.settings import Settings
from claimstream.ner.model import load


def spec(settings: Settings) -> StageSpec:
    return StageSpec.of("ner", settings, lambda: load(settings))
