"""translate stream wiring: docs.langid -> docs.translated."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any

import faust

from claimstream.core import metrics
from claimstream.core.model import StageModel
from claimstream.core.schema import Document, Translation
from claimstream.core.settings import Settings
from claimstream.runtime.worker import AfterBatch, StageSpec
from claimstream.translate.model import load


def _count_tokens(app: faust.App, model: StageModel) -> AfterBatch:
    """Token and status counters for the dashboards (claimstream_tokens_total, claimstream_translations_total)."""

    async def after_batch(docs: list[Document]) -> list[Awaitable[Any]]:
        for doc in docs:
            status = Translation.Status.Name(doc.translation.status)
            metrics.TRANSLATIONS.labels("translate", status, doc.language.code or "und").inc()
            metrics.TOKENS.labels("translate", "input").inc(doc.translation.source_tokens)
            metrics.TOKENS.labels("translate", "output").inc(doc.translation.target_tokens)
        return []

    return after_batch


def spec(settings: Settings) -> StageSpec:
    return StageSpec.of("translate", settings, lambda: load(settings), setup=_count_tokens)
