"""Claim groups: every claim with the same key, from every document and language.

Pure logic, no Faust: `merge_claim` is what the claims worker's group store calls
for each claim (claims/service.py), and `ClaimGroups` is the in-memory store used by
`claimstream enrich --groups` and the gateway's `Enrich`.

Rules:

- Idempotent: a member is identified by (doc id, claim start, claim end, the surface
  of its number or date, for two values in one sentence); merging
  it again replaces it with itself, so a replay changes nothing (not even
  `updated_at`). Members are kept sorted, and the group's text, subject and object are
  those of its headline member (an English one if any, then the least identity), so
  arrival order does not matter either: A then B gives the group B then A gives.
- Value range: lower = least lower bound, upper = greatest upper bound (unset when
  some member is unbounded above), value = the median member value.
- Values: two quantities disagree when their ranges do not overlap and the gap is more
  than `tolerance` (relative to the larger bound): "about 20,000" (18,000 to 22,000) and
  "more than 35,000" do; "18,000" and "about 20,000" do not. Two dates of a one-off event
  (agreement_signed, ...) disagree when their spans do not overlap: 13 May vs 14 May does,
  "May 2024" vs 13 May does not. Only values of one unit are compared (a toll of soldiers
  is not a toll of people).
- Time: each member's as-of time is its document's publication time. Reports of a count
  that only grows (`CUMULATIVE`: tolls, injured, displaced, arrested, homes, troops) are
  updates when a later one is larger: 384 on Monday and 832 on Wednesday is a rising toll,
  listed in the group's `timeline`, not a conflict. They conflict when a later report is
  smaller than an earlier one, or when both were published within `SIMULTANEOUS` of each
  other. Other figures that change (missing, turnout, magnitude) conflict only when reported
  within `SAME_TIME` of each other; amounts of money at any time.
- Conflict: two members of different documents, each attributed to a source (not the same
  linked one), that disagree under these rules; the reason names both sources, languages,
  as-of dates and figures. An unattributed figure is never called a conflict. Two figures
  of one document are the claim model's to judge (`Claim.contradiction`).
"""

from __future__ import annotations

import statistics
import sys
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import TextIO

from claimstream.core.schema import Claim, ClaimGroup, ClaimGroupMember, Document, Quantity, TimeSpan, now_timestamp
from claimstream.core.text import printable

#: Predicates whose date is the claim (a one-off event happens on one day).
EVENT_PREDICATES = frozenset({"agreement_signed", "agreement_ratified", "withdrew_from", "diplomats_expelled"})
#: Counts that only grow while an event's reports come in: a later, larger figure is an update.
CUMULATIVE = frozenset({"people_killed", "people_injured", "people_displaced", "people_affected", "people_arrested",
                        "homes_damaged", "troops_deployed"})
#: Amounts that do not change with time: any two that disagree conflict.
TIMELESS = frozenset({"deal_value", "investment_value", "aid_pledged"})
#: How far apart two reports of a changing figure may be and still speak of one moment.
SAME_TIME = timedelta(hours=12)
#: Reports of a growing count this close are of one moment: a larger one is no update of the other.
SIMULTANEOUS = timedelta(hours=1)
#: Most entries of a group's timeline.
TIMELINE_LENGTH = 8


def _bounds(q: Quantity) -> tuple[float, float]:
    lower = q.lower if q.HasField("lower") else q.value
    upper = q.upper if q.HasField("upper") else float("inf")
    if not q.HasField("upper") and q.qualifier in ("exact", ""):
        upper = q.value
    return lower, upper


def _describe(q: Quantity) -> str:
    words = {"approx": "about ", "at_least": "at least ", "more_than": "more than ", "at_most": "up to ",
             "less_than": "fewer than "}
    value = f"{q.value:,.0f}" if q.value == int(q.value) else f"{q.value:,.2f}".rstrip("0").rstrip(".")
    return words.get(q.qualifier, "") + value


def values_conflict(qa: Quantity | None, ta: TimeSpan | None, qb: Quantity | None, tb: TimeSpan | None,
                    tolerance: float, predicate: str) -> str:
    """Why two values of one claim key cannot both be true, or '' when they can."""
    if qa is not None and qb is not None and qa.unit == qb.unit:
        (alo, ahi), (blo, bhi) = _bounds(qa), _bounds(qb)
        if ahi < blo or bhi < alo:
            low_hi, high_lo = (ahi, blo) if ahi < blo else (bhi, alo)
            if high_lo > 0 and (high_lo - low_hi) / high_lo > tolerance:
                return f"{_describe(qa)} vs {_describe(qb)}: ranges do not overlap"
    if predicate in EVENT_PREDICATES and ta is not None and tb is not None and ta.start and tb.start:
        if ta.end < tb.start or tb.end < ta.start:
            return f"dated {ta.start} vs {tb.start}"
    return ""


