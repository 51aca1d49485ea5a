"""How every claimstream process logs: one handler on stderr, every line naming the service (or
command) that wrote it, as text or as JSON lines (`log_format`).

Faust's own lines go through the same handler: the runner tells Faust's worker to leave the
root logger as it is (`override_logging=False`) instead of installing its own format.
"""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime
from typing import IO

from claimstream.core.text import printable

#: Loggers that say too much below WARNING unless log_level is debug (the Kafka clients log every connection).
NOISY_LOGGERS = ("kafka", "aiokafka")

# A lone surrogate (an undecodable byte under surrogateescape) cannot be encoded, so no stream could
# write it and no JSON parser is obliged to accept it.
_SURROGATE = re.compile("[\ud800-\udfff]")


def _escape_surrogates(text: str) -> str:
    """`text` with each lone surrogate written out as `\\udcff`, as Python's stderr shows it."""
    return _SURROGATE.sub(lambda match: f"\\u{ord(match.group()):04x}", text)


class TextFormatter(logging.Formatter):
    """`2026-12-02 05:46:09,716 INFO langid claimstream.runtime.worker: message`.

    Every further line of a record (a traceback, a message with newlines) starts with `langid | `,
    so that no line is left without its service; control characters are shown escaped.
    """

    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        lines = record.getMessage().split("\n")
        if record.exc_info:
            lines += self.formatException(record.exc_info).split("\n")
        if record.stack_info:
            lines += self.formatStack(record.stack_info).split("\n")
        first, *rest = (printable(_escape_surrogates(line)) for line in lines)
        head = f"{self.formatTime(record)} {record.levelname} {self.service} {record.name}: {first}"
        return "\n".join([head, *(f"{self.service} | {line}" for line in rest)])


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time (ISO 8601, UTC), level, service, logger, message, and
    exc_info (the traceback) when the record carries an exception. Non-ASCII text stays readable."""

    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        time = datetime.fromtimestamp(record.created, tz=UTC).isoformat(timespec="milliseconds")
        entry = {
            "time": time.replace("+00:00", "Z"),
            "level": record.levelname,
            "service": self.service,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exc_info"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack_info"] = self.formatStack(record.stack_info)
        return json.dumps({key: _escape_surrogates(value) for key, value in entry.items()}, ensure_ascii=False)


FORMATTERS: dict[str, type[TextFormatter] | type[JsonFormatter]] = {"text": TextFormatter, "json": JsonFormatter}


def configure_logging(service: str, level: str, log_format: str, stream: IO[str] | None = None) -> logging.Handler:
    """Send this process's log records, Python warnings included, to `stream` (default: stderr) as
    `log_format` lines (text or json) naming `service`; replaces whatever handlers the root logger had.

    `level` is a log_level setting (debug, info, warning, error). Returns the handler.
    """
    handler = logging.StreamHandler(stream)
    handler.setFormatter(FORMATTERS[log_format](service))
    logging.basicConfig(level=level.upper(), handlers=[handler], force=True)
    for name in NOISY_LOGGERS:
        logging.getLogger(name).setLevel(logging.NOTSET if level == "debug" else logging.WARNING)
    logging.captureWarnings(True)
    return handler
