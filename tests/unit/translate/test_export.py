"""What `export-model` writes: weights as shared initializers, every weight MatMul quantized in int8."""

from __future__ import annotations

import json
from pathlib import Path

import onnx
from claimstream.translate.export import export_model
from onnx import numpy_helper


def _weights(graph: onnx.GraphProto) -> dict[str, tuple[int, ...]]:
    return {init.name: tuple(init.dims) for init in graph.initializer}


def test_fp32_decoder_stores_the_tied_embedding_once(tiny_onnx: Path) -> None:
    manifest = json.loads((tiny_onnx / "manifest.json").read_text())
    vocab, d_model = manifest["vocab_size"], manifest["d_model"]
    graph = onnx.load(str(tiny_onnx / "decoder.onnx")).graph
    vocab_sized = [name for name, dims in _weights(graph).items() if sorted(dims) == sorted((vocab, d_model))]
    # The lookup and the LM head read the same tensor (the checkpoint ties them).
    assert len(vocab_sized) == 1
    users = [n.op_type for n in graph.node if vocab_sized[0] in n.input]
    assert sorted(users) == ["Gather", "Gemm"]
    # No weight is left behind as a Constant node, where quantization would not see it.
    big_constants = [n for n in graph.node if n.op_type == "Constant" and n.attribute[0].t.dims
                     and numpy_helper.to_array(n.attribute[0].t).size >= 1024]
    assert big_constants == []


def test_int8_quantizes_every_weight_matmul_including_the_lm_head(tiny_checkpoint: Path, tiny_onnx: Path,
                                                                  tmp_path: Path) -> None:
    export_model(tiny_checkpoint, tmp_path / "int8", "int8")
    for name in ("encoder.onnx", "decoder.onnx"):
        fp32 = onnx.load(str(tiny_onnx / name)).graph
        int8 = onnx.load(str(tmp_path / "int8" / name)).graph
        fp32_weights = _weights(fp32)
        weight_products = [n for n in fp32.node if n.op_type in ("MatMul", "Gemm") and n.input[1] in fp32_weights]
        assert weight_products, name
        int8_weights = _weights(int8)
        float_weight_products = [n.name for n in int8.node if n.op_type in ("MatMul", "Gemm")
                                 and n.input[1] in int8_weights]
        assert float_weight_products == [], f"{name}: left in fp32: {float_weight_products}"
        quantized = [n for n in int8.node if n.op_type == "MatMulInteger"]
        assert len(quantized) == len(weight_products), name
        # One scale per output channel (per-channel quantization), not one per matrix.
        scales = [i for i in int8.initializer if i.name.endswith("_scale") and i.dims]
        assert scales and all(i.dims[0] > 1 for i in scales)
