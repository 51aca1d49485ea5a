"""Claim groups: merging, idempotence, value ranges and conflict rules."""

from __future__ import annotations

import itertools
import random
from datetime import UTC, datetime

from claimstream.claims.groups import merge_claim
from claimstream.claims.render import render_groups
from claimstream.claims.store import ClaimGroups
from claimstream.core.schema import Claim, ClaimGroup, Document, Quantity, TimeSpan, to_json

from benchmarks.groups import reference_merge_claim

KEY = "people_displaced|flood@country:IN||2024-07"


def _doc(doc_id: str, source: str, claims: list[Claim]) -> Document:
    doc = Document(id=doc_id, text="x" * 200, source=source)
    doc.published_at.FromDatetime(datetime(2024, 7, 5, tzinfo=UTC))
    doc.claims.extend(claims)
    return doc


def _claim(value: float, qualifier: str, lower: float | None, upper: float | None, lang: str,
           start: int = 0, key: str = KEY, predicate: str = "people_displaced", said: str = "officials") -> Claim:
    q = Quantity(value=value, unit="people", qualifier=qualifier)
    if lower is not None:
        q.lower = lower
    if upper is not None:
        q.upper = upper
    claim = Claim(key=key, predicate=predicate, quantity=q, language=lang, start=start, end=start + 50,
                  source_text="...", text="Floods in Assam (India) displaced people")
    if said:
        claim.attribution.name = said
    return claim


def test_overlapping_values_group_without_conflict() -> None:
    store = ClaimGroups(tolerance=0.10)
    store.merge_document(_doc("en-1", "Reuters", [_claim(18000, "exact", 18000, 18000, "en")]))
    changed = store.merge_document(_doc("hi-1", "Dainik", [_claim(20000, "approx", 18000, 22000, "hi")]))
    assert len(changed) == 1
    group = store[KEY]
    assert list(group.doc_ids) == ["en-1", "hi-1"]
    assert list(group.languages) == ["en", "hi"]
    assert list(group.sources) == ["Dainik", "Reuters"]
    assert (group.value_range.lower, group.value_range.upper) == (18000, 22000)
    assert not group.conflict and group.reason == ""


def test_ranges_that_cannot_both_be_true_conflict_with_a_reason() -> None:
    store = ClaimGroups(tolerance=0.10)
    store.merge_document(_doc("hi-1", "Dainik", [_claim(20000, "approx", 18000, 22000, "hi")]))
    store.merge_document(_doc("hi-2", "Amar Ujala", [_claim(35000, "more_than", 35000, None, "hi")]))
    group = store[KEY]
    assert group.conflict
    assert "Dainik" in group.reason and "Amar Ujala" in group.reason and "more than 35,000" in group.reason
    assert not group.value_range.HasField("upper")  # one member is unbounded above


def _at(doc: Document, day: int, hour: int = 9) -> Document:
    doc.published_at.FromDatetime(datetime(2024, 7, day, hour, tzinfo=UTC))
    return doc


def test_a_count_that_rises_over_days_is_an_update_with_a_timeline_not_a_conflict() -> None:
    store = ClaimGroups(tolerance=0.10)
    store.merge_document(_at(_doc("hi-1", "Dainik", [_claim(12, "exact", 12, 12, "hi")]), 5))
    store.merge_document(_at(_doc("fa-1", "IRNA", [_claim(17, "exact", 17, 17, "fa")]), 7))
    store.merge_document(_at(_doc("en-1", "Reuters", [_claim(14, "exact", 14, 14, "en")]), 6))
    group = store[KEY]
    assert not group.conflict and group.reason == ""
    assert group.timeline == "12 (2024-07-05, Dainik) -> 14 (2024-07-06, Reuters) -> 17 (2024-07-07, IRNA)"
    assert "updates: 12 (2024-07-05, Dainik)" in render_groups([group], color=False)


def test_a_documents_smaller_figure_never_disputes_another_document_but_its_largest_does() -> None:
    # en-1 (day 5): 16 dead. hi-2 (day 6): "the toll rose to 21; 6 of the dead are children" (the 6 a part
    # the cues missed, so it shares the key and the model marks it superseded): a rising toll, not 6 vs 16.
    store = ClaimGroups(tolerance=0.10)
    store.merge_document(_at(_doc("en-1", "Malabar Wire", [_claim(16, "exact", 16, 16, "en")]), 5))
    six = _claim(6, "exact", 6, 6, "hi", start=60, said="राज्य सरकार")
    six.superseded = True
    store.merge_document(_at(_doc("hi-2", "Janpath", [_claim(21, "exact", 21, 21, "hi", said="राज्य सरकार"), six]), 6))
    group = store[KEY]
    assert len(group.claims) == 3 and [m.superseded for m in group.claims].count(True) == 1
    assert not group.conflict and group.reason == ""
    # a third report's largest figure, lower than an earlier one the same day hour, is still a dispute
    store.merge_document(_at(_doc("ur-1", "Awaz", [_claim(9, "exact", 9, 9, "ur", said="پولیس")]), 6, 9))
    group = store[KEY]
    assert group.conflict and "Awaz" in group.reason and "Janpath" in group.reason
    assert "said 6" not in group.reason


