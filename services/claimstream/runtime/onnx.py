"""ONNX Runtime execution providers: the one place the `provider` setting is read.

Every ONNX session of the package (translation, the e5 encoder, the NER taggers) takes its
providers from `select_providers`. The `provider` setting (`CLAIMSTREAM_PROVIDER`):

- `auto` (default): TensorRT, then CUDA, each where ONNX Runtime offers it, then the CPU;
  on a machine without a GPU build of ONNX Runtime that is the CPU alone;
- `cpu`: the CPU only, even where a GPU is available;
- `cuda`: CUDA, then the CPU for the operators CUDA lacks; a ModelLoadError when ONNX Runtime
  here has no CUDA provider;
- `tensorrt`: TensorRT, then CUDA where offered, then the CPU; a ModelLoadError when ONNX
  Runtime here has no TensorRT provider.

An explicit GPU request is never quietly served by the CPU.

Every session also takes its threads from one place, `session_options` over `Threads`
(the `inference_threads`, `inference_inter_threads` and `inference_spinning` settings).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from claimstream.core.model import ModelLoadError

if TYPE_CHECKING:
    from claimstream.core.settings import Settings

CPU = "CPUExecutionProvider"
CUDA = "CUDAExecutionProvider"
TENSORRT = "TensorrtExecutionProvider"

# The providers each setting asks for, best first; the first one is required unless `auto`.
_WANTED = {
    "auto": (TENSORRT, CUDA),
    "cuda": (CUDA,),
    "tensorrt": (TENSORRT, CUDA),
}


def select_providers(requested: str, available: Sequence[str] | None = None) -> list[str]:
    """ONNX Runtime providers for the `provider` setting (auto/cpu/cuda/tensorrt), best first,
    always ending with the CPU. `available` defaults to `onnxruntime.get_available_providers()`."""
    if requested == "cpu":
        return [CPU]
    if available is None:
        import onnxruntime as ort

        available = ort.get_available_providers()
    wanted = _WANTED[requested]
    if requested != "auto" and wanted[0] not in available:
        raise ModelLoadError(
            f"provider {requested!r} requested but ONNX Runtime offers only {', '.join(available)}; "
            "install onnxruntime-gpu on a machine with a GPU, or set CLAIMSTREAM_PROVIDER=cpu"
        )
    return [*(p for p in wanted if p in available), CPU]


@dataclass(frozen=True)
class Threads:
    """ONNX Runtime's threads for one session.

    `intra`: threads inside an operator (0: ONNX Runtime's default, one per core); `inter`:
    threads running independent graph branches at once (1: one branch at a time); `spinning`:
    idle intra-op threads busy-wait for the next operator instead of sleeping, which saves
    microseconds per operator on an idle machine and steals the cores other work needs on a
    busy one (measured in `python -m benchmarks.onnx_threads`).
    """

    intra: int = 0
    inter: int = 1
    spinning: bool = False

    @classmethod
    def of(cls, settings: Settings) -> Threads:
        return cls(settings.inference_threads, settings.inference_inter_threads, settings.inference_spinning)


def session_options(threads: int | Threads = 0) -> Any:
    """`onnxruntime.SessionOptions` with every optimization and `threads` (a bare int: intra-op threads)."""
    import onnxruntime as ort

    t = threads if isinstance(threads, Threads) else Threads(intra=threads)
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    if t.intra:
        options.intra_op_num_threads = t.intra
    options.inter_op_num_threads = max(1, t.inter)
    if t.inter > 1:
        options.execution_mode = ort.ExecutionMode.ORT_PARALLEL
    spin = "1" if t.spinning else "0"
    options.add_session_config_entry("session.intra_op.allow_spinning", spin)
    options.add_session_config_entry("session.inter_op.allow_spinning", spin)
    return options
