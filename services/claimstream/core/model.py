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

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from claimstream.core.schema import Document, Rejection


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
