"""langid stream wiring: docs.ingest -> docs.langid (JSON or protobuf in, configured encoding out)."""

from __future__ import annotations

from claimstream.core.settings import Settings
from claimstream.langid.model import load
from claimstream.runtime.worker import StageSpec


def spec(settings: Settings) -> StageSpec:
    return StageSpec.of("langid", settings, lambda: load(settings))