def _member(claim: Claim, doc: Document) -> ClaimGroupMember:
    member = ClaimGroupMember(
        doc_id=doc.id, language=claim.language, source=doc.source, source_text=claim.source_text,
        start=claim.start, end=claim.end,
    )
    if claim.HasField("attribution"):
        member.attribution.CopyFrom(claim.attribution)
    if claim.HasField("quantity"):
        member.quantity.CopyFrom(claim.quantity)
    if claim.HasField("time"):
        member.time.CopyFrom(claim.time)
    if doc.HasField("published_at"):
        member.published_at.CopyFrom(doc.published_at)
    return member


def _summarize(group: ClaimGroup, tolerance: float) -> None:
    """Recompute the derived fields (documents, languages, sources, range, conflict)."""
    members = list(group.claims)
    del group.doc_ids[:], group.languages[:], group.sources[:]
    group.doc_ids.extend(sorted({m.doc_id for m in members} | {d for m in members for d in m.also_in}))
    group.languages.extend(sorted({m.language for m in members if m.language}))
    group.sources.extend(sorted({m.source for m in members if m.source}))
    quantities = [m.quantity for m in members if m.HasField("quantity")]
    group.ClearField("value_range")
    if quantities:
        lowers = [_bounds(q)[0] for q in quantities]
        uppers = [_bounds(q)[1] for q in quantities]
        vr = Quantity(value=statistics.median(q.value for q in quantities), unit=quantities[0].unit,
                      qualifier="exact" if len({q.value for q in quantities}) == 1 else "range", lower=min(lowers))
        if max(uppers) != float("inf"):
            vr.upper = max(uppers)
        group.value_range.CopyFrom(vr)
    disputed = disputes(members, group.predicate, tolerance)
    reasons = [f"{_who(x)} said {_describe_member(x)}, {_who(y)} said {_describe_member(y)}"
               f"{' later' if _as_of(y) > _as_of(x) else ''}: {why}" for x, y, why in disputed]
    group.conflict = bool(reasons)
    group.reason = "; ".join(reasons[:3]) + (f"; and {len(reasons) - 3} more" if len(reasons) > 3 else "")
    classes: dict[tuple[object, ...], list[ClaimGroupMember]] = {}
    for m in members:
        classes.setdefault(_value_signature(m), []).append(m)
    group.timeline = _timeline(list(classes.values()), group.predicate)


def disputes(members: list[ClaimGroupMember], predicate: str,
             tolerance: float) -> list[tuple[ClaimGroupMember, ClaimGroupMember, str]]:
    """The conflicts of a group: for each two figures that disagree, the first two members of different
    documents whose reports dispute each other by the time rules (module docstring), earlier first,
    with the reason their values cannot both be true."""
    # Compare distinct values, not every pair of members: a group that many documents repeat
    # has thousands of members but a handful of values, and this runs on every merge.
    classes: dict[tuple[object, ...], list[ClaimGroupMember]] = {}
    for m in members:
        classes.setdefault(_value_signature(m), []).append(m)
    values = list(classes.values())
    out = []
    for i, class_a in enumerate(values):
        for class_b in values[i + 1 :]:
            a, b = class_a[0], class_b[0]
            why = values_conflict(a.quantity if a.HasField("quantity") else None, a.time if a.HasField("time")
                                  else None, b.quantity if b.HasField("quantity") else None,
                                  b.time if b.HasField("time") else None, tolerance, predicate)
            if not why:
                continue
            pair = _disputing_pair(class_a, class_b, predicate)
            if pair is None:
                continue  # an update, reports of different moments, or one document's own two values
            x, y = sorted(pair, key=_as_of)
            out.append((x, y, why))
    return out


def as_of(m: ClaimGroupMember) -> datetime | None:
    """When a member's figure holds: its document's publication time. (A date in the sentence is the
    event's, "since the river burst its banks on 9 August", not the count's.)"""
    if m.HasField("published_at"):
        return m.published_at.ToDatetime(tzinfo=UTC)
    return None


def _as_of(m: ClaimGroupMember) -> datetime:
    return as_of(m) or datetime.min.replace(tzinfo=UTC)


