"""Claim groups as a terminal table (`claimstream claims`, `claimstream demo`)."""

from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import TextIO

from claimstream.claims.groups import describe_quantity
from claimstream.core.schema import ClaimGroup
from claimstream.core.text import printable


def render_groups(groups: Iterable[ClaimGroup], color: bool | None = None, conflicts_only: bool = False,
                  stream: TextIO | None = None) -> str:
    """The groups as a terminal table: key, each value by source and language, conflict.

    Conflicts are red when `color` is True, or when it is None and `stream` (stdout by
    default) is a terminal.
    """
    if color is None:
        color = (stream or sys.stdout).isatty()
    red, bold, reset = ("\x1b[31m", "\x1b[1m", "\x1b[0m") if color else ("", "", "")
    p = printable  # every field comes from documents: escape what would drive the terminal
    lines = []
    for group in groups:
        if conflicts_only and not group.conflict:
            continue
        flag = f"{red}{bold}CONFLICT{reset}" if group.conflict else "ok"
        lines.append(f"{bold}{p(group.key)}{reset}  [{flag}]  {len(group.doc_ids)} docs, "
                     f"{p(', '.join(group.languages))}")
        lines.append(f"  {p(group.text)}")
        for m in group.claims:
            value = describe_quantity(m.quantity) if m.HasField("quantity") else ""
            when = m.time.start if m.HasField("time") else ""
            said = f" per {m.attribution.name}" if m.attribution.name else ""
            copies = f" (+{len(m.also_in)} republished)" if m.also_in else ""
            lines.append(p(f"    {m.source or m.doc_id:<18} {m.language:<3} {value:<20} {when:<10}{said}{copies}"))
        if group.timeline:
            lines.append(f"  updates: {p(group.timeline)}")
        if group.conflict:
            lines.append(f"  {red}reason: {p(group.reason)}{reset}")
    return "\n".join(lines) + ("\n" if lines else "")
