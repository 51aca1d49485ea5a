"""A trained classifier for what a number in a sentence is the value of, over the e5 encoder.

The claims stage binds numbers to predicates with multilingual lexicons (model.py). This
module is the learned alternative the issue asked to measure against them: a softmax
regression over

- the contextual states (last layer of multilingual-e5-small, the ONNX build the ner stage
  and the embedding fallback use) of the number's own tokens, averaged;
- the mean state of its sentence;
- optionally (`hybrid`), the lexicon's own reading as features: the predicate the rules
  bind (or none, or abstain) and the unit of the counted noun, one-hot.

Its classes are the quantity predicates of the vocabulary and `other` (a number that is the
value of none). Weights are trained by `tools/train_claims_numbers.py` on
`tools/data/claim_numbers/train.jsonl` (sentences written for it, 12 languages) and shipped as
`claims/weights/numbers-head.npz` with a JSON card beside it; `tools/train_claims_numbers.py
--evaluate` measures rules, classifier and hybrid on the benchmark's gold sets.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from claimstream.core.model import ModelLoadError

WEIGHTS = Path(__file__).parent / "weights" / "numbers-head.npz"
CARD = WEIGHTS.with_suffix(".json")
#: Rule readings the hybrid features encode besides the predicates themselves.
NO_RULE, RULE_ABSTAIN = "<none>", "<abstain>"


@dataclass(frozen=True)
class NumberContext:
    """One number to classify: its sentence, its span in it, and what the rules made of it."""

    sentence: str
    start: int
    end: int
    rule: str = NO_RULE  # the predicate the lexicon binds, NO_RULE or RULE_ABSTAIN
    unit: str = ""  # find_counted's unit


class NumberHead:
    """The trained softmax head: `features` -> class probabilities."""

    def __init__(self, classes: list[str], rules: list[str], units: list[str], weight: np.ndarray,
                 bias: np.ndarray, mean: np.ndarray, scale: np.ndarray, hybrid: bool) -> None:
        self.classes, self.rules, self.units = classes, rules, units
        self.weight, self.bias, self.mean, self.scale, self.hybrid = weight, bias, mean, scale, hybrid

    @classmethod
    def load(cls, path: Path = WEIGHTS) -> NumberHead:
        card = path.with_suffix(".json")
        try:
            meta = json.loads(card.read_text(encoding="utf-8"))
            with np.load(path) as data:
                arrays = {k: data[k] for k in ("weight", "bias", "mean", "scale")}
        except (OSError, ValueError, KeyError) as exc:
            raise ModelLoadError(f"{path}: the claims number classifier cannot be loaded ({exc})") from None
        head = cls(meta["classes"], meta["rules"], meta["units"], hybrid=bool(meta["hybrid"]), **arrays)
        if head.weight.shape != (head.mean.shape[0], len(head.classes)):
            raise ModelLoadError(f"{path}: weights {head.weight.shape} do not fit {len(head.classes)} classes")
        return head

    def save(self, path: Path, card: dict[str, Any]) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(path, weight=self.weight.astype(np.float32), bias=self.bias.astype(np.float32),
                            mean=self.mean.astype(np.float32), scale=self.scale.astype(np.float32))
        meta = {"classes": self.classes, "rules": self.rules, "units": self.units, "hybrid": self.hybrid, **card}
        path.with_suffix(".json").write_text(json.dumps(meta, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")

    def probabilities(self, features: np.ndarray) -> np.ndarray:
        z = ((features - self.mean) / self.scale) @ self.weight + self.bias
        z -= z.max(axis=1, keepdims=True)
        e = np.exp(z)
        out: np.ndarray = e / e.sum(axis=1, keepdims=True)
        return out


def rule_features(contexts: Sequence[NumberContext], rules: list[str], units: list[str]) -> np.ndarray:
    """One-hot of each number's rule reading and unit (an unseen one sets no bit)."""
    out = np.zeros((len(contexts), len(rules) + len(units)), dtype=np.float32)
    for i, c in enumerate(contexts):
        if c.rule in rules:
            out[i, rules.index(c.rule)] = 1.0
        if c.unit in units:
            out[i, len(rules) + units.index(c.unit)] = 1.0
    return out


def encoder_features(encoder: Any, contexts: Sequence[NumberContext]) -> np.ndarray:
    """[N, 768]: the mean state of each number's tokens, and of its whole sentence."""
    texts = sorted({c.sentence for c in contexts})
    states = dict(zip(texts, encoder.token_states(["query: " + t for t in texts]), strict=True))
    shift = len("query: ")
    out = np.zeros((len(contexts), 2 * encoder.dim), dtype=np.float32)
    for i, c in enumerate(contexts):
        s = states[c.sentence]
        starts, ends = s.offsets[:, 0] - shift, s.offsets[:, 1] - shift
        own = (starts < c.end) & (ends > c.start)
        if not own.any():  # a number inside a token that also holds letters: the nearest token
            own = np.zeros(len(starts), dtype=bool)
            own[int(np.argmin(np.abs(starts - c.start)))] = True
        out[i, : encoder.dim] = s.states[own].mean(axis=0)
        out[i, encoder.dim :] = s.states[starts >= 0].mean(axis=0) if (starts >= 0).any() else s.states.mean(axis=0)
    return out


class NumberClassifier:
    """What each number is the value of, with the probability: the shipped head on the encoder."""

    def __init__(self, encoder: Any, path: Path = WEIGHTS) -> None:
        self.encoder = encoder
        self.head = NumberHead.load(path)

    def classify(self, contexts: Sequence[NumberContext]) -> list[tuple[str, float]]:
        if not contexts:
            return []
        features = encoder_features(self.encoder, contexts)
        if self.head.hybrid:
            features = np.concatenate([features, rule_features(contexts, self.head.rules, self.head.units)], axis=1)
        probs = self.head.probabilities(features)
        best = probs.argmax(axis=1)
        return [(self.head.classes[int(j)], float(probs[i, j])) for i, j in enumerate(best)]