def _disputing_pair(class_a: list[ClaimGroupMember], class_b: list[ClaimGroupMember],
                    predicate: str) -> tuple[ClaimGroupMember, ClaimGroupMember] | None:
    """Two members of different documents, one of each value class, whose disagreement is a conflict
    by the time rules (module docstring), or None. Classes are small; members past the first 64 of a
    class are not compared (their values are the class's)."""
    if predicate in TIMELESS or predicate in EVENT_PREDICATES:
        return _pair_from_two_documents(class_a, class_b)
    low, high = (class_a, class_b) if _bounds(class_a[0].quantity)[0] < _bounds(class_b[0].quantity)[0] \
        else (class_b, class_a)
    for x in low[:64]:
        for y in high[:64]:
            if x.doc_id == y.doc_id or not _two_sources(x, y):
                continue
            tx, ty = as_of(x), as_of(y)
            if tx is None or ty is None:
                continue  # no time, no order: an update cannot be told from a dispute
            if predicate in CUMULATIVE:
                if tx > ty or abs(tx - ty) < SIMULTANEOUS:
                    return y, x  # a count that only grows went down, or two figures for one moment
            elif abs(tx - ty) <= SAME_TIME:
                return x, y
    return None


def _two_sources(x: ClaimGroupMember, y: ClaimGroupMember) -> bool:
    """Whether both figures are attributed, to sources that are not the same linked entity: a figure
    nobody in the report vouches for is as likely a restated or rounded one as a dispute."""
    if not (x.attribution.name or x.attribution.id) or not (y.attribution.name or y.attribution.id):
        return False
    return not (x.attribution.id and x.attribution.id == y.attribution.id)


def _who(m: ClaimGroupMember) -> str:
    when = _as_of(m)
    said = f" per {m.attribution.name}" if m.attribution.name else ""
    return f"{m.source or m.doc_id} ({m.language}, {when:%Y-%m-%d}{said})" if when.year > 1 else \
        f"{m.source or m.doc_id} ({m.language}{said})"


def _describe_member(m: ClaimGroupMember) -> str:
    return _describe(m.quantity) if m.HasField("quantity") else (m.time.start or "?")


def _timeline(values: list[list[ClaimGroupMember]], predicate: str) -> str:
    """The group's figures in as-of order when later reports raise a count that grows (an update
    history), else ''."""
    if predicate not in CUMULATIVE:
        return ""
    points = sorted(((min(_as_of(m) for m in cls), cls) for cls in values if cls[0].HasField("quantity")),
                    key=lambda p: p[0])
    # One point per figure, at its first report ("about 10,000" from AP and from Der Spiegel).
    firsts: dict[str, tuple[datetime, list[ClaimGroupMember]]] = {}
    for when, cls in points:
        firsts.setdefault(_describe(cls[0].quantity), (when, cls))
    points = sorted(firsts.values(), key=lambda p: p[0])
    if len(points) < 2 or points[0][0].year == 1:
        return ""
    if any(b[0] - a[0] < SIMULTANEOUS for a, b in zip(points, points[1:], strict=False)):
        return ""  # two figures for one moment: no update history
    rising = all(
        _bounds(b[1][0].quantity)[0] >= _bounds(a[1][0].quantity)[0] for a, b in zip(points, points[1:], strict=False)
    )
    if not rising:
        return ""
    parts = [f"{_describe(cls[0].quantity)} ({when:%Y-%m-%d}, {cls[0].source or cls[0].doc_id})"
             for when, cls in points[:TIMELINE_LENGTH]]
    return " -> ".join(parts) + (" -> ..." if len(points) > TIMELINE_LENGTH else "")


def _value_signature(m: ClaimGroupMember) -> tuple[object, ...]:
    """Everything of a member that `values_conflict` and its reason read."""
    q = m.quantity if m.HasField("quantity") else None
    t = m.time if m.HasField("time") else None
    return (
        (q.unit, q.value, q.qualifier, *_bounds(q)) if q is not None else None,
        (t.start, t.end) if t is not None else None,
    )


def _pair_from_two_documents(
    class_a: list[ClaimGroupMember], class_b: list[ClaimGroupMember]
) -> tuple[ClaimGroupMember, ClaimGroupMember] | None:
    """The first members of two value classes that come from different documents, if any."""
    first_a, first_b = class_a[0], class_b[0]
    for b in class_b:
        if b.doc_id != first_a.doc_id:
            return first_a, b
    for a in class_a:  # every member of class_b is from first_a's document
        if a.doc_id != first_b.doc_id:
            return a, first_b
    return None


