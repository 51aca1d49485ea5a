"""What the commands share: user errors, exit codes, the service table, decoding any topic's messages, progress bars."""

from __future__ import annotations

import base64
import importlib
import logging
import sys
from collections.abc import Sequence
from typing import Any

from claimstream.core.settings import Settings

log = logging.getLogger("claimstream")

EXIT_REJECTED = 1
EXIT_USAGE = 2

class CliError(Exception):
    """An error a user caused: printed as one line, exit status 2."""


def service_spec(name: str, settings: Settings) -> Any:
    return importlib.import_module(f"claimstream.{name}.service").spec(settings)


def decode_for_topic(
    topic: str, value: bytes, headers: Sequence[tuple[str, bytes]], settings: Settings
) -> dict[str, Any]:
    """A message from any pipeline topic as a JSON-able dict."""
    from claimstream.core.schema import Claim, ClaimGroup, document_to_dict, parse_message
    from claimstream.kafka.deadletters import split_headers

    if topic.endswith(settings.dlq_suffix):
        record: dict[str, Any] = dict(split_headers(headers)[0])
        try:
            record["value"] = value.decode("utf-8")
        except UnicodeDecodeError:
            record["value_base64"] = base64.b64encode(value).decode("ascii")
        return record
    if topic in (settings.topic_groups, settings.topic_claims):
        parsed: Claim | ClaimGroup | None = (
            parse_message(ClaimGroup, value) if topic == settings.topic_groups else parse_message(Claim, value)
        )
        return document_to_dict(parsed) if parsed is not None else {"undecodable": "invalid_protobuf"}
    from claimstream.core.schema import Document, decode_document

    doc = decode_document(value)
    if isinstance(doc, Document):
        return document_to_dict(doc)
    return {"undecodable": doc.reason, "detail": doc.detail}


def progress_bar(total: int | None, desc: str) -> Any:
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="doc", file=sys.stderr, disable=None, dynamic_ncols=True)
