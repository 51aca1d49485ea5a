"""`claimstream export-model`: a Hugging Face translation checkpoint -> the ONNX layout `translate` loads.

Layout of an exported directory:

- `encoder.onnx`: `input_ids`, `attention_mask` [batch, src] -> the decoder's cross-attention
  keys and values of every layer (`cross_k_<i>`, `cross_v_<i>` [batch, heads, src, head_dim]),
  so the encoder output is projected once per batch, not once per generated token;
- `decoder.onnx`: one graph for every step. Inputs: `input_ids` [batch, 1] (the last token),
  `encoder_attention_mask` [batch, src], `reorder` [batch] (which row of the past each row
  continues: beam reordering and dropping finished rows happen inside the graph),
  `past_k_<i>`/`past_v_<i>` [rows, heads, past, head_dim] (past = 0 on the first step) and the
  cross keys/values. Outputs: `log_probs` [batch, vocab] and `present_k_<i>`/`present_v_<i>`.
  The prefix is never recomputed;
- the tokenizer files (`save_pretrained` of the checkpoint's tokenizer), `config.json`,
  `generation_config.json` when present, and `manifest.json`.

The graphs are traced from a small re-statement of the Marian / M2M100 / NLLB forward pass
over the checkpoint's own weights (post-LN for Marian, pre-LN for M2M100 and NLLB), with
the legacy TorchScript exporter (`dynamo=False`): it handles the dynamic batch, source and
past lengths in one graph. The tests check that the ONNX output tokens equal
`transformers`' `generate()`.

dtypes: `fp32`; `int8` = ONNX Runtime dynamic quantization of the MatMul weights (int8
weights, activations quantized per batch; the fastest on CPU); `fp16` = every float
tensor in half precision with fp32 inputs/outputs (for CUDA: ONNX Runtime's CPU provider
has few fp16 kernels, so fp16 on CPU is slower than fp32).

torch, transformers and onnx are needed only here, never by the serving path.
"""

from __future__ import annotations

import json
import logging
import math
import shutil
import tempfile
from pathlib import Path
from typing import Any

from claimstream.core.files import as_mkdir_would

log = logging.getLogger(__name__)

MANIFEST_FORMAT = "claimstream-translate/1"
OPSET = 17
DTYPES = ("fp32", "fp16", "int8")
SUPPORTED_TYPES = ("marian", "m2m_100")
# Bumped when the exported graphs change in a way a loader or a benchmark cache must notice.
EXPORT_REVISION = 2
# int8 dynamic quantization: signed int8 weights, one scale per output channel, full range.
# Measured on the OPUS-MT-sized model (AVX2, no VNNI; see the translate benchmark notes):
# per-channel s8 was the fastest variant and is the more accurate one; u8 weights and
# reduce_range were 20-25% slower.
QUANT_WEIGHT_TYPE = "QInt8"
QUANT_PER_CHANNEL = True
QUANT_REDUCE_RANGE = False
# Large negative for masked attention scores: representable in fp16 after conversion.
_MASKED = -1.0e4


class ExportError(ValueError):
    """The source checkpoint or the output directory cannot be used; the message says why."""