def test_aid_pledged_that_grows_is_an_update_and_one_that_falls_later_a_conflict() -> None:
    key = "aid_pledged|country:CN||2025-08"

    def pledge(value: float, lang: str) -> Claim:
        claim = _claim(value, "exact", value, value, lang, key=key, predicate="aid_pledged", said="the ministry")
        claim.quantity.unit = "cny"
        return claim

    store = ClaimGroups(tolerance=0.10)
    store.merge_document(_at(_doc("zh-1", "Bashu", [pledge(100e6, "zh")]), 12))
    store.merge_document(_at(_doc("fa-1", "Asia-ye Emruz", [pledge(150e6, "fa")]), 14))
    assert not store[key].conflict and "->" in store[key].timeline
    store.merge_document(_at(_doc("en-1", "Wire", [pledge(50e6, "en")]), 15))
    assert store[key].conflict


def test_a_later_smaller_count_from_another_source_is_a_conflict_naming_both() -> None:
    store = ClaimGroups(tolerance=0.10)
    store.merge_document(_at(_doc("en-1", "Relief Wire", [_claim(35000, "more_than", 35000, None, "en",
                                                                 said="the Red Cross")]), 5))
    store.merge_document(_at(_doc("fa-1", "IRNA", [_claim(20000, "approx", 18000, 22000, "fa",
                                                          said="local officials")]), 6))
    group = store[KEY]
    assert group.conflict and group.timeline == ""
    assert group.reason.startswith("Relief Wire (en, 2024-07-05 per the Red Cross) said more than 35,000, "
                                   "IRNA (fa, 2024-07-06 per local officials) said about 20,000 later")


def test_parts_of_totals_from_different_reports_are_never_a_conflict() -> None:
    # "three more died" and, a day later, "two of the injured died": different increments, not a dispute
    part = KEY + "|part"
    store = ClaimGroups(tolerance=0.10)
    store.merge_document(_at(_doc("en-1", "Herald", [_claim(3, "exact", 3, 3, "en", key=part, said="rescuers")]), 5))
    store.merge_document(_at(_doc("en-2", "Times", [_claim(2, "exact", 2, 2, "en", key=part, said="the railway")]), 6))
    assert not store[part].conflict and store[part].reason == ""
    # the same figures as whole counts would be a later, smaller toll: a conflict
    store.merge_document(_at(_doc("en-1", "Herald", [_claim(3, "exact", 3, 3, "en", said="rescuers")]), 5))
    store.merge_document(_at(_doc("en-2", "Times", [_claim(2, "exact", 2, 2, "en", said="the railway")]), 6))
    assert store[KEY].conflict


def test_figures_nobody_vouches_for_are_never_a_conflict() -> None:
    store = ClaimGroups(tolerance=0.10)
    store.merge_document(_doc("en-1", "A", [_claim(35000, "more_than", 35000, None, "en", said="")]))
    store.merge_document(_doc("fa-1", "B", [_claim(20000, "approx", 18000, 22000, "fa")]))
    assert not store[KEY].conflict


def test_figures_of_one_linked_source_are_not_a_conflict_between_sources() -> None:
    a = _claim(35000, "more_than", 35000, None, "en")
    b = _claim(20000, "approx", 18000, 22000, "fa")
    a.attribution.id = b.attribution.id = "org:ifrc"
    store = ClaimGroups(tolerance=0.10)
    store.merge_document(_doc("en-1", "A", [a]))
    store.merge_document(_doc("fa-1", "B", [b]))
    assert not store[KEY].conflict


def test_tolerance_decides_small_gaps() -> None:
    a = _doc("a", "A", [_claim(100, "exact", 100, 100, "en")])
    b = _doc("b", "B", [_claim(105, "exact", 105, 105, "en")])
    loose, strict = ClaimGroups(tolerance=0.10), ClaimGroups(tolerance=0.01)
    for store in (loose, strict):
        store.merge_document(a)
        store.merge_document(b)
    assert not loose[KEY].conflict
    assert strict[KEY].conflict


