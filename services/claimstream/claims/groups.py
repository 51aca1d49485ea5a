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
- A document speaks by its largest figure of a count that only grows: a member the claim model
  marks `superseded` (its document gives a larger figure of the key: an earlier figure, a part,
  the lower side of a dispute the document reports itself) is never one side of a conflict
  between documents. "21 dead, 6 of them children" in one report and "16 dead" in an earlier
  one is a rising toll, not 6 against 16.
"""

from __future__ import annotations

import math
from bisect import bisect_left, insort
from collections.abc import Iterable, MutableSequence, Sequence
from datetime import UTC, datetime, timedelta

from google.protobuf.message import Message

from claimstream.core.schema import Claim, ClaimGroup, ClaimGroupMember, Document, Quantity, TimeSpan, now_timestamp

#: The key suffix of a claim that is a part of a total (claims/model.py `_mark_parts`).
PART_SUFFIX = "|part"

#: Predicates whose date is the claim (a one-off event happens on one day).
EVENT_PREDICATES = frozenset({"agreement_signed", "agreement_ratified", "withdrew_from", "diplomats_expelled"})
#: Counts that only grow while an event's reports come in: a later, larger figure is an update.
#: Aid pledged grows too: a government adds to its pledge ("150 million yuan in all" after 100 million).
CUMULATIVE = frozenset({"people_killed", "people_injured", "people_displaced", "people_affected", "people_arrested",
                        "homes_damaged", "troops_deployed", "aid_pledged"})
#: Amounts that do not change with time: any two that disagree conflict.
TIMELESS = frozenset({"deal_value", "investment_value"})
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


def describe_quantity(q: Quantity) -> str:
    """A quantity as people write it: `about 20,000`, `more than 35,000`."""
    return _describe_value(q.value, q.qualifier)


#: Members of a value class compared with another class's (the values are the class's; who said them and
#: when decide whether two values are a dispute, and the first members, by identity, are asked).
CLASS_WINDOW = 64

#: Predicates whose disputes are judged by who said each value, not when (`_two_documents`).
_WHOLE_CLASS = TIMELESS | EVENT_PREDICATES
_NO_TIME = datetime.min.replace(tzinfo=UTC)

Identity = tuple[str, int, int, str, str]
QuantitySignature = tuple[str, float, str, float, float]
TimeSignature = tuple[str, str]
Signature = tuple[QuantitySignature | None, TimeSignature | None]


def _quantity_signature(q: Quantity) -> QuantitySignature:
    return (q.unit, q.value, q.qualifier, *_bounds(q))


def _signatures_conflict(a: Signature, b: Signature, tolerance: float, predicate: str) -> str:
    """`values_conflict` on two value signatures (`_value_signature`)."""
    qa, ta = a
    qb, tb = b
    if qa is not None and qb is not None and qa[0] == qb[0]:
        alo, ahi, blo, bhi = qa[3], qa[4], qb[3], qb[4]
        if ahi < blo or bhi < alo:
            low_hi, high_lo = (ahi, blo) if ahi < blo else (bhi, alo)
            if high_lo > 0 and (high_lo - low_hi) / high_lo > tolerance:
                return f"{_describe_value(qa[1], qa[2])} vs {_describe_value(qb[1], qb[2])}: ranges do not overlap"
    if predicate in EVENT_PREDICATES and ta is not None and tb is not None and ta[0] and tb[0]:
        if ta[1] < tb[0] or tb[1] < ta[0]:
            return f"dated {ta[0]} vs {tb[0]}"
    return ""


def values_conflict(qa: Quantity | None, ta: TimeSpan | None, qb: Quantity | None, tb: TimeSpan | None,
                    tolerance: float, predicate: str) -> str:
    """Why two values of one claim key cannot both be true, or '' when they can."""
    return _signatures_conflict(
        (_quantity_signature(qa) if qa is not None else None, (ta.start, ta.end) if ta is not None else None),
        (_quantity_signature(qb) if qb is not None else None, (tb.start, tb.end) if tb is not None else None),
        tolerance, predicate,
    )


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


def as_of(m: ClaimGroupMember) -> datetime | None:
    """When a member's figure holds: its document's publication time. (A date in the sentence is the
    event's, "since the river burst its banks on 9 August", not the count's.)"""
    if m.HasField("published_at"):
        return m.published_at.ToDatetime(tzinfo=UTC)
    return None


class _Member:
    """A member and what the rules read of it, computed once, when it is merged (so that a claim whose
    value or time cannot be read fails before the group changes)."""

    __slots__ = ("proto", "identity", "doc_id", "signature", "copy_key", "as_of", "when", "vouched",
                 "attribution_id", "describe", "superseded")

    def __init__(self, proto: ClaimGroupMember) -> None:
        self.proto = proto
        self.identity = _identity(proto)
        self.doc_id = proto.doc_id
        if proto.HasField("quantity"):
            q = proto.quantity
            if not math.isfinite(q.value) or any(math.isnan(b) for b in _bounds(q)):
                raise ValueError(f"claim value {q.value} ({q.surface!r}) of {proto.doc_id} is not a number: "
                                 "a group's range and median need finite values")
        self.signature = _value_signature(proto)
        self.copy_key = _copy_key(proto, self.signature)
        self.as_of = as_of(proto)
        self.when = self.as_of or _NO_TIME
        self.vouched = bool(proto.attribution.name or proto.attribution.id)
        self.attribution_id = proto.attribution.id
        self.describe = _describe_member(proto)
        self.superseded = proto.superseded


def _time_hit(low: Sequence[_Member], high: Sequence[_Member], cumulative: bool,
              entrants: set[Identity] | None = None) -> tuple[int, int] | None:
    """The first (x of `low`, y of `high`), as positions, whose reports dispute each other by the time
    rules, in the order x then y; with `entrants`, only among the pairs with at least one of them.

    `low` and `high` hold only members that can dispute at all (`_can_dispute`)."""
    everyone = range(len(high))
    rows: Sequence[int]
    if entrants is None:
        rows, new_rows, columns = range(len(low)), frozenset(range(len(low))), []
    else:
        new_rows = frozenset(i for i, x in enumerate(low) if x.identity in entrants)
        columns = [j for j, y in enumerate(high) if y.identity in entrants]
        rows = range(len(low)) if columns else sorted(new_rows)
    for i in rows:
        x = low[i]
        tx = x.as_of
        assert tx is not None
        for j in everyone if i in new_rows else columns:
            y = high[j]
            if x.doc_id == y.doc_id or (x.attribution_id and x.attribution_id == y.attribution_id):
                continue
            ty = y.as_of
            assert ty is not None
            if cumulative:
                if tx > ty or abs(tx - ty) < SIMULTANEOUS:
                    return i, j  # a count that only grows went down, or two figures for one moment
            elif abs(tx - ty) <= SAME_TIME:
                return i, j
    return None


def _two_documents(class_a: Iterable[_Member], class_b: Iterable[_Member]) -> tuple[_Member, _Member] | None:
    """The first members of two value classes that come from different documents, if any."""
    members_a, members_b = iter(class_a), iter(class_b)
    first_a, first_b = next(members_a), next(members_b)
    if first_b.doc_id != first_a.doc_id:
        return first_a, first_b
    for b in members_b:
        if b.doc_id != first_a.doc_id:
            return first_a, b
    for a in members_a:  # every member of class_b is from first_a's document
        if a.doc_id != first_b.doc_id:
            return a, first_b
    return None


def _can_dispute(m: _Member) -> bool:
    """Whether a member's figure can be one side of a dispute by the time rules: attributed, dated, and
    its document's largest figure of the key (not `superseded`)."""
    return m.vouched and m.as_of is not None and not m.superseded


