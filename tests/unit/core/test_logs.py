"""Log lines name their service, as text or as one JSON object per line, whatever the message holds."""

from __future__ import annotations

import io
import json
import logging
import re
import warnings
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest
from claimstream.core.logs import configure_logging
from claimstream.core.settings import Settings, SettingsError

TEXT_HEAD = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (?P<level>[A-Z]+) (?P<service>\S+) (?P<logger>\S+): ")
AWKWARD = 'he said "stop"\nthen left \\ café Ελλάδα 東京 \x1b[31mred\t\udcff end'


@pytest.fixture
def configured() -> Iterator[Callable[..., io.StringIO]]:
    """configure_logging onto a StringIO; the root logger, the noisy loggers and warnings restored after."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    noisy = {name: logging.getLogger(name).level for name in ("kafka", "aiokafka")}

    def configure(service: str = "langid", level: str = "info", log_format: str = "text") -> io.StringIO:
        stream = io.StringIO()
        configure_logging(service, level, log_format, stream=stream)
        return stream

    yield configure
    logging.captureWarnings(False)
    root.handlers[:] = handlers
    root.setLevel(level)
    for name, noisy_level in noisy.items():
        logging.getLogger(name).setLevel(noisy_level)


def boom() -> None:
    raise ValueError("boom")


def test_a_text_line_names_the_level_service_and_logger(configured):
    stream = configured("langid")
    logging.getLogger("claimstream.runtime.worker").info("langid: model %s on %s", "lid.176-lite", "cpu")
    line = stream.getvalue()
    assert line.endswith("\n") and line.count("\n") == 1
    match = TEXT_HEAD.match(line)
    assert match and match.groupdict() == {"level": "INFO", "service": "langid", "logger": "claimstream.runtime.worker"}
    assert line[match.end():] == "langid: model lid.176-lite on cpu\n"


def test_every_line_of_a_traceback_or_a_multiline_message_names_the_service(configured):
    stream = configured("ner")
    try:
        boom()
    except ValueError:
        logging.getLogger("faust.worker").exception("two\nlines")
    first, *rest = stream.getvalue().splitlines()
    assert TEXT_HEAD.match(first) and first.endswith(" ERROR ner faust.worker: two")
    assert rest[0] == "ner | lines" and rest[1] == "ner | Traceback (most recent call last):"
    assert rest[-1] == "ner | ValueError: boom"
    assert all(line.startswith("ner | ") for line in rest)


def test_text_shows_control_characters_and_undecodable_bytes_escaped_and_keeps_other_scripts(configured):
    stream = configured()
    logging.getLogger("claimstream").warning(AWKWARD)
    out = stream.getvalue()
    assert "\x1b" not in out and "\\x1b[31mred\\x09\\udcff end" in out
    assert 'he said "stop"' in out and "langid | then left \\ café Ελλάδα 東京" in out
    out.encode("utf-8")  # writable to any UTF-8 stream: no lone surrogate left


def test_a_json_line_is_one_object_with_time_level_service_logger_and_message(configured):
    stream = configured("translate", log_format="json")
    before = datetime.now(UTC)
    logging.getLogger("claimstream.runtime.worker").warning(AWKWARD)
    (line,) = stream.getvalue().splitlines()
    entry = json.loads(line)
    assert set(entry) == {"time", "level", "service", "logger", "message"}
    assert (entry["level"], entry["service"], entry["logger"]) == ("WARNING", "translate", "claimstream.runtime.worker")
    assert entry["time"].endswith("Z")
    stamp = datetime.fromisoformat(entry["time"].replace("Z", "+00:00"))
    assert stamp.utcoffset() == timedelta(0) and abs(stamp - before) < timedelta(seconds=5)
    # Everything but the undecodable byte comes back as it was logged; that one is shown as Python shows it.
    assert entry["message"] == AWKWARD.replace("\udcff", "\\udcff")
    assert "café Ελλάδα 東京" in line  # readable, not \u-escaped
    line.encode("utf-8")


def test_a_json_line_carries_the_traceback_of_an_exception(configured):
    stream = configured("claims", log_format="json")
    try:
        boom()
    except ValueError:
        logging.getLogger("claimstream.runtime.worker").critical("batch of %d not delivered", 3, exc_info=True)
    (line,) = stream.getvalue().splitlines()
    entry = json.loads(line)
    assert entry["level"] == "CRITICAL" and entry["message"] == "batch of 3 not delivered"
    assert entry["exc_info"].startswith("Traceback (most recent call last):")
    assert entry["exc_info"].rstrip().endswith("ValueError: boom")


def test_the_level_applies_and_the_kafka_clients_are_quiet_unless_debugging(configured):
    stream = configured(level="info")
    logging.getLogger("claimstream.runtime.worker").debug("hidden")
    logging.getLogger("aiokafka.conn").info("connecting")
    logging.getLogger("kafka.client").warning("broker gone")
    lines = stream.getvalue().splitlines()
    assert len(lines) == 1 and lines[0].endswith("langid kafka.client: broker gone")

    stream = configured(level="debug")
    logging.getLogger("claimstream.runtime.worker").debug("shown")
    logging.getLogger("aiokafka.conn").info("connecting")
    assert [line.rsplit(": ", 1)[1] for line in stream.getvalue().splitlines()] == ["shown", "connecting"]


def test_python_warnings_are_log_lines_of_the_service(configured):
    stream = configured("gateway", log_format="json")
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.warn("old option", DeprecationWarning, stacklevel=1)
    (entry,) = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert entry["service"] == "gateway" and entry["logger"] == "py.warnings" and "old option" in entry["message"]


def test_log_format_is_a_setting_with_two_choices():
    assert Settings().log_format == "text"
    assert Settings.load(environ={"CLAIMSTREAM_LOG_FORMAT": "json"}).log_format == "json"
    assert Settings.load(environ={}).public()["log_format"] == "text"
    with pytest.raises(SettingsError, match="CLAIMSTREAM_LOG_FORMAT='yaml': must be one of text, json"):
        Settings.load(environ={"CLAIMSTREAM_LOG_FORMAT": "yaml"})
