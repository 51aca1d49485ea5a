"""Keep torch out of spaCy.

Nothing claimstream serves needs torch: the models run on ONNX Runtime, and only
`export-model` converts checkpoints with it. spaCy imports it anyway when it is installed
(thinc probes for it when it is first imported), which costs the ner stage, `enrich` and the
gateway about 2 s and 180 MiB at start. `without_torch()` makes `import torch` fail, as if
torch were not installed, while spaCy is imported; thinc then takes its torch-less path for
good. Only that import is affected: later code that asks for torch (transformers, when a
translation tokenizer loads) finds it as usual.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from types import ModuleType


class _TorchBlocker(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname: str, path: Sequence[str] | None = None,
                  target: ModuleType | None = None) -> importlib.machinery.ModuleSpec | None:
        if fullname == "torch" or fullname.startswith("torch."):
            raise ModuleNotFoundError(f"No module named {fullname!r} (kept out while spaCy loads)", name=fullname)
        return None


@contextmanager
def without_torch() -> Iterator[None]:
    """Within the block, `import torch` fails; nothing changes if torch is already imported."""
    if "torch" in sys.modules:
        yield
        return
    blocker = _TorchBlocker()
    sys.meta_path.insert(0, blocker)
    try:
        yield
    finally:
        sys.meta_path.remove(blocker)