def _ordered(pair: tuple[_Member, _Member]) -> tuple[_Member, _Member]:
    """A disputing pair, earlier report first (as given when both are of one moment)."""
    x, y = pair
    return (y, x) if y.when < x.when else (x, y)


def disputes(members: list[ClaimGroupMember], predicate: str,
             tolerance: float) -> list[tuple[ClaimGroupMember, ClaimGroupMember, str]]:
    """The conflicts of a group: for each two figures that disagree, the first two members of different
    documents whose reports dispute each other by the time rules (module docstring), earlier first,
    with the reason their values cannot both be true. Classes are in order of their first member."""
    classes: dict[Signature, list[_Member]] = {}
    for m in members:
        rec = _Member(m)
        classes.setdefault(rec.signature, []).append(rec)
    values = list(classes.items())
    out = []
    for i, (sig_a, class_a) in enumerate(values):
        for sig_b, class_b in values[i + 1 :]:
            why = _signatures_conflict(sig_a, sig_b, tolerance, predicate)
            if not why:
                continue
            if predicate in TIMELESS or predicate in EVENT_PREDICATES:
                pair = _two_documents(class_a, class_b)
            else:
                low, high = (class_a, class_b) if _lower(sig_a) < _lower(sig_b) else (class_b, class_a)
                lw = [m for m in low[:CLASS_WINDOW] if _can_dispute(m)]
                hw = [m for m in high[:CLASS_WINDOW] if _can_dispute(m)]
                hit = _time_hit(lw, hw, predicate in CUMULATIVE)
                pair = None if hit is None else _oriented(lw[hit[0]], hw[hit[1]], predicate)
            if pair is None:
                continue  # an update, reports of different moments, or one document's own two values
            x, y = _ordered(pair)
            out.append((x.proto, y.proto, why))
    return out


