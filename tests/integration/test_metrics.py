"""What a scrape of a running service shows: the process and platform collectors beside the claimstream
metrics, and a `service` label on every claimstream series."""

from __future__ import annotations

import json
import urllib.request

import pytest
from claimstream.core.schema import Document, Language, encode_document
from claimstream.local.broker import free_port
from claimstream.local.launcher import LocalPipeline
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import collect, stream_settings
from tests.integration.test_stages_stream import produce

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]


def scrape(host: str, port: int) -> dict[str, list]:
    with urllib.request.urlopen(f"http://{host}:{port}/metrics", timeout=10) as response:
        text = response.read().decode()
    return {family.name: family.samples for family in text_string_to_metric_families(text)}


def assert_process_metrics(families: dict[str, list]) -> None:
    [rss] = families["process_resident_memory_bytes"]
    assert rss.value > 10 * 1024 * 1024  # a Python process with its libraries loaded
    assert families["process_cpu_seconds"][0].value > 0  # the family of process_cpu_seconds_total
    assert families["process_open_fds"][0].value > 0
    assert families["python_info"][0].labels["implementation"] == "CPython"
    assert "python_gc_objects_collected" in families


def test_a_stage_worker_exports_process_metrics_and_translations_by_service(tmp_path, tiny_onnx):
    settings = stream_settings(tmp_path, translate_models=f"hi={tiny_onnx}", translate_max_length=8)
    port = free_port()
    with LocalPipeline(settings, ["translate"], log_dir=tmp_path / "logs", ports={"translate": port}) as lp:
        live = settings.replace(bootstrap=lp.bootstrap)
        doc = Document(id="m-hi", text="असम में बाढ़ से लोग विस्थापित हुए।", language=Language(code="hi"))
        produce(live, live.topic_langid, [(doc.id, encode_document(doc, "protobuf"))])
        assert collect(live, live.topic_translated, {doc.id})
        families = scrape(settings.metrics_host, port)
    assert_process_metrics(families)
    translations = [s for s in families["claimstream_translations"] if s.name.endswith("_total")]
    assert [(s.labels, s.value) for s in translations] == [
        ({"service": "translate", "status": "OK", "source_language": "hi"}, 1.0)
    ]
    claimstream = [s for name, samples in families.items() if name.startswith("claimstream_") for s in samples]
    assert claimstream and all("service" in s.labels for s in claimstream), json.dumps(
        [s.name for s in claimstream if "service" not in s.labels])


def test_the_gateway_exports_process_metrics(tmp_path):
    from claimstream.gateway.server import start_health_server

    settings = stream_settings(tmp_path, metrics_port=free_port())
    server = start_health_server(settings, lambda: True)
    try:
        families = scrape(settings.metrics_host, settings.metrics_port)
    finally:
        server.shutdown()
    assert_process_metrics(families)


def test_claim_groups_carry_the_claims_service_label():
    from claimstream.core import metrics

    metrics.CLAIM_GROUPS.labels("true").set(2)  # as the claims worker writes it
    families = {f.name: f.samples for f in text_string_to_metric_families(metrics.exposition().decode())}
    assert {"service": "claims", "conflict": "true"} in [s.labels for s in families["claimstream_claim_groups"]]