def merge_claim(group: ClaimGroup | None, claim: Claim, doc: Document, tolerance: float) -> ClaimGroup:
    """`group` with `claim` of `doc` merged in (a new group when None); idempotent.

    The input group is not modified. `updated_at` changes only when the group does.
    """
    merged = ClaimGroup()
    if group is not None:
        merged.CopyFrom(group)
    else:
        merged.key, merged.predicate = claim.key, claim.predicate
    new = _member(claim, doc)
    kept = []
    for m in merged.claims:
        if _identity(m) == _identity(new):
            new.also_in.extend(m.also_in)  # the same member again (a replay): its folded copies stay
        else:
            kept.append(m)
    copy_of = next((m for m in kept if _copy_key(m) == _copy_key(new) and m.doc_id != new.doc_id), None)
    if copy_of is None:
        kept.append(new)
    else:
        _fold(kept, copy_of, new)
    kept.sort(key=_identity)
    if min(kept, key=_headline_rank) is new:
        # The group reads as its headline member's claim, whichever arrived first, so the same
        # claims merged in any order give the same group.
        merged.text = claim.text
        merged.subject.CopyFrom(claim.subject)
        merged.object.CopyFrom(claim.object)
    del merged.claims[:]
    merged.claims.extend(kept)
    _summarize(merged, tolerance)
    if group is None or _content(merged) != _content(group):
        merged.updated_at.CopyFrom(now_timestamp())
    return merged


def _headline_rank(m: ClaimGroupMember) -> tuple[bool, tuple[str, int, int, str, str]]:
    """Which member's claim a group reads as: an English one if there is one, then the least identity.

    A member only ever takes the headline when it is merged (a member folded away is replaced
    by a copy that ranks before it), so the headline is always its claim's text and parties."""
    return (m.language != "en", _identity(m))


def _copy_key(m: ClaimGroupMember) -> tuple[object, ...]:
    """What two members of different documents share when one is a republished copy of the other."""
    return (m.source, m.language, m.source_text, m.start, m.end, m.attribution.id, m.attribution.name,
            m.quantity.surface, m.time.surface, _value_signature(m))


def _fold(kept: list[ClaimGroupMember], member: ClaimGroupMember, new: ClaimGroupMember) -> None:
    """Fold `new` (a copy of `member`) into it; the copy with the least doc id stays the member,
    so the result does not depend on arrival order. `new.doc_id` may already be folded (a replay)."""
    ids = sorted({member.doc_id, new.doc_id, *member.also_in})
    primary = new if ids[0] == new.doc_id else member
    if primary is new:
        kept.remove(member)
        kept.append(new)
    del primary.also_in[:]
    primary.also_in.extend(ids[1:])


def _identity(m: ClaimGroupMember) -> tuple[str, int, int, str, str]:
    """A member's identity: its document and span, and which number or date of the sentence it is
    (one sentence can hold two values of one key: "about 10,000, Ukraine says 12,000")."""
    return (m.doc_id, m.start, m.end, m.quantity.surface, m.time.surface)


def _content(group: ClaimGroup) -> bytes:
    copy = ClaimGroup()
    copy.CopyFrom(group)
    copy.ClearField("updated_at")
    return copy.SerializeToString(deterministic=True)


class ClaimGroups:
    """In-memory claim-group store: claim key -> ClaimGroup."""

    def __init__(self, tolerance: float = 0.10) -> None:
        self.tolerance = tolerance
        self._groups: dict[str, ClaimGroup] = {}

    def get(self, key: str) -> bytes | None:
        """The serialized group under `key` (the table interface)."""
        group = self._groups.get(key)
        return group.SerializeToString() if group is not None else None

    def set(self, key: str, value: bytes) -> None:
        group = ClaimGroup()
        group.ParseFromString(value)
        self._groups[key] = group

    def merge_document(self, doc: Document) -> list[ClaimGroup]:
        """Merge every keyed claim of `doc`; returns the groups that changed."""
        changed: dict[str, ClaimGroup] = {}
        for claim in doc.claims:
            if not claim.key:
                continue
            before = self._groups.get(claim.key)
            after = merge_claim(before, claim, doc, self.tolerance)
            if before is None or _content(after) != _content(before):
                self._groups[claim.key] = after
                changed[claim.key] = after
        return list(changed.values())

    def groups(self) -> list[ClaimGroup]:
        """Every group, sorted by key."""
        return sorted(self._groups.values(), key=lambda g: g.key)

    def __getitem__(self, key: str) -> ClaimGroup:
        return self._groups[key]

    def __contains__(self, key: object) -> bool:
        return key in self._groups

    def __len__(self) -> int:
        return len(self._groups)


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
            value = _describe(m.quantity) if m.HasField("quantity") else ""
            when = m.time.start if m.HasField("time") else ""
            said = f" per {m.attribution.name}" if m.attribution.name else ""
            copies = f" (+{len(m.also_in)} republished)" if m.also_in else ""
            lines.append(p(f"    {m.source or m.doc_id:<18} {m.language:<3} {value:<20} {when:<10}{said}{copies}"))
        if group.timeline:
            lines.append(f"  updates: {p(group.timeline)}")
        if group.conflict:
            lines.append(f"  {red}reason: {p(group.reason)}{reset}")
    return "\n".join(lines) + ("\n" if lines else "")