def test_merge_is_idempotent_and_order_free() -> None:
    docs = [
        _doc("en-1", "Reuters", [_claim(18000, "exact", 18000, 18000, "en")]),
        _doc("hi-2", "Amar Ujala", [_claim(35000, "more_than", 35000, None, "hi")]),
    ]
    store = ClaimGroups()
    for doc in docs:
        store.merge_document(doc)
    first = store[KEY].SerializeToString()
    for doc in docs:  # a replay
        assert store.merge_document(doc) == []
    assert store[KEY].SerializeToString() == first
    reverse = ClaimGroups()
    for doc in reversed(docs):
        reverse.merge_document(doc)
    assert [m.doc_id for m in reverse[KEY].claims] == [m.doc_id for m in store[KEY].claims]
    assert reverse[KEY].reason == store[KEY].reason


def test_merge_claim_does_not_modify_its_input_and_counts_each_span_once() -> None:
    doc = _doc("en-1", "Reuters", [_claim(18000, "exact", 18000, 18000, "en")])
    group = merge_claim(None, doc.claims[0], doc, 0.1)
    snapshot = group.SerializeToString()
    again = merge_claim(group, doc.claims[0], doc, 0.1)
    assert group.SerializeToString() == snapshot
    assert len(again.claims) == 1
    assert again.updated_at == group.updated_at
    other_span = _claim(20000, "exact", 20000, 20000, "en", start=100)
    assert len(merge_claim(again, other_span, doc, 0.1).claims) == 2


def test_one_off_events_on_different_days_conflict() -> None:
    key = "agreement_signed|country:IN+country:IR||2024"

    def signed(day: str, lang: str) -> Claim:
        return Claim(key=key, predicate="agreement_signed", language=lang, start=0, end=40,
                     time=TimeSpan(start=day, end=day, precision="day"))

    store = ClaimGroups()
    store.merge_document(_doc("hi", "Hindustan", [signed("2024-05-13", "hi")]))
    store.merge_document(_doc("en", "Reuters", [signed("2024-05-13", "en")]))
    assert not store[key].conflict
    store.merge_document(_doc("fa", "IRNA", [signed("2024-05-14", "fa")]))
    assert store[key].conflict
    assert "2024-05-13 vs 2024-05-14" in store[key].reason or "2024-05-14 vs 2024-05-13" in \
        store[key].reason
    month = Claim(key=key, predicate="agreement_signed", language="ru", start=0, end=40,
                  time=TimeSpan(start="2024-05-01", end="2024-05-31", precision="month"))
    alone = ClaimGroups()
    alone.merge_document(_doc("hi", "Hindustan", [signed("2024-05-13", "hi")]))
    alone.merge_document(_doc("ru", "TASS", [month]))
    assert not alone[key].conflict  # "in May" is compatible with 13 May


def test_table_store_interface_round_trips_bytes() -> None:
    store = ClaimGroups()
    doc = _doc("en-1", "Reuters", [_claim(18000, "exact", 18000, 18000, "en")])
    store.merge_document(doc)
    raw = store.get(KEY)
    assert raw is not None
    other = ClaimGroups()
    other.set(KEY, raw)
    assert other[KEY] == store[KEY]
    assert store.get("missing") is None


def test_group_json_fields_and_rendering() -> None:
    store = ClaimGroups()
    store.merge_document(_doc("hi-1", "Dainik", [_claim(20000, "approx", 18000, 22000, "hi")]))
    store.merge_document(_doc("hi-2", "Amar Ujala", [_claim(35000, "more_than", 35000, None, "hi")]))
    group: ClaimGroup = store[KEY]
    text = to_json(group)
    for field in ('"key"', '"claims"', '"doc_id"', '"quantity"', '"doc_ids"', '"languages"', '"conflict"',
                  '"reason"'):
        assert field in text
    plain = render_groups(store.groups(), color=False)
    assert "CONFLICT" in plain and "\x1b[" not in plain and "Amar Ujala" in plain
    assert "\x1b[31m" in render_groups(store.groups(), color=True)
    assert render_groups(store.groups(), color=False, conflicts_only=True).count("CONFLICT") == 1


def _content_without_time(group: ClaimGroup) -> bytes:
    copy = ClaimGroup()
    copy.CopyFrom(group)
    copy.ClearField("updated_at")
    return copy.SerializeToString(deterministic=True)