def _oriented(x: _Member, y: _Member, predicate: str) -> tuple[_Member, _Member]:
    """A time-rule hit (x of the lower value, y of the higher) as the rules name it: for a count that
    only grows, the higher, earlier report first."""
    return (y, x) if predicate in CUMULATIVE else (x, y)


def _lower(signature: Signature) -> float:
    """The least bound of a class's quantity (0 without one, as an unset quantity reads)."""
    return signature[0][3] if signature[0] is not None else 0.0


def _who(m: _Member) -> str:
    p, when = m.proto, m.when
    said = f" per {p.attribution.name}" if p.attribution.name else ""
    return f"{p.source or p.doc_id} ({p.language}, {when:%Y-%m-%d}{said})" if when.year > 1 else \
        f"{p.source or p.doc_id} ({p.language}{said})"


def _describe_member(m: ClaimGroupMember) -> str:
    return describe_quantity(m.quantity) if m.HasField("quantity") else (m.time.start or "?")


def _describe_value(value: float, qualifier: str) -> str:
    words = {"approx": "about ", "at_least": "at least ", "more_than": "more than ", "at_most": "up to ",
             "less_than": "fewer than "}
    text = f"{value:,.0f}" if value == int(value) else f"{value:,.2f}".rstrip("0").rstrip(".")
    return words.get(qualifier, "") + text


def _value_signature(m: ClaimGroupMember) -> Signature:
    """Everything of a member that `values_conflict` and its reason read."""
    q = m.quantity if m.HasField("quantity") else None
    t = m.time if m.HasField("time") else None
    return (
        _quantity_signature(q) if q is not None else None,
        (t.start, t.end) if t is not None else None,
    )


def _copy_key(m: ClaimGroupMember, signature: Signature) -> tuple[object, ...]:
    """What two members of different documents share when one is a republished copy of the other."""
    return (m.source, m.language, m.source_text, m.start, m.end, m.attribution.id, m.attribution.name,
            m.quantity.surface, m.time.surface, signature, m.superseded)


def _identity(m: ClaimGroupMember) -> Identity:
    """A member's identity: its document and span, and which number or date of the sentence it is
    (one sentence can hold two values of one key: "about 10,000, Ukraine says 12,000")."""
    return (m.doc_id, m.start, m.end, m.quantity.surface, m.time.surface)


def _content(group: ClaimGroup) -> bytes:
    copy = ClaimGroup()
    copy.CopyFrom(group)
    copy.ClearField("updated_at")
    return copy.SerializeToString(deterministic=True)


