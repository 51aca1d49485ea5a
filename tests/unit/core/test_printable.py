"""What is printed for people never carries terminal control sequences from documents."""

from __future__ import annotations

import unicodedata

from claimstream.claims.render import render_groups
from claimstream.core.schema import ClaimGroup, ClaimGroupMember, Quantity
from claimstream.core.text import printable
from hypothesis import given
from hypothesis import strategies as st

HOSTILE = "\x1b[41mSRC\x1b[0m\x9b2J\u202edegrevni\x07"


def _driving(char: str) -> bool:
    return unicodedata.category(char) == "Cc" or 0x202A <= ord(char) <= 0x202E or 0x2066 <= ord(char) <= 0x2069


@given(st.text())
def test_printable_leaves_no_control_or_bidi_override(text: str) -> None:
    shown = printable(text)
    assert not any(_driving(c) for c in shown)
    if not any(_driving(c) for c in text):
        assert shown == text  # every script, ZWNJ and emoji included, unchanged


def test_escapes_are_visible_not_dropped() -> None:
    assert printable(HOSTILE) == "\\x1b[41mSRC\\x1b[0m\\x9b2J\\u202edegrevni\\x07"
    assert printable("کره\u200cی شمالی") == "کره\u200cی شمالی"


def test_claims_table_does_not_pass_document_escapes_to_the_terminal() -> None:
    group = ClaimGroup(key="troops_deployed|country:KP|" + HOSTILE, predicate="troops_deployed",
                       text="North Korea " + HOSTILE, conflict=True, reason="A vs " + HOSTILE)
    group.languages.append("en\x1b[2J")
    member = ClaimGroupMember(doc_id="d1", language="en", source=HOSTILE,
                              quantity=Quantity(value=10000, unit="troops", qualifier="approx"))
    member.attribution.name = HOSTILE
    group.claims.append(member)
    group.doc_ids.append("d1")
    plain = render_groups([group], color=False)
    assert "\x1b" not in plain and "\x9b" not in plain and "\u202e" not in plain
    assert "\\x1b[41mSRC" in plain  # shown, escaped
    coloured = render_groups([group], color=True)
    # Only the table's own colours remain.
    assert all(chunk.startswith(("[31m", "[1m", "[0m")) for chunk in coloured.split("\x1b")[1:])
    assert "\x1b[41m" not in coloured and "\x1b[2J" not in coloured
