"""Coverage-guided fuzzing of what the pipeline does with untrusted bytes.

Targets (the same input drives all of them):
- the ingest decoder: `decode_document` + `validate_document` must return a Document or a
  Rejection whose reason is in REASONS;
- the number/date normalizers (claims stage), when installed: never raise, spans in range;
- one KB line (`ner.kb.parse_line`), when installed: a dict or `KBError`, nothing else.

With atheris (pinned atheris==2.3.0; libFuzzer flags pass through):

    python fuzz/fuzz_ingest.py -max_total_time=300 /tmp/claimstream-corpus fuzz/seeds

(the first directory collects the inputs libFuzzer finds interesting; fuzz/seeds stays as shipped).

Without it, the same checks run on hypothesis-generated input for a while:

    python fuzz/fuzz_ingest.py --hypothesis --seconds 300

A crash prints the input that caused it (atheris also writes it as crash-<sha1>).
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "services"))  # run from a checkout without installing

try:
    import atheris
except ImportError:  # the hypothesis fallback below needs no native build
    atheris = None

if atheris is not None:
    with atheris.instrument_imports():
        from claimstream.core.schema import REASONS, Document, Rejection, decode_document, validate_document
else:
    from claimstream.core.schema import REASONS, Document, Rejection, decode_document, validate_document

try:
    from claimstream.claims import dates, numbers
except ModuleNotFoundError:
    numbers = dates = None  # type: ignore[assignment]
try:
    from claimstream.ner import kb
except ModuleNotFoundError:
    kb = None  # type: ignore[assignment]

PUBLISHED = datetime(2024, 7, 5, tzinfo=UTC)
LANGS = ("en", "hi", "fa", "ru", "de", "zh")


def check(data: bytes) -> None:
    """Every target on one input; raises AssertionError (a finding) on a broken promise."""
    result = decode_document(data)
    if isinstance(result, Document):
        result = validate_document(result, 1_000_000) or result
    assert isinstance(result, Document | Rejection), f"decoder returned {result!r}"
    if isinstance(result, Rejection):
        assert result.reason in REASONS, result

    text = data.decode("utf-8", "replace")
    lang = LANGS[data[0] % len(LANGS)] if data else "en"
    if numbers is not None:
        for mention in numbers.find_numbers(text, lang):
            assert 0 <= mention.start < mention.end <= len(text), mention
    if dates is not None:
        for mention in dates.find_dates(text, lang, PUBLISHED):
            assert 0 <= mention.start < mention.end <= len(text), mention
    if kb is not None:
        try:
            kb.parse_line(Path("fuzz.jsonl"), 1, text)
        except kb.KBError:
            pass


def run_hypothesis(seconds: float) -> int:
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    inputs = st.one_of(
        st.binary(max_size=4096),
        st.text(max_size=512).map(lambda t: t.encode("utf-8")),
        st.binary(max_size=512).map(lambda b: b"{" + b),
    )

    @settings(max_examples=500, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(inputs)
    def fuzz(data: bytes) -> None:
        check(data)

    stop_at = time.monotonic() + seconds
    rounds = 0
    while time.monotonic() < stop_at:  # fresh random rounds until the time is spent
        fuzz()
        rounds += 1
    print(f"fuzz: no finding in {rounds * 500} hypothesis inputs ({seconds:.0f} s)", file=sys.stderr)
    return 0


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], add_help=False)
    parser.add_argument("--hypothesis", action="store_true", help="use hypothesis even when atheris is installed")
    parser.add_argument("--seconds", type=float, default=60.0, help="hypothesis run length")
    known, rest = parser.parse_known_args(argv[1:])
    if known.hypothesis or atheris is None:
        return run_hypothesis(known.seconds)
    atheris.Setup([argv[0], *rest], check)
    atheris.Fuzz()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