def _bytes(message: Message) -> bytes:
    return message.SerializeToString(deterministic=True)


class _ValueClass:
    """The members of a group with one value signature, by identity, and the classes it disagrees with."""

    __slots__ = ("signature", "serial", "ids", "lower", "upper", "describe", "when", "pairs", "window")

    def __init__(self, signature: Signature, serial: int, describe: str) -> None:
        self.signature = signature
        self.serial = serial
        self.ids: list[Identity] = []
        self.lower = _lower(signature)
        self.upper = signature[0][4] if signature[0] is not None else 0.0
        self.describe = describe
        self.when = datetime.max.replace(tzinfo=UTC)  # the earliest as-of time of a member
        #: the classes whose values cannot be true with this one's, by serial
        self.pairs: dict[int, _Pair] = {}
        #: its first CLASS_WINDOW members that can dispute (`_can_dispute`), once asked for
        self.window: list[_Member] | None = None


class _Pair:
    """Two value classes that cannot both be true, `a` the one whose first member comes first, and the
    two members whose reports dispute each other (`found`, earlier first), if any."""

    __slots__ = ("a", "b", "why", "low", "hit", "found", "key", "reason")

    def __init__(self, a: _ValueClass, b: _ValueClass, why: str) -> None:
        self.a, self.b, self.why = a, b, why
        self.low: _ValueClass | None = None  # the class of the lower value, as of the last judgement
        self.hit: tuple[_Member, _Member] | None = None  # the time rules' hit: (lower value's, higher's)
        self.found: tuple[_Member, _Member] | None = None
        self.key: tuple[Identity, Identity] | None = None  # its place among the group's disputes
        self.reason = ""


class _Touched:
    """A class changed by the merge in progress, and what its pairs were judged by before it."""

    __slots__ = ("cls", "window", "other", "created", "removed")

    def __init__(self, cls: _ValueClass, window: list[_Member], other: _Member | None, created: bool) -> None:
        self.cls = cls
        self.window = window  # its first CLASS_WINDOW members
        self.other = other  # its first member of another document than its first member's
        self.created = created
        self.removed = False  # one of its first CLASS_WINDOW members left (or was replaced)


class _Distinct:
    """A multiset of strings whose distinct items a repeated string field holds, sorted."""

    __slots__ = ("counts", "items", "field")

    def __init__(self, field: MutableSequence[str]) -> None:
        self.counts: dict[str, int] = {}
        self.items: list[str] = []
        self.field = field

    def add(self, item: str) -> None:
        n = self.counts.get(item, 0)
        self.counts[item] = n + 1
        if n == 0:
            i = bisect_left(self.items, item)
            self.items.insert(i, item)
            self.field.insert(i, item)

    def discard(self, item: str) -> None:
        n = self.counts[item] - 1
        if n:
            self.counts[item] = n
            return
        del self.counts[item]
        i = bisect_left(self.items, item)
        del self.items[i], self.field[i]


