"""What every service's model is: a plain object, no Kafka, no Faust.

The same object serves the stream worker (`service.py`), the in-process
pipeline (`claimstream enrich`), the gRPC gateway and the benchmarks — the
Triton `initialize / execute / finalize` split:

- construction (or the service's `load(settings)` factory) loads weights once and
  raises `ModelLoadError` with a clear message when it cannot;
- `warmup()` runs one tiny batch so the first real batch is not slow;
- `predict(batch)` fills this stage's section of each Document and returns, for
  each input in order, the same Document or a `Rejection` (which goes to the DLQ);
- `close()` frees what it holds.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from claimstream.core.schema import Document, Rejection

log = logging.getLogger(__name__)


class ModelLoadError(RuntimeError):
    """A model could not be loaded: the message says which file and what to do."""


@runtime_checkable
class StageModel(Protocol):
    #: service name, e.g. "langid" (a metrics label)
    service: str
    #: model name for the `model` metrics label, e.g. "lid.176-lite"
    model_name: str
    #: where inference runs, e.g. "cpu", "CPUExecutionProvider", "CUDAExecutionProvider"
    provider: str

    def warmup(self) -> None: ...

    def predict(self, batch: Sequence[Document]) -> list[Document | Rejection]: ...

    def close(self) -> None: ...


def predict_each(model: StageModel, batch: Sequence[Document]) -> list[Document | Rejection]:
    """`model.predict(batch)`, retried one document at a time if the batch raises, so one
    poison document becomes a `processing_error` Rejection and the others still come through."""
    try:
        results = model.predict(batch)
    except Exception:
        log.exception("%s: batch of %d failed; retrying one by one", model.service, len(batch))
        results = []
        for doc in batch:
            try:
                results.extend(model.predict([doc]))
            except Exception as exc:  # the model's bug, reported on this document
                results.append(Rejection("processing_error", f"{type(exc).__name__}: {exc}"[:2000]))
    if len(results) != len(batch):
        raise RuntimeError(f"{model.service} model returned {len(results)} results for {len(batch)} documents")
    return results
