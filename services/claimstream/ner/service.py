"""ner stream wiring: docs.translated -> docs.entities."""

from __future__ import annotations

from claimstream.core.settings import Settings
from claimstream.ner.model import load
from claimstream.runtime.worker import StageSpec


def spec(settings: Settings) -> StageSpec:
    return StageSpec.of("ner", settings, lambda: load(settings))