class IndexedGroup:
    """One claim group (`group`, a ClaimGroup kept up to date in place) and the indexes that make merging
    a claim cost O(value classes + log members): members by identity and by copy key, value classes by
    signature with the pairs of them that disagree, counts of documents, languages and sources, sorted
    values for the range and median. A new member is compared with the existing value classes only,
    and a reason is written only for the first three disputes, which the group's `reason` shows.

    A store keeps one per key (`ClaimGroups`, the claims worker's `GroupStore`); the indexes of a
    group read from elsewhere are built at its first merge.
    """

    def __init__(self, tolerance: float, group: ClaimGroup | None = None) -> None:
        self.tolerance = tolerance
        self.group = group if group is not None else ClaimGroup()
        self._built = False
        self._fresh = group is None
        self._stale = False  # the group as given differs from the one its members make (see `_build`)

    def merge(self, claim: Claim, doc: Document) -> bool:
        """Merge `claim` of `doc` in (idempotent); whether the group changed, in which case its
        `updated_at` is now. Raises, the group unchanged, when the claim's value cannot be read."""
        if not self._built:
            self._build()
        group = self.group
        proto = _member(claim, doc)
        new = _Member(proto)
        if self._fresh:
            group.key, group.predicate = claim.key, claim.predicate
        old = self._by_id.get(new.identity)
        if old is not None:
            proto.also_in.extend(old.proto.also_in)  # the same member again (a replay): its folded copies stay
        copy_of = None
        for identity in self._copies.get(new.copy_key, ()):
            candidate = self._by_id[identity]
            if identity != new.identity and candidate.doc_id != new.doc_id:
                copy_of = candidate
                break
        changed = kept = True
        if copy_of is None:
            if old is not None and _bytes(old.proto) == _bytes(proto):
                changed = False
            else:
                if old is not None:
                    self._remove(old)
                self._add(new)
        else:
            # A republished copy: the copy with the least doc id stays the member, so the result does not
            # depend on arrival order. `new.doc_id` may already be folded (a replay).
            ids = sorted({copy_of.doc_id, new.doc_id, *copy_of.proto.also_in})
            if ids[0] == new.doc_id:
                if old is not None:
                    self._remove(old)
                self._remove(copy_of)
                del proto.also_in[:]
                proto.also_in.extend(ids[1:])
                self._add(new)
            else:
                kept = changed = old is not None
                if old is not None:
                    self._remove(old)
                if list(copy_of.proto.also_in) != ids[1:]:
                    self._set_also_in(copy_of, ids[1:])
                    changed = True
        if changed:
            self._refresh()
        if kept and self._headline() == new.identity:
            # The group reads as its headline member's claim, whichever arrived first, so the same
            # claims merged in any order give the same group.
            before = (group.text, group.HasField("subject"), _bytes(group.subject), group.HasField("object"),
                      _bytes(group.object))
            group.text = claim.text
            group.subject.CopyFrom(claim.subject)
            group.object.CopyFrom(claim.object)
            changed = changed or before != (group.text, True, _bytes(group.subject), True, _bytes(group.object))
        changed = changed or self._stale or self._fresh
        self._stale = self._fresh = False
        if changed:
            group.updated_at.CopyFrom(now_timestamp())
        return changed

    def _build(self) -> None:
        """The indexes of the group as given, and the group rebuilt from them (whether that changed it
        is remembered: the next merge then changes the group whatever the claim)."""
        source = self.group
        group = ClaimGroup()
        group.CopyFrom(source)
        members: dict[Identity, _Member] = {}
        for m in source.claims:
            rec = _Member(m)
            members.setdefault(rec.identity, rec)
        del group.claims[:], group.doc_ids[:], group.languages[:], group.sources[:]
        self.group = group
        self._ids: list[Identity] = []  # the members' identities, in the order of group.claims
        self._by_id: dict[Identity, _Member] = {}
        self._copies: dict[tuple[object, ...], list[Identity]] = {}
        self._english: list[Identity] = []
        self._docs = _Distinct(group.doc_ids)
        self._languages = _Distinct(group.languages)
        self._sources = _Distinct(group.sources)
        self._values: list[float] = []
        self._quantity_ids: list[Identity] = []
        self._lowers: list[float] = []  # one per class with a quantity
        self._uppers: list[float] = []
        self._classes: dict[Signature, _ValueClass] = {}
        self._serials = 0
        self._touched: dict[int, _Touched] = {}
        self._disputes: list[tuple[Identity, Identity]] = []
        self._pairs: dict[tuple[Identity, Identity], _Pair] = {}
        self._timeline_stale = True
        for identity in sorted(members):
            self._add(members[identity])
        self._refresh()
        self._stale = not self._fresh and _content(group) != _content(source)
        self._built = True

    def _headline(self) -> Identity:
        """Which member's claim the group reads as: an English one if there is one, then the least identity.

        A member only ever takes the headline when it is merged (a member folded away is replaced
        by a copy that ranks before it), so the headline is always its claim's text and parties."""
        return self._english[0] if self._english else self._ids[0]

    def _touch(self, cls: _ValueClass, created: bool = False) -> _Touched:
        touched = self._touched.get(cls.serial)
        if touched is None:
            window = self._firsts(cls)
            other = self._other_document(cls) if window and self.group.predicate in _WHOLE_CLASS else None
            touched = self._touched[cls.serial] = _Touched(cls, window, other, created)
        return touched

    def _firsts(self, cls: _ValueClass) -> list[_Member]:
        by_id = self._by_id
        return [by_id[i] for i in cls.ids[:CLASS_WINDOW]]

    def _judged_alike(self, touched: _Touched) -> bool:
        """Whether every pair of a changed class is judged as before: the time rules read a class's first
        CLASS_WINDOW members; the rules of one-off and timeless values its first member and the first
        member of another document (`_two_documents`)."""
        now = self._firsts(touched.cls)
        if self.group.predicate not in _WHOLE_CLASS:
            return not touched.removed and touched.window == now
        return touched.window[0] is now[0] and touched.other is self._other_document(touched.cls)

    def _other_document(self, cls: _ValueClass) -> _Member | None:
        first = self._by_id[cls.ids[0]]
        return next((m for m in map(self._by_id.__getitem__, cls.ids) if m.doc_id != first.doc_id), None)

    def _add(self, rec: _Member) -> None:
        group, identity, proto = self.group, rec.identity, rec.proto
        i = bisect_left(self._ids, identity)
        self._ids.insert(i, identity)
        group.claims.insert(i, proto)
        rec.proto = group.claims[i]
        self._by_id[identity] = rec
        insort(self._copies.setdefault(rec.copy_key, []), identity)
        if proto.language == "en":
            insort(self._english, identity)
        self._docs.add(rec.doc_id)
        for doc_id in proto.also_in:
            self._docs.add(doc_id)
        if proto.language:
            self._languages.add(proto.language)
        if proto.source:
            self._sources.add(proto.source)
        quantity = rec.signature[0]
        if quantity is not None:
            insort(self._values, quantity[1])
            insort(self._quantity_ids, identity)
        cls = self._classes.get(rec.signature)
        if cls is None:
            self._serials += 1
            cls = self._classes[rec.signature] = _ValueClass(rec.signature, self._serials, rec.describe)
            self._touch(cls, created=True)
            if quantity is not None:
                insort(self._lowers, cls.lower)
                insort(self._uppers, cls.upper)
            self._timeline_stale = True
        else:
            self._touch(cls)
        j = bisect_left(cls.ids, identity)
        cls.ids.insert(j, identity)
        if j < CLASS_WINDOW:
            cls.window = None
        if j == 0 or rec.when < cls.when:
            self._timeline_stale = True
        cls.when = min(cls.when, rec.when)

    def _remove(self, rec: _Member) -> None:
        identity, proto = rec.identity, rec.proto
        cls = self._classes[rec.signature]
        touched = self._touch(cls)
        j = bisect_left(cls.ids, identity)
        del cls.ids[j]
        if j < CLASS_WINDOW:
            cls.window = None
            touched.removed = True
        if j == 0:
            self._timeline_stale = True
        if not cls.ids:
            self._drop_class(cls)
        elif rec.when == cls.when:
            cls.when = min(self._by_id[i].when for i in cls.ids if i != identity)
            self._timeline_stale = True
        quantity = rec.signature[0]
        if quantity is not None:
            del self._values[bisect_left(self._values, quantity[1])]
            del self._quantity_ids[bisect_left(self._quantity_ids, identity)]
        if proto.language:
            self._languages.discard(proto.language)
        if proto.source:
            self._sources.discard(proto.source)
        for doc_id in proto.also_in:
            self._docs.discard(doc_id)
        self._docs.discard(rec.doc_id)
        if proto.language == "en":
            del self._english[bisect_left(self._english, identity)]
        copies = self._copies[rec.copy_key]
        copies.remove(identity)
        if not copies:
            del self._copies[rec.copy_key]
        del self._by_id[identity]
        i = bisect_left(self._ids, identity)
        del self._ids[i], self.group.claims[i]

    def _set_also_in(self, rec: _Member, doc_ids: list[str]) -> None:
        for doc_id in doc_ids:
            self._docs.add(doc_id)
        for doc_id in rec.proto.also_in:
            self._docs.discard(doc_id)
        del rec.proto.also_in[:]
        rec.proto.also_in.extend(doc_ids)

    def _drop_class(self, cls: _ValueClass) -> None:
        for pair in cls.pairs.values():
            self._unlist(pair)
            other = pair.b if pair.a is cls else pair.a
            del other.pairs[cls.serial]
        cls.pairs.clear()
        del self._classes[cls.signature]
        if cls.signature[0] is not None:
            del self._lowers[bisect_left(self._lowers, cls.lower)]
            del self._uppers[bisect_left(self._uppers, cls.upper)]
        self._timeline_stale = True

    def _window(self, cls: _ValueClass) -> list[_Member]:
        if cls.window is None:
            by_id = self._by_id
            cls.window = [m for m in (by_id[i] for i in cls.ids[:CLASS_WINDOW]) if _can_dispute(m)]
        return cls.window

    def _refresh(self) -> None:
        """Bring the pairs of the classes this merge changed, and the fields derived from the members,
        up to date."""
        touched, self._touched = self._touched, {}
        alive = [t for t in touched.values() if t.cls.ids]
        judged: set[int] = set()
        for t in alive:
            if t.created or self._judged_alike(t):
                continue
            for pair in list(t.cls.pairs.values()):
                if id(pair) in judged:
                    continue
                judged.add(id(pair))
                other = pair.b if pair.a is t.cls else pair.a
                self._rejudge(pair, None if other.serial in touched else t)
        created = [t.cls for t in alive if t.created]
        for cls in created:
            for other in list(self._classes.values()):
                if other is cls or (other.serial in touched and touched[other.serial].created
                                    and other.serial < cls.serial):
                    continue  # the same class, or a class created by this merge that met this one already
                a, b = (cls, other) if cls.ids[0] < other.ids[0] else (other, cls)
                why = _signatures_conflict(a.signature, b.signature, self.tolerance, self.group.predicate)
                if why:
                    pair = _Pair(a, b, why)
                    a.pairs[b.serial] = b.pairs[a.serial] = pair
                    self._rejudge(pair, None)
        self._summarize()

    def _rejudge(self, pair: _Pair, touched: _Touched | None) -> None:
        """Judge a pair again after its classes changed: in full, or with `touched`, the one class of the
        two that changed, only by the pairs of members new among its first CLASS_WINDOW."""
        a, b = pair.a, pair.b
        if b.ids[0] < a.ids[0]:
            a, b = pair.a, pair.b = b, a
            pair.why = _signatures_conflict(a.signature, b.signature, self.tolerance, self.group.predicate)
        predicate = self.group.predicate
        self._unlist(pair)
        if predicate in _WHOLE_CLASS:
            by_id = self._by_id
            found = _two_documents(map(by_id.__getitem__, a.ids), map(by_id.__getitem__, b.ids))
        else:
            low, high = (a, b) if a.lower < b.lower else (b, a)
            lw, hw = self._window(low), self._window(high)
            cumulative = predicate in CUMULATIVE
            if touched is None or touched.removed or pair.low is not low:
                hit = _time_hit(lw, hw, cumulative)
                pair.hit = None if hit is None else (lw[hit[0]], hw[hit[1]])
            else:
                # Only members were added: every pair of members that were compared before is as it was,
                # so the first hit is the earlier of the last one (if still compared) and the first hit
                # among the pairs with a new member.
                entrants = set(touched.cls.ids[:CLASS_WINDOW]) - {m.identity for m in touched.window}
                if entrants:
                    hit = _time_hit(lw, hw, cumulative, entrants)
                    if pair.hit is not None and pair.hit[0] in lw and pair.hit[1] in hw:
                        last = (lw.index(pair.hit[0]), hw.index(pair.hit[1]))
                        hit = last if hit is None or last < hit else hit
                    pair.hit = None if hit is None else (lw[hit[0]], hw[hit[1]])
            pair.low = low
            found = None if pair.hit is None else _oriented(*pair.hit, predicate)
        pair.found = None if found is None else _ordered(found)
        pair.reason = ""
        if pair.found is not None:
            pair.key = (a.ids[0], b.ids[0])
            insort(self._disputes, pair.key)
            self._pairs[pair.key] = pair

    def _unlist(self, pair: _Pair) -> None:
        if pair.key is not None:
            del self._disputes[bisect_left(self._disputes, pair.key)]
            del self._pairs[pair.key]
            pair.key = None

    def _summarize(self) -> None:
        """The range, conflict, reason and timeline from the indexes (documents, languages and sources
        are kept as members come and go)."""
        group = self.group
        group.ClearField("value_range")
        values = self._values
        if values:
            n = len(values)
            median = values[n // 2] if n % 2 else (values[n // 2 - 1] + values[n // 2]) / 2
            first = self._by_id[self._quantity_ids[0]].signature[0]
            assert first is not None
            vr = Quantity(value=median, unit=first[0], qualifier="exact" if values[0] == values[-1] else "range",
                          lower=self._lowers[0])
            if self._uppers[-1] != float("inf"):
                vr.upper = self._uppers[-1]
            group.value_range.CopyFrom(vr)
        reasons = []
        # Parts (breakdowns, increments: a key ending in "|part") of different reports count different
        # subsets of a total ("two more died", "three of the injured"): they are never in conflict.
        disputed = [] if group.key.endswith(PART_SUFFIX) else self._disputes
        for key in disputed[:3]:
            pair = self._pairs[key]
            if not pair.reason:
                assert pair.found is not None
                x, y = pair.found
                pair.reason = (f"{_who(x)} said {x.describe}, {_who(y)} said {y.describe}"
                               f"{' later' if y.when > x.when else ''}: {pair.why}")
            reasons.append(pair.reason)
        more = len(disputed) - 3
        group.conflict = bool(reasons)
        group.reason = "; ".join(reasons) + (f"; and {more} more" if more > 0 else "")
        if self._timeline_stale:
            group.timeline = self._timeline()
            self._timeline_stale = False

    def _timeline(self) -> str:
        """The group's figures in as-of order when later reports raise a count that grows (an update
        history), else ''."""
        if self.group.predicate not in CUMULATIVE:
            return ""
        classes = sorted((c.when, c.ids[0], c) for c in self._classes.values() if c.signature[0] is not None)
        # One point per figure, at its first report ("about 10,000" from AP and from Der Spiegel).
        firsts: dict[str, tuple[datetime, _ValueClass]] = {}
        for when, _, cls in classes:
            firsts.setdefault(cls.describe, (when, cls))
        points = sorted(firsts.values(), key=lambda p: p[0])
        if len(points) < 2 or points[0][0].year == 1:
            return ""
        if any(b[0] - a[0] < SIMULTANEOUS for a, b in zip(points, points[1:], strict=False)):
            return ""  # two figures for one moment: no update history
        if not all(b[1].lower >= a[1].lower for a, b in zip(points, points[1:], strict=False)):
            return ""
        parts = []
        for when, cls in points[:TIMELINE_LENGTH]:
            first = self._by_id[cls.ids[0]].proto
            parts.append(f"{cls.describe} ({when:%Y-%m-%d}, {first.source or first.doc_id})")
        return " -> ".join(parts) + (" -> ..." if len(points) > TIMELINE_LENGTH else "")


def merge_claim(group: ClaimGroup | None, claim: Claim, doc: Document, tolerance: float) -> ClaimGroup:
    """`group` with `claim` of `doc` merged in (a new group when None); idempotent.

    The input group is not modified. `updated_at` changes only when the group does. This indexes the
    whole group for one claim: a store that merges many keeps an `IndexedGroup` per key instead.
    """
    indexed = IndexedGroup(tolerance, group)
    indexed.merge(claim, doc)
    return indexed.group