def _check_source(src: str | Path) -> str:
    path = Path(src)
    if path.exists():
        if not path.is_dir():
            raise ExportError(f"{path}: not a directory (give a Hugging Face checkpoint directory or hub id)")
        if not (path / "config.json").is_file():
            raise ExportError(f"{path}: no config.json, so not a Hugging Face checkpoint directory")
        weights = [*path.glob("*.safetensors"), *path.glob("pytorch_model*.bin")]
        if not weights:
            raise ExportError(f"{path}: no weights (model.safetensors or pytorch_model.bin) in the checkpoint")
        try:
            json.loads((path / "config.json").read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ExportError(f"{path / 'config.json'}: not valid JSON ({exc})") from None
        return str(path)
    if str(src).count("/") == 1 and not str(src).startswith((".", "/")):
        return str(src)  # a hub id: transformers downloads it when the hub is reachable
    raise ExportError(f"{src}: no such directory")


def _check_output(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise ExportError(f"{out}: exists and is not a directory")
    if out.is_dir() and any(out.iterdir()) and not (out / "manifest.json").is_file():
        raise ExportError(
            f"{out}: directory is not empty and holds no exported model; give an empty or new directory"
        )


def _architecture(model_type: str, tokenizer: Any) -> str:
    if model_type == "marian":
        return "marian"
    name = type(tokenizer).__name__.lower()
    return "nllb" if "nllb" in name else "m2m100"


def _language_tokens(architecture: str, tokenizer: Any) -> dict[str, int]:
    """Language code -> token id of the language tokens a multilingual tokenizer has."""
    if architecture == "marian":
        return {}
    tokens: dict[str, int] = {}
    if architecture == "m2m100" and hasattr(tokenizer, "lang_token_to_id"):
        for token, idx in tokenizer.lang_token_to_id.items():
            tokens[token.strip("_")] = int(idx)
        return tokens
    for token in getattr(tokenizer, "additional_special_tokens", None) or []:
        code = token.strip("_")
        if architecture == "nllb" and len(code) == 8 and code[3] == "_":
            tokens[code] = int(tokenizer.convert_tokens_to_ids(token))
        elif architecture == "m2m100" and token.startswith("__") and token.endswith("__"):
            tokens[code] = int(tokenizer.convert_tokens_to_ids(token))
    return tokens


def _position_table(module: Any, needed: int) -> Any:
    """A positional-embedding module's table (a tensor) with at least `needed` rows."""
    if hasattr(module, "weights"):  # M2M100SinusoidalPositionalEmbedding
        if module.weights.shape[0] < needed:
            module.weights = module.get_embedding(needed, module.embedding_dim, module.padding_idx)
        return module.weights.detach().clone()
    return module.weight.detach().clone()


def _final_norm(stack: Any, pre_ln: bool) -> Any:
    """The LayerNorm after an encoder's or decoder's last layer (pre-LN models only), or None."""
    return getattr(stack, "layer_norm", None) if pre_ln else None


def _graphs(model: Any, architecture: str) -> tuple[Any, Any]:
    """torch modules computing the encoder graph and the decoder step graph from `model`'s weights."""
    import torch
    from torch import nn
    from transformers.activations import ACT2FN

    config = model.config
    # Weights the graphs close over are traced as constants, which tracing allows only without grad.
    model.requires_grad_(False)
    encoder, decoder = model.get_encoder(), model.get_decoder()
    pre_ln = architecture != "marian"
    heads = config.decoder_attention_heads
    d_model = config.d_model
    head_dim = d_model // heads
    act = ACT2FN[config.activation_function]
    embed_scale = math.sqrt(d_model) if getattr(config, "scale_embedding", False) else 1.0
    # Marian positions start at 0; M2M100/NLLB positions are offset by padding_idx + 1.
    pos_offset = 0 if architecture == "marian" else config.pad_token_id + 1

    max_pos = config.max_position_embeddings + pos_offset
    enc_pos = _position_table(encoder.embed_positions, max_pos)
    dec_pos = _position_table(decoder.embed_positions, max_pos)
    # Embedding modules that scale inside (M2M100ScaledWordEmbedding) keep the scale there.
    enc_scale = getattr(encoder.embed_tokens, "embed_scale", None) or embed_scale
    dec_scale = getattr(decoder.embed_tokens, "embed_scale", None) or embed_scale

    def split(x: torch.Tensor) -> torch.Tensor:
        return x.reshape(x.shape[0], x.shape[1], heads, head_dim).transpose(1, 2)

    def attend(attn: Any, x: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor | None) -> Any:
        q = split(attn.q_proj(x)) * (head_dim**-0.5)
        scores = torch.matmul(q, k.transpose(-1, -2))
        if mask is not None:
            scores = scores + mask
        probs = torch.softmax(scores, dim=-1)
        out = torch.matmul(probs, v).transpose(1, 2)
        return attn.out_proj(out.reshape(out.shape[0], out.shape[1], d_model))

    def ffn(layer: Any, x: torch.Tensor) -> torch.Tensor:
        return layer.fc2(act(layer.fc1(x)))

    def sublayer(x: torch.Tensor, norm: Any, fn: Any) -> torch.Tensor:
        if pre_ln:
            return x + fn(norm(x))
        return norm(x + fn(x))

    enc_final_norm = _final_norm(encoder, pre_ln)
    dec_final_norm = _final_norm(decoder, pre_ln)
    enc_emb_norm = getattr(encoder, "layernorm_embedding", None)
    dec_emb_norm = getattr(decoder, "layernorm_embedding", None)
    lm_weight = model.lm_head.weight.detach().clone()
    logits_bias = getattr(model, "final_logits_bias", None)

    class EncoderGraph(nn.Module):
        pos: torch.Tensor  # buffers, declared for the type checker (nn.Module.__getattr__ is untyped)

        def __init__(self) -> None:
            super().__init__()
            self.register_buffer("pos", enc_pos)

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> tuple[torch.Tensor, ...]:
            h = nn.functional.embedding(input_ids, encoder.embed_tokens.weight) * enc_scale
            h = h + self.pos[pos_offset: pos_offset + input_ids.shape[1]].unsqueeze(0)
            if enc_emb_norm is not None:
                h = enc_emb_norm(h)
            mask = (1.0 - attention_mask[:, None, None, :].to(h.dtype)) * _MASKED
            for layer in encoder.layers:
                def self_attn(x: torch.Tensor, layer: Any = layer) -> torch.Tensor:
                    return attend(layer.self_attn, x, split(layer.self_attn.k_proj(x)),
                                  split(layer.self_attn.v_proj(x)), mask)
                h = sublayer(h, layer.self_attn_layer_norm, self_attn)
                h = sublayer(h, layer.final_layer_norm, lambda x, layer=layer: ffn(layer, x))
            if enc_final_norm is not None:
                h = enc_final_norm(h)
            outs: list[torch.Tensor] = []
            for layer in decoder.layers:
                outs.append(split(layer.encoder_attn.k_proj(h)))
                outs.append(split(layer.encoder_attn.v_proj(h)))
            return tuple(outs)

    n_layers = len(decoder.layers)

    class DecoderGraph(nn.Module):
        pos: torch.Tensor  # buffers, declared for the type checker (nn.Module.__getattr__ is untyped)
        lm_weight: torch.Tensor
        bias: torch.Tensor

        def __init__(self) -> None:
            super().__init__()
            self.register_buffer("pos", dec_pos)
            # Kept [vocab, d_model] as the checkpoint stores it (Gemm with transB): with tied
            # embeddings it is byte-equal to the decoder's embedding, which then shares it.
            self.register_buffer("lm_weight", lm_weight)
            self.register_buffer(
                "bias", logits_bias.detach().clone().reshape(-1) if logits_bias is not None
                else torch.zeros(lm_weight.shape[0])
            )

        def forward(self, input_ids: torch.Tensor, encoder_attention_mask: torch.Tensor,
                    reorder: torch.Tensor, *kv: torch.Tensor) -> tuple[torch.Tensor, ...]:
            past, cross = kv[: 2 * n_layers], kv[2 * n_layers:]
            past_len = past[0].shape[2]
            position = input_ids[0, :1] * 0 + past_len + pos_offset
            h = nn.functional.embedding(input_ids, decoder.embed_tokens.weight) * dec_scale
            h = h + self.pos.index_select(0, position).unsqueeze(0)
            if dec_emb_norm is not None:
                h = dec_emb_norm(h)
            mask = (1.0 - encoder_attention_mask[:, None, None, :].to(h.dtype)) * _MASKED
            presents: list[torch.Tensor] = []
            for i, layer in enumerate(decoder.layers):
                pk = past[2 * i].index_select(0, reorder)
                pv = past[2 * i + 1].index_select(0, reorder)

                def self_attn(x: torch.Tensor, layer: Any = layer, pk: Any = pk, pv: Any = pv) -> torch.Tensor:
                    k = torch.cat([pk, split(layer.self_attn.k_proj(x))], dim=2)
                    v = torch.cat([pv, split(layer.self_attn.v_proj(x))], dim=2)
                    presents.extend([k, v])
                    return attend(layer.self_attn, x, k, v, None)

                h = sublayer(h, layer.self_attn_layer_norm, self_attn)
                h = sublayer(h, layer.encoder_attn_layer_norm,
                             lambda x, layer=layer, i=i: attend(layer.encoder_attn, x, cross[2 * i],
                                                                cross[2 * i + 1], mask))
                h = sublayer(h, layer.final_layer_norm, lambda x, layer=layer: ffn(layer, x))
            if dec_final_norm is not None:
                h = dec_final_norm(h)
            logits = nn.functional.linear(h[:, -1, :], self.lm_weight, self.bias)
            return (torch.log_softmax(logits.float(), dim=-1), *presents)

    return EncoderGraph().eval(), DecoderGraph().eval()


def kv_names(prefix: str, n_layers: int) -> list[str]:
    """`<prefix>_k_0, <prefix>_v_0, <prefix>_k_1, ...`: the per-layer key/value tensor names."""
    return [f"{prefix}_{kind}_{i}" for i in range(n_layers) for kind in ("k", "v")]


def _export_fp32(model: Any, architecture: str, out: Path) -> None:
    import torch

    config = model.config
    n_layers = config.decoder_layers
    heads = config.decoder_attention_heads
    head_dim = config.d_model // heads
    encoder_graph, decoder_graph = _graphs(model, architecture)
    ids = torch.tensor([[5, 6, 7, config.eos_token_id]] * 2, dtype=torch.long)
    mask = torch.ones_like(ids)
    cross_names = kv_names("cross", n_layers)
    kv_axes = {0: "batch", 2: "src"}
    with torch.no_grad():
        cross = encoder_graph(ids, mask)
        torch.onnx.export(
            encoder_graph, (ids, mask), str(out / "encoder.onnx"), dynamo=False, opset_version=OPSET,
            input_names=["input_ids", "attention_mask"], output_names=cross_names,
            dynamic_axes={"input_ids": {0: "batch", 1: "src"}, "attention_mask": {0: "batch", 1: "src"},
                          **{n: kv_axes for n in cross_names}},
            do_constant_folding=True,
        )
        # Trace the decoder with a non-empty past so no shape is frozen; past = 0 works at run time.
        past = [torch.zeros(2, heads, 3, head_dim) for _ in range(2 * n_layers)]
        step_ids = torch.tensor([[5], [6]], dtype=torch.long)
        reorder = torch.tensor([0, 1], dtype=torch.long)
        past_names, present_names = kv_names("past", n_layers), kv_names("present", n_layers)
        torch.onnx.export(
            decoder_graph, (step_ids, mask, reorder, *past, *cross), str(out / "decoder.onnx"),
            dynamo=False, opset_version=OPSET,
            input_names=["input_ids", "encoder_attention_mask", "reorder", *past_names, *cross_names],
            output_names=["log_probs", *present_names],
            dynamic_axes={
                "input_ids": {0: "batch"}, "encoder_attention_mask": {0: "batch", 1: "src"},
                "reorder": {0: "batch"}, "log_probs": {0: "batch"},
                **{n: {0: "rows", 2: "past"} for n in past_names},
                **{n: {0: "batch", 2: "total"} for n in present_names},
                **{n: kv_axes for n in cross_names},
            },
            do_constant_folding=True,
        )
    for name in ("encoder.onnx", "decoder.onnx"):
        _weights_as_initializers(out / name)


def _weights_as_initializers(path: Path) -> None:
    """Turn the traced weight constants of `path` into graph initializers, one per distinct tensor.

    The tracer stores the weights the graphs close over as `Constant` nodes. ONNX Runtime's
    dynamic quantization only quantizes a MatMul whose weight is an initializer, so without
    this pass int8 quantized the LM head alone; and a tensor traced twice (the tied
    embedding used by the lookup and the LM head) would be stored twice.
    """
    import hashlib

    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(path))
    graph = model.graph
    by_digest: dict[tuple[str, tuple[int, ...], str], str] = {}
    rename: dict[str, str] = {}

    def digest(array: Any) -> tuple[str, tuple[int, ...], str]:
        return str(array.dtype), tuple(array.shape), hashlib.sha256(array.tobytes()).hexdigest()

    for init in graph.initializer:
        by_digest.setdefault(digest(numpy_helper.to_array(init)), init.name)
    kept = []
    for node in graph.node:
        attr = node.attribute[0] if node.op_type == "Constant" and len(node.attribute) == 1 else None
        if attr is None or attr.name != "value" or math.prod(attr.t.dims) < 1024:
            kept.append(node)  # shapes and scalars stay constants: the optimizer folds them
            continue
        array = numpy_helper.to_array(attr.t)
        key = digest(array)
        if key in by_digest:
            rename[node.output[0]] = by_digest[key]
        else:
            by_digest[key] = node.output[0]
            graph.initializer.append(numpy_helper.from_array(array, node.output[0]))
    for node in kept:
        for i, name in enumerate(node.input):
            if name in rename:
                node.input[i] = rename[name]
    del graph.node[:]
    graph.node.extend(kept)
    onnx.save(model, str(path))


def _gemm_as_matmul(path: Path) -> None:
    """Rewrite `Gemm(A, W, bias, transB=1)` with a weight initializer as `MatMul(A, W^T) + bias`.

    Dynamic quantization handles MatMul but not Gemm; the LM head is the largest matrix
    of a step, so it must be quantized too. (int8 then keeps the embedding in fp32 for
    the lookup and the LM head in int8: two copies, but the int8 one is a quarter size.)
    """
    import onnx
    from onnx import helper, numpy_helper

    model = onnx.load(str(path))
    graph = model.graph
    inits = {init.name: init for init in graph.initializer}
    nodes = []
    for node in graph.node:
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        if (node.op_type != "Gemm" or node.input[1] not in inits or attrs.get("transA", 0)
                or attrs.get("alpha", 1.0) != 1.0 or attrs.get("beta", 1.0) != 1.0):
            nodes.append(node)
            continue
        weight = numpy_helper.to_array(inits[node.input[1]])
        if attrs.get("transB", 0):
            weight = weight.T.copy()
        name = f"{node.input[1]}_for_{node.name or node.output[0]}"
        graph.initializer.append(numpy_helper.from_array(weight, name))
        product = f"{node.output[0]}_matmul"
        nodes.append(helper.make_node("MatMul", [node.input[0], name], [product if len(node.input) > 2 else
                                                                          node.output[0]]))
        if len(node.input) > 2:
            nodes.append(helper.make_node("Add", [product, node.input[2]], [node.output[0]]))
    del graph.node[:]
    graph.node.extend(nodes)
    onnx.save(model, str(path))


def _convert(out: Path, dtype: str) -> None:
    """Rewrite `out`'s fp32 graphs in `dtype` (in place)."""
    for name in ("encoder.onnx", "decoder.onnx"):
        path = out / name
        if dtype == "int8":
            from onnxruntime.quantization import QuantType, quantize_dynamic

            _gemm_as_matmul(path)
            tmp = path.with_suffix(".int8.onnx")
            quantize_dynamic(path, tmp, weight_type=QuantType[QUANT_WEIGHT_TYPE], op_types_to_quantize=["MatMul"],
                             per_channel=QUANT_PER_CHANNEL, reduce_range=QUANT_REDUCE_RANGE)
            tmp.replace(path)
        elif dtype == "fp16":
            import onnx
            from onnxruntime.transformers.float16 import convert_float_to_float16

            model = onnx.load(str(path))
            # Inputs/outputs stay fp32 so the runtime code is the same for every dtype.
            half = convert_float_to_float16(model, keep_io_types=True, disable_shape_infer=True)
            onnx.save(half, str(path))


def export_model(src: str | Path, out: Path, dtype: str = "fp32") -> dict[str, Any]:
    """Export a Hugging Face Marian, M2M100 or NLLB checkpoint to `out`; return the manifest.

    `src` is a checkpoint directory or a hub id (downloaded only when the hub is reachable);
    `out` is created (an existing directory must be empty or a previous export, which is
    replaced); `dtype` is one of fp32, fp16, int8. Raises `ExportError` with what is wrong.
    """
    if dtype not in DTYPES:
        raise ExportError(f"dtype {dtype!r}: must be one of {', '.join(DTYPES)}")
    out = Path(out)
    source = _check_source(src)
    _check_output(out)
    try:
        import torch
        import transformers
        from transformers import AutoConfig, AutoModelForSeq2SeqLM, AutoTokenizer, GenerationConfig
    except ImportError as exc:
        raise ExportError(f"export-model needs the export extra (torch, transformers, onnx): {exc}") from None

    try:
        config = AutoConfig.from_pretrained(source)
    except Exception as exc:  # transformers raises many kinds; the message is what matters
        raise ExportError(f"{source}: cannot read the model config: {exc}") from None
    if config.model_type not in SUPPORTED_TYPES:
        raise ExportError(
            f"{source}: model type {config.model_type!r} is not supported (supported: Marian/OPUS-MT, "
            "M2M100, NLLB-200)"
        )
    try:
        tokenizer = AutoTokenizer.from_pretrained(source)
    except Exception as exc:
        raise ExportError(f"{source}: cannot load the tokenizer files: {exc}") from None
    try:
        model = AutoModelForSeq2SeqLM.from_pretrained(source, dtype=torch.float32).eval()
    except Exception as exc:
        raise ExportError(f"{source}: cannot load the weights: {exc}") from None
    try:
        generation = GenerationConfig.from_pretrained(source)
    except OSError:
        generation = GenerationConfig.from_model_config(config)

    architecture = _architecture(config.model_type, tokenizer)
    languages = _language_tokens(architecture, tokenizer)
    bad_words = sorted({ids[0] for ids in (generation.bad_words_ids or []) if len(ids) == 1})
    decoder_start = generation.decoder_start_token_id
    if decoder_start is None:
        decoder_start = config.decoder_start_token_id
    manifest: dict[str, Any] = {
        "format": MANIFEST_FORMAT,
        "architecture": architecture,
        "source": str(src),
        "dtype": dtype,
        "opset": OPSET,
        "export_revision": EXPORT_REVISION,
        "decoder_graph": "single graph with past (past length 0 on the first step), in-graph reorder",
        "files": {"encoder": "encoder.onnx", "decoder": "decoder.onnx"},
        "vocab_size": int(model.lm_head.weight.shape[0]),
        "d_model": int(config.d_model),
        "encoder_layers": int(config.encoder_layers),
        "decoder_layers": int(config.decoder_layers),
        "heads": int(config.decoder_attention_heads),
        "head_dim": int(config.d_model // config.decoder_attention_heads),
        "max_positions": int(config.max_position_embeddings),
        "special_tokens": {
            "pad": int(config.pad_token_id),
            "eos": int(config.eos_token_id),
            "unk": int(tokenizer.unk_token_id) if tokenizer.unk_token_id is not None else None,
            "decoder_start": int(decoder_start),
            "forced_eos": int(generation.forced_eos_token_id)
            if isinstance(generation.forced_eos_token_id, int) else None,
            "banned": bad_words,
        },
        "languages": sorted(languages) or [
            code for code in (getattr(tokenizer, "source_lang", None), getattr(tokenizer, "target_lang", None))
            if code
        ],
        "language_tokens": languages,
        "tokenizer_class": type(tokenizer).__name__,
        "versions": {"torch": torch.__version__, "transformers": transformers.__version__},
    }

    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out.parent, prefix=f".{out.name}.") as tmp_name:
        tmp = Path(tmp_name)
        _export_fp32(model, architecture, tmp)
        if dtype != "fp32":
            _convert(tmp, dtype)
        tokenizer.save_pretrained(tmp)
        config.save_pretrained(tmp)
        generation.save_pretrained(tmp)
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
        as_mkdir_would(tmp)  # readable by others, as a directory made by `mkdir` would be
        # Replace the output only once the export is whole, so a failed export leaves no half model.
        if out.exists():
            shutil.rmtree(out)
        tmp.rename(out)
    log.info("exported %s (%s, %s) to %s", src, architecture, dtype, out)
    return manifest
