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
"""

from __future__ import annotations

from collections.abc import Sequence

from claimstream.core.model import ModelLoadError

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