def test_republished_copies_fold_into_one_member_in_any_order_and_replay_changes_nothing() -> None:
    copies = [_doc(f"wire-{n}", "Reuters", [_claim(20000, "approx", 18000, 22000, "en")]) for n in (3, 1, 2)]
    other = _doc("hi-1", "Dainik", [_claim(35000, "more_than", 35000, None, "hi")])
    results = []
    for order in itertools.permutations([*copies, other]):
        store = ClaimGroups(tolerance=0.10)
        for doc in order:
            store.merge_document(doc)
        results.append(_content_without_time(store[KEY]))
        group = store[KEY]
        # Three copies of one Reuters sentence are one member; the Hindi report is another.
        assert [(m.doc_id, list(m.also_in)) for m in group.claims] == [("hi-1", []), ("wire-1", ["wire-2", "wire-3"])]
        assert list(group.doc_ids) == ["hi-1", "wire-1", "wire-2", "wire-3"]
        assert group.conflict and "Reuters" in group.reason
        for doc in order:  # replaying any of them, folded or not, changes nothing
            assert store.merge_document(doc) == []
    assert len(set(results)) == 1


def test_the_same_sentence_from_two_sources_stays_two_members() -> None:
    store = ClaimGroups(tolerance=0.10)
    store.merge_document(_doc("a", "Reuters", [_claim(20000, "approx", 18000, 22000, "en")]))
    store.merge_document(_doc("b", "AP", [_claim(20000, "approx", 18000, 22000, "en")]))
    assert [m.doc_id for m in store[KEY].claims] == ["a", "b"]
    assert not store[KEY].conflict


def test_conflicts_of_a_large_group_are_judged_between_its_distinct_values() -> None:
    # 400 documents from 400 sources with 3 distinct values: conflicts are judged between the
    # values (18,000 and about 20,000 overlap; each against more than 35,000 does not), so the
    # reason names those two pairs once each, not once per pair of the 400 members.
    store = ClaimGroups(tolerance=0.10)
    values = [(18000, "exact", 18000, 18000), (20000, "approx", 18000, 22000), (35000, "more_than", 35000, None)]
    for n in range(400):
        store.merge_document(_doc(f"d-{n:03d}", f"S{n:03d}", [_claim(*values[n % 3], "en")]))
    group = store[KEY]
    assert len(group.claims) == 400 and len(group.doc_ids) == 400
    assert group.conflict
    assert group.reason.count("ranges do not overlap") == 2 and "; and" not in group.reason
    assert "18,000 vs more than 35,000" in group.reason and "about 20,000 vs more than 35,000" in group.reason


def test_whole_group_is_the_same_whatever_the_order_of_arrival() -> None:
    """Text, subject and object too, not only the members: they come from the headline member
    (an English one if any), never from whichever claim happened to arrive first."""
    from claimstream.core.schema import EntityRef

    def report(doc_id: str, lang: str, value: float, qualifier: str, name: str, text: str) -> Document:
        claim = _claim(value, qualifier, value, value if qualifier == "exact" else None, lang)
        claim.text = text
        claim.subject.CopyFrom(EntityRef(id="country:KP", name=name))
        return _doc(doc_id, f"src-{doc_id}", [claim])

    docs = [
        report("fa-1", "fa", 11000, "more_than", "کره شمالی", "کره شمالی بیش از ۱۱۰۰۰ نیرو اعزام کرد"),
        report("ko-1", "ko", 10000, "approx", "북한", "북한은 약 1만 명을 파병했다"),
        report("en-2", "en", 12000, "exact", "North Korea", "North Korea deployed 12,000 troops"),
        report("en-1", "en", 10000, "approx", "North Korea", "North Korea deployed about 10,000 troops"),
    ]
    seen = set()
    for order in itertools.permutations(docs):
        store = ClaimGroups(tolerance=0.10)
        for doc in order:
            store.merge_document(doc)
        group = store[KEY]
        assert (group.text, group.subject.name) == ("North Korea deployed about 10,000 troops", "North Korea")
        seen.add(_content_without_time(group))
    assert len(seen) == 1
    # Without an English report the least member (by document id) gives the headline, in any order.
    for order in itertools.permutations(docs[:2]):
        store = ClaimGroups(tolerance=0.10)
        for doc in order:
            store.merge_document(doc)
        assert store[KEY].subject.name == "کره شمالی"


