"""The health pages every service serves on its metrics port, stage workers and the gateway alike.

- `/metrics`: the Prometheus exposition;
- `/healthz`: the process answers (`{"status": "ok", "service": ...}`), for liveness probes;
- `/readyz`: 200 once the service takes work, else 503 (`{"ready": ..., "service": ...}`), for
  readiness probes and `up`.

The stage workers serve them through Faust's web server, the gateway through a small
threaded HTTP server (`gateway/server.py`); both answer with `page`.
"""

from __future__ import annotations

import json

from claimstream.core import metrics

PATHS = ("/metrics", "/healthz", "/readyz")
_JSON = "application/json"


def page(path: str, service: str, ready: bool) -> tuple[int, bytes, str]:
    """(HTTP status, body, content type) of the health page at `path`."""
    if path == "/metrics":
        return 200, metrics.exposition(), metrics.CONTENT_TYPE
    if path == "/healthz":
        return 200, _body({"status": "ok", "service": service}), _JSON
    if path == "/readyz":
        return (200 if ready else 503), _body({"ready": ready, "service": service}), _JSON
    return 404, f"not found: try {', '.join(PATHS)}\n".encode(), "text/plain; charset=utf-8"


def _body(value: dict[str, object]) -> bytes:
    return (json.dumps(value) + "\n").encode("utf-8")
