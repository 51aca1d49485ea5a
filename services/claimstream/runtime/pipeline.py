"""Every stage in-process, no Kafka: `claimstream enrich`, the gRPC `Enrich` call and the demo.

It uses the same model objects as the stream workers, in the same order.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable, Sequence
from typing import Any

from claimstream.core.model import StageModel, predict_each
from claimstream.core.schema import Document, Rejection, admit, mark_processed
from claimstream.core.settings import STAGE_NAMES, Settings

log = logging.getLogger(__name__)

class Pipeline:
    """The loaded models of the stages (all of them by default), run in order on a batch."""

    def __init__(self, models: Sequence[StageModel], settings: Settings, groups: Any = None) -> None:
        self.models = list(models)
        self.settings = settings
        #: the claim-group store (the claims stage's `group_store`) when the claims stage runs
        self.groups = groups

    @classmethod
    def load(
        cls, settings: Settings, stages: Sequence[str] | None = None,
        progress: Callable[[str], None] | None = None,
    ) -> Pipeline:
        """Load (and warm up) each stage's model once."""
        models: list[StageModel] = []
        groups = None
        for stage in stages or STAGE_NAMES:
            if progress:
                progress(stage)
            module = importlib.import_module(f"claimstream.{stage}.model")
            model = module.load(settings)
            model.warmup()
            models.append(model)
            # A stage that keeps state across documents offers its store (claims: the claim groups).
            if hasattr(module, "group_store"):
                groups = module.group_store(settings)
        return cls(models, settings, groups)

    @property
    def stages(self) -> list[str]:
        return [m.service for m in self.models]

    def enrich(self, docs: Sequence[Document]) -> list[Document | Rejection]:
        """Run every stage on `docs`; each result is the enriched Document or why it was rejected."""
        results = [admit(doc, self.settings.max_text_chars) for doc in docs]
        live = {index: result for index, result in enumerate(results) if isinstance(result, Document)}
        for model in self.models:
            if not live:
                break
            outputs = predict_each(model, list(live.values()))
            still_live = {}
            for index, output in zip(live, outputs, strict=True):
                results[index] = output
                if isinstance(output, Document):
                    mark_processed(output, model.service)
                    still_live[index] = output
            live = still_live
        if self.groups is not None:
            for index, doc in live.items():
                try:
                    self.groups.merge_document(doc)
                except Exception as exc:  # this document's fault: the groups keep their state
                    log.exception("claim groups: merging %s failed", doc.id)
                    results[index] = Rejection("processing_error", f"merge: {type(exc).__name__}: {exc}"[:2000])
        return results

    def close(self) -> None:
        for model in self.models:
            model.close()
