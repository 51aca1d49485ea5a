"""Keep torch out of processes that only serve.

Nothing claimstream serves needs torch: the models run on ONNX Runtime, and only
`export-model` converts checkpoints with it. spaCy imports it anyway (thinc probes for
it at import) when it is installed, which costs a serving process about 2 s and 180 MiB
at start. `keep_torch_out()` makes `import torch` fail as if torch were not installed, so
those probes take their torch-less path.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys
from collections.abc import Sequence
from types import ModuleType

_BLOCKED = ("torch",)


class _TorchBlocker(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname: str, path: Sequence[str] | None = None,
                  target: ModuleType | None = None) -> importlib.machinery.ModuleSpec | None:
        if fullname.split(".", 1)[0] in _BLOCKED:
            raise ModuleNotFoundError(
                f"No module named {fullname!r} (claimstream keeps torch out of serving processes; only "
                "`claimstream export-model` uses it)", name=fullname)
        return None


def keep_torch_out() -> bool:
    """Make later `import torch` fail in this process; False (and nothing changes) if torch is
    already imported."""
    if any(name in sys.modules for name in _BLOCKED):
        return False
    if not any(isinstance(finder, _TorchBlocker) for finder in sys.meta_path):
        sys.meta_path.insert(0, _TorchBlocker())
    return True