def _random_documents(rng: random.Random, n: int, large: bool = False) -> list[Document]:
    """Documents of one or two claims on a few keys: repeated, rising and conflicting values, dates,
    unattributed and linked sources, republished copies (same source and sentence, another doc id)."""
    keys = [("people_killed", KEY), ("people_missing", "people_missing|x||2024"), ("deal_value", "deal_value|y||2024"),
            ("agreement_signed", "agreement_signed|z||2024")]
    values = [(18000, "exact", 18000, 18000), (20000, "approx", 18000, 22000), (35000, "more_than", 35000, None),
              (12, "exact", 12, 12), (14, "exact", 14, 14), (17, "exact", 17, 17), (105, "exact", 105, 105)]
    if large:  # classes of a hundred members and more
        keys, values = keys[:2], [values[0], values[2]]
    docs: list[Document] = []
    for n_doc in range(n):
        if docs and rng.random() < 0.25:  # a republished copy of an earlier report, maybe by its own source
            original = rng.choice(docs)
            copy = Document()
            copy.CopyFrom(original)
            copy.id = f"copy-{n_doc:03d}"
            _at(copy, rng.randrange(1, 9), rng.randrange(24))
            docs.append(copy)
            continue
        claims = []
        for _ in range(rng.choice((1, 1, 2))):
            predicate, key = rng.choice(keys)
            start = rng.randrange(3) * 60
            if predicate == "agreement_signed":
                day = rng.choice(("2024-05-13", "2024-05-13", "2024-05-14"))
                claim = Claim(key=key, predicate=predicate, language=rng.choice(("en", "hi", "fa")), start=start,
                              end=start + 40, time=TimeSpan(start=day, end=day, precision="day", surface=day))
                if rng.random() < 0.8:
                    claim.attribution.name = rng.choice(("officials", "the ministry"))
            else:
                claim = _claim(*rng.choice(values), rng.choice(("en", "hi", "fa")), start=start, key=key,
                               predicate=predicate, said=rng.choice(("officials", "the Red Cross", "")))
                claim.quantity.surface = f"{claim.quantity.value:g}"
                if rng.random() < 0.2:
                    claim.attribution.id = "org:ifrc"
                claim.superseded = rng.random() < 0.15  # its document gives a larger figure
            claim.text = f"text {rng.randrange(5)}"
            claims.append(claim)
        doc = _doc(f"d-{rng.randrange(400 if large else 40):03d}", rng.choice(("Reuters", "AP", "IRNA", "")), claims)
        docs.append(_at(doc, rng.randrange(1, 9), rng.randrange(24)) if rng.random() < 0.9 else doc)
    return docs


def test_indexed_merge_gives_the_groups_the_whole_group_merge_gave_in_any_order_with_replays() -> None:
    """The store's incremental merge against the merge before the indexes (benchmarks.groups keeps it):
    byte for byte and the same groups changed, after every document, whatever the order, with replays;
    the large trials have value classes past the 64 members a class is compared by."""
    rng = random.Random(11)
    for trial in range(64):
        docs = _random_documents(rng, 400, large=True) if trial >= 60 else _random_documents(rng, rng.randrange(5, 40))
        order = docs + [rng.choice(docs) for _ in range(rng.randrange(5))]
        rng.shuffle(order)
        tolerance = rng.choice((0.10, 0.01))
        store = ClaimGroups(tolerance=tolerance)
        reference: dict[str, ClaimGroup] = {}
        for n, doc in enumerate(order, start=1):
            changed = {g.key for g in store.merge_document(doc)}
            expected_changed = set()
            for claim in doc.claims:
                before = reference.get(claim.key)
                reference[claim.key] = after = reference_merge_claim(before, claim, doc, tolerance)
                if before is None or after.updated_at != before.updated_at:
                    expected_changed.add(claim.key)
            assert changed == expected_changed, (trial, n)
            for key in changed:
                assert _content_without_time(store[key]) == _content_without_time(reference[key]), (trial, n)
        assert {key: _content_without_time(g) for key, g in reference.items()} == \
            {key: _content_without_time(store[key]) for key in reference}


def test_merge_claim_on_a_bare_group_and_a_reloaded_store_agree_with_the_store() -> None:
    rng = random.Random(5)
    docs = _random_documents(rng, 30)
    store, reloaded = ClaimGroups(), ClaimGroups()
    groups: dict[str, ClaimGroup] = {}
    for n, doc in enumerate(docs):
        store.merge_document(doc)
        for claim in doc.claims:
            groups[claim.key] = merge_claim(groups.get(claim.key), claim, doc, 0.10)
        if n == 15:  # a store read back from its changelog goes on where the other left off
            for group in store.groups():
                reloaded.set(group.key, group.SerializeToString())
        elif n > 15:
            reloaded.merge_document(doc)
    for key, group in groups.items():
        assert _content_without_time(group) == _content_without_time(store[key]) == \
            _content_without_time(reloaded[key])
