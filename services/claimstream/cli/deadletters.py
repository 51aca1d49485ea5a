"""`claimstream dlq`: list dead letters with their reasons, or replay them (see `kafka/deadletters.py`)."""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from collections.abc import Sequence
from typing import Any

from claimstream.core.settings import Settings
from claimstream.core.text import printable
from claimstream.kafka.deadletters import dlq_topics, list_dlq, replay_dlq


def add_dlq_command(subparsers: Any, parents: Sequence[argparse.ArgumentParser]) -> argparse.ArgumentParser:
    """Register `claimstream dlq [TOPIC] [--replay] [--reason R] [--limit N]`."""
    help_text = "List dead letters (messages a stage could not process) with their reasons, or replay them."
    p: argparse.ArgumentParser = subparsers.add_parser(
        "dlq", help=help_text, description=help_text, parents=list(parents)
    )
    p.add_argument("topic", nargs="?", help="one DLQ topic (default: every stage's DLQ)")
    p.add_argument("--replay", action="store_true",
                   help="send the pending entries back to the topic they came from (after fixing the cause); "
                        "each entry is sent once, however often this runs")
    p.add_argument("--reason", action="append", metavar="REASON",
                   help="only entries with this reason code (repeatable)")
    p.add_argument("--limit", type=int, default=None, help="list at most N entries")
    p.set_defaults(func=cmd_dlq)
    return p


def cmd_dlq(args: argparse.Namespace, settings: Settings) -> int:
    """`claimstream dlq`: a table of entries (partition, offset, pending or replayed), or with --replay the
    number sent back."""
    from claimstream.core.schema import REASONS

    topics = [args.topic] if args.topic else None
    if args.topic and not args.topic.endswith(settings.dlq_suffix):
        print(f"claimstream: {args.topic!r} is not a DLQ topic (they end in {settings.dlq_suffix!r}): "
              f"choose from {', '.join(dlq_topics(settings))}", file=sys.stderr)
        return 2
    unknown = [r for r in args.reason or [] if r not in REASONS]
    if unknown:
        print(f"claimstream: unknown reason {', '.join(unknown)}; choose from {', '.join(REASONS)}",
              file=sys.stderr)
        return 2
    if args.replay:
        summary = replay_dlq(settings, topics, args.reason)
        print(f"replayed {summary.sent} dead letter(s) to their source topics; {summary.already} replayed before "
              f"(skipped), {summary.skipped} not replayable", file=sys.stderr)
        return 0
    keep = set(args.reason or [])
    letters = [d for d in list_dlq(settings, topics) if not keep or d.reason in keep]
    states = Counter(d.state for d in letters)
    total = len(letters)
    if args.limit is not None:
        letters = letters[: args.limit]
    rows = [(printable(d.topic), str(d.partition), str(d.offset), d.state, printable(d.reason), printable(d.detail),
             printable(d.preview())) for d in letters]
    header = ("topic", "partition", "offset", "state", "reason", "detail", "value")
    widths = [min(max([len(header[i])] + [len(r[i]) for r in rows]), 48 if i == 5 else 60) for i in range(len(header))]
    print("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)))
    for row in rows:
        cells = [c if len(c) <= w else c[: w - 1] + "…" for c, w in zip(row, widths, strict=True)]
        print("  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip())
    shown = f"; {len(rows)} shown" if len(rows) < total else ""
    print(f"{total} dead letter(s): {states['pending']} pending, {states['replayed']} replayed, "
          f"{states['truncated']} truncated (not replayable){shown}", file=sys.stderr)
    return 0
