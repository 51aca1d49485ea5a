"""Claim groups at scale: ms per merged claim and peak memory at 1k, 10k and 100k claims on skewed keys.

    python -m benchmarks.groups [--quick]

Synthetic claims (`synthetic_documents`): keys drawn from a Zipf distribution (a few events get most of
the reports, as on a busy news day), mostly repeated values with some distinct ones, rising tolls,
republished copies and replays, merged through `ClaimGroups`. Rounds are interleaved (each size once per
round) and the table gives the median and the min-max of 3 rounds. `reference_merge_claim` is the merge
before the group indexes (tests/unit/claims/test_groups.py holds the new one to it, byte for byte); it is
measured at 1k and 10k claims only (its time per claim grows with the group, 100k would take hours).
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import time
import tracemalloc
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from claimstream.claims.groups import (
    CUMULATIVE,
    EVENT_PREDICATES,
    SAME_TIME,
    SIMULTANEOUS,
    TIMELESS,
    TIMELINE_LENGTH,
)
from claimstream.claims.store import ClaimGroups
from claimstream.core.schema import (
    Claim,
    ClaimGroup,
    ClaimGroupMember,
    Document,
    EntityRef,
    Quantity,
    TimeSpan,
    now_timestamp,
)

from benchmarks.harness import machine_note, print_table, save_results

# The merge before the group indexes, kept as it was (the reference the new one is tested against).

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
    member.superseded = claim.superseded
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
    disputed = _disputes(members, group.predicate, tolerance)
    reasons = [f"{_who(x)} said {_describe_member(x)}, {_who(y)} said {_describe_member(y)}"
               f"{' later' if _as_of(y) > _as_of(x) else ''}: {why}" for x, y, why in disputed]
    group.conflict = bool(reasons)
    group.reason = "; ".join(reasons[:3]) + (f"; and {len(reasons) - 3} more" if len(reasons) > 3 else "")
    classes: dict[tuple[object, ...], list[ClaimGroupMember]] = {}
    for m in members:
        classes.setdefault(_value_signature(m), []).append(m)
    group.timeline = _timeline(list(classes.values()), group.predicate)


def _disputes(members: list[ClaimGroupMember], predicate: str,
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
            if x.doc_id == y.doc_id or x.superseded or y.superseded or not _two_sources(x, y):
                continue  # one document's figures, a document's smaller figure, or not two vouched sources
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


def reference_merge_claim(group: ClaimGroup | None, claim: Claim, doc: Document, tolerance: float) -> ClaimGroup:
    """The merge as it was before `IndexedGroup`: the whole group copied, sorted, summarized and
    serialized twice on every claim, every two value classes compared."""
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
            m.quantity.surface, m.time.surface, _value_signature(m), m.superseded)


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




class ReferenceGroups:
    """`ClaimGroups.merge_document` as it was, over `reference_merge_claim`."""

    def __init__(self, tolerance: float = 0.10) -> None:
        self.tolerance = tolerance
        self.groups: dict[str, ClaimGroup] = {}

    def merge_document(self, doc: Document) -> None:
        for claim in doc.claims:
            if not claim.key:
                continue
            before = self.groups.get(claim.key)
            after = reference_merge_claim(before, claim, doc, self.tolerance)
            if before is None or _content(after) != _content(before):
                self.groups[claim.key] = after


# The synthetic news.

PREDICATES = ("people_killed", "people_missing", "deal_value", "agreement_signed")
NAMES = ("officials", "the Red Cross", "the ministry", "police", "the UN", "witnesses", "the army", "local media")
LANGUAGES = ("en", "en", "hi", "fa", "ru", "zh", "ar", "de", "fr", "uk")
START = datetime(2024, 7, 1, tzinfo=UTC)


def _quantity(rng: random.Random, predicate: str, base: float, day: int) -> Quantity:
    """Mostly the figure of the day (a toll rises every few days), some rounded, a few outliers."""
    r = rng.random()
    if predicate == "people_killed":
        figure = base * (1 + day // 4)
        if r < 0.15:
            figure = base * (1 + max(0, day // 4 - 1))  # a stale report
    else:
        figure = base
    if r > 0.98:
        return Quantity(value=float(rng.randrange(1, 100) * base // 10), unit="people", qualifier="exact")
    if 0.75 < r <= 0.98:
        return Quantity(value=figure, unit="people", qualifier="approx", lower=figure * 0.9, upper=figure * 1.1)
    return Quantity(value=figure, unit="people", qualifier="exact")


def synthetic_documents(claims: int, seed: int = 7) -> list[Document]:
    """`claims` documents of one claim each on Zipf-distributed keys (one key per 50 claims), 5% of
    them replays of an earlier document and 15% republished copies of an earlier report of the key."""
    rng = random.Random(seed)
    n_keys = max(10, claims // 50)
    weights = [1 / (k + 1) ** 1.1 for k in range(n_keys)]
    history: dict[int, list[Document]] = {}
    docs: list[Document] = []
    for k in rng.choices(range(n_keys), weights, k=claims):
        r = rng.random()
        if r < 0.05 and docs:
            docs.append(docs[rng.randrange(len(docs))])
            continue
        predicate = PREDICATES[k % len(PREDICATES)]
        earlier = history.setdefault(k, [])
        doc = Document(id=f"{rng.getrandbits(48):012x}")
        day = rng.randrange(20)
        doc.published_at.FromDatetime(START + timedelta(days=day, hours=rng.randrange(24)))
        if r < 0.20 and earlier:
            original = rng.choice(earlier)
            doc.source = original.source
            doc.claims.add().CopyFrom(original.claims[0])
        else:
            doc.source = f"source-{rng.randrange(300)}"
            base = float(100 * (k % 50 + 1))
            lang = rng.choice(LANGUAGES)
            start = rng.randrange(0, 2000)
            claim = Claim(key=f"{predicate}|event-{k}||2024-07", predicate=predicate, language=lang,
                          start=start, end=start + 80, source_text=f"sentence {start} of event {k}")
            if predicate == "agreement_signed":
                date = "2024-05-13" if rng.random() < 0.95 else f"2024-05-{rng.randrange(1, 29):02d}"
                claim.time.CopyFrom(TimeSpan(start=date, end=date, precision="day", surface=date))
            else:
                q = _quantity(rng, predicate, base if predicate != "deal_value" else base * 1e6, day)
                q.surface = f"{q.value:,.0f}"
                claim.quantity.CopyFrom(q)
            if rng.random() < 0.85:
                claim.attribution.name = rng.choice(NAMES)
            claim.text = f"Event {k}: {claim.quantity.surface or claim.time.surface}"
            claim.subject.CopyFrom(EntityRef(id=f"event:{k}", name=f"event {k}"))
            doc.claims.append(claim)
        earlier.append(doc)
        docs.append(doc)
    return docs


def _merge_all(store_factory: Callable[[], Any], docs: list[Document]) -> float:
    store = store_factory()
    started = time.perf_counter()
    for doc in docs:
        store.merge_document(doc)
    return time.perf_counter() - started


def _peak_mib(store_factory: Callable[[], Any], docs: list[Document]) -> float:
    tracemalloc.start()
    store = store_factory()
    for doc in docs:
        store.merge_document(doc)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    del store
    return peak / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="1k and 10k claims only, no reference at 10k")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    sizes = (1_000, 10_000) if args.quick else (1_000, 10_000, 100_000)
    reference_sizes = (1_000,) if args.quick else (1_000, 10_000)
    corpora = {n: synthetic_documents(n) for n in sizes}
    runs: list[tuple[str, int, Callable[[], Any]]] = [("indexed (ClaimGroups)", n, ClaimGroups) for n in sizes]
    runs += [("reference (before)", n, ReferenceGroups) for n in reference_sizes]
    times: dict[tuple[str, int], list[float]] = {(name, n): [] for name, n, _ in runs}
    loads: dict[tuple[str, int], list[float]] = {(name, n): [] for name, n, _ in runs}
    for _ in range(args.rounds):  # interleaved: every run once per round
        for name, n, factory in runs:
            if name.startswith("reference") and n > 1_000 and len(times[(name, n)]) >= 1:
                continue  # one round of the reference at 10k (minutes a round)
            loads[(name, n)].append(os.getloadavg()[0])
            times[(name, n)].append(_merge_all(factory, corpora[n]) / n * 1000)
    rows = []
    for name, n, factory in runs:
        ms = times[(name, n)]
        store = ClaimGroups()
        for doc in corpora[n]:
            store.merge_document(doc)
        largest = max(len(g.claims) for g in store.groups())
        rows.append({
            "merge": name,
            "claims": n,
            "keys": len(store),
            "largest group (members)": largest,
            "ms per claim, median": round(statistics.median(ms), 4),
            "min-max": f"{min(ms):.4f}-{max(ms):.4f}",
            "rounds": len(ms),
            "peak MiB (tracemalloc)": round(_peak_mib(factory, corpora[n]), 1) if len(ms) > 1 else "",
            "load avg (1 min)": round(statistics.median(loads[(name, n)]), 2),
        })
    print_table("claim groups: ms per merged claim", rows)
    note = ("Synthetic claims (benchmarks.groups.synthetic_documents): Zipf(1.1) keys, one key per 50 claims, "
            "5% replays, 15% republished copies; rounds interleaved; the reference (the merge before the group "
            "indexes) at 1k and 10k only, one round at 10k; at 100k it would take hours. "
            f"Measured on {machine_note()}, shared with other work (load average in the table). "
            "Peak MiB is tracemalloc's: Python objects (the indexes), not the protobuf (upb) messages, which it "
            "does not see.")
    print(f"\n{note}\n{save_results('groups', rows, note)}")


if __name__ == "__main__":
    main()
