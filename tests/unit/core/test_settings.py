"""Settings come from CLAIMSTREAM_* variables and same-named flags, documented in one README table."""

from __future__ import annotations

from pathlib import Path

import pytest
from claimstream.cli.main import build_parser
from claimstream.core.settings import Settings, SettingsError


def test_environment_then_flag_precedence():
    env = {"CLAIMSTREAM_MAX_BATCH": "64", "CLAIMSTREAM_MAX_WAIT": "0.5", "CLAIMSTREAM_TOPIC_INGEST": "in"}
    args = build_parser().parse_args(["tail", "docs.langid", "--max-batch", "8"])
    settings = Settings.load(environ=env, args=args)
    assert settings.max_batch == 8  # the flag wins
    assert settings.max_wait == 0.5 and settings.topic_ingest == "in"  # from the environment
    assert settings.partitions == 4  # the default


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"CLAIMSTREAM_MAX_BATCH": "many"}, "CLAIMSTREAM_MAX_BATCH='many' is not a valid int"),
        ({"CLAIMSTREAM_OUTPUT_ENCODING": "xml"}, "must be one of protobuf, json"),
        ({"CLAIMSTREAM_PARTITIONS": "-1"}, "must not be negative"),
    ],
)
def test_bad_values_are_named_in_the_error(env, message):
    with pytest.raises(SettingsError, match=message):
        Settings.load(environ=env)


def test_children_get_the_same_settings():
    settings = Settings(max_batch=7, session_timeout=6.0, output_encoding="json")
    assert Settings.load(environ=settings.to_env()) == settings


def test_readme_settings_table_is_current():
    readme = (Path(__file__).resolve().parents[3] / "README.md").read_text(encoding="utf-8")
    assert Settings.markdown_table() in readme, "regenerate with `claimstream settings --markdown`"


def test_the_embedded_broker_gets_quick_group_joins_unless_they_are_set() -> None:
    # A group join waits for the rebalance timeout: 30 s is for a real cluster, not the one-process broker.
    quick = Settings().on_embedded_broker("127.0.0.1:9092")
    assert (quick.session_timeout, quick.rebalance_timeout, quick.heartbeat_interval) == (6.0, 6.0, 1.0)
    assert quick.bootstrap == "127.0.0.1:9092" and quick.create_topics == "true"
    chosen = Settings(session_timeout=45.0).on_embedded_broker("127.0.0.1:9092")
    assert chosen.session_timeout == 45.0 and chosen.rebalance_timeout == 6.0
    assert Settings().session_timeout == 30.0  # an external cluster keeps the defaults
