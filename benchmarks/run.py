"""Run the benchmarks: `python -m benchmarks.run all` (what `make bench` runs) or some by name.

    python -m benchmarks.run all | NAME [NAME ...] [-- ARGS for each]

Each benchmark runs as its own process (`python -m benchmarks.NAME`), one after the
other, so one stage's memory or threads do not colour the next one's figures.
"""

from __future__ import annotations

import subprocess
import sys

#: In the order `all` runs them: each stage alone, then the pipeline over Kafka.
BENCHMARKS = ("langid", "langid_quality", "encoder", "onnx_threads", "ner", "translate", "claims", "groups",
              "claims_quality", "memory", "pipeline")


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    extra: list[str] = []
    if "--" in args:
        extra = args[args.index("--") + 1:]
        args = args[: args.index("--")]
    names = list(BENCHMARKS) if args in ([], ["all"]) else args
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        print(f"unknown benchmark(s) {', '.join(unknown)}; choose from all, {', '.join(BENCHMARKS)}", file=sys.stderr)
        return 2
    for name in names:
        print(f"== {name}", file=sys.stderr, flush=True)
        code = subprocess.call([sys.executable, "-m", f"benchmarks.{name}", *extra])
        if code:
            print(f"benchmarks.{name} exited with status {code}", file=sys.stderr)
            return code
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
