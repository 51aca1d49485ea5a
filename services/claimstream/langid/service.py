"""langid stream wiring: docs.ingest -> docs.langid (JSON or protobuf in, configured encoding out)."""

from __future__ import annotations

from claimstream.core.runner import StageSpec
from claimstream.core.settings import Settings
from claimstream.langid.model import load


def spec(settings: Settings) -> StageSpec:
    return StageSpec.of("langid", settings, lambda: load(settings))
