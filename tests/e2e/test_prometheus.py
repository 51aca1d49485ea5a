"""A real Prometheus (Debian's package) scraping every stage of a running pipeline.

Asserts, through Prometheus's HTTP API, that each stage's throughput and latency
series exist and are non-zero after documents went through.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import urllib.parse
import urllib.request

import pytest
import yaml
from claimstream.cli.common import service_spec
from claimstream.core.settings import STAGE_NAMES
from claimstream.local.broker import free_port
from claimstream.local.launcher import LocalPipeline

from tests.conftest import EXAMPLES, collect, stream_settings

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(420)]


def query(base: str, promql: str) -> list[dict]:
    url = f"{base}/api/v1/query?" + urllib.parse.urlencode({"query": promql})
    with urllib.request.urlopen(url, timeout=5) as response:
        body = json.load(response)
    assert body["status"] == "success", body
    return body["data"]["result"]


@pytest.mark.skipif(shutil.which("prometheus") is None, reason="Debian's prometheus package is not installed")
def test_prometheus_sees_every_stage_throughput_and_latency(tmp_path):
    from claimstream.cli.stream import send_records

    services = list(STAGE_NAMES)
    settings = stream_settings(tmp_path)
    ports = {name: free_port() for name in services}
    config = {
        "global": {"scrape_interval": "1s"},
        "scrape_configs": [{
            "job_name": "claimstream", "honor_labels": True,
            "static_configs": [{"targets": [f"127.0.0.1:{port}" for port in ports.values()]}],
        }],
    }
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    web = free_port()
    prometheus = subprocess.Popen(
        ["prometheus", f"--config.file={tmp_path / 'prometheus.yml'}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
         f"--web.listen-address=127.0.0.1:{web}"],
        stdout=subprocess.DEVNULL, stderr=open(tmp_path / "prometheus.log", "wb"),
    )
    base = f"http://127.0.0.1:{web}"
    try:
        with LocalPipeline(settings, services, log_dir=tmp_path / "logs", ports=ports) as pipeline:
            live = settings.replace(bootstrap=pipeline.bootstrap)
            sent, rejected = send_records(live, [str(EXAMPLES / "news.jsonl")], show_progress=False)
            assert sent > 20 and rejected == 0
            final = service_spec(services[-1], live).output_topic
            assert len({r.key for r in collect(live, final, sent, timeout=180)}) == sent

            deadline = time.monotonic() + 60
            throughput: dict[str, float] = {}
            latency: dict[str, float] = {}
            while time.monotonic() < deadline:
                throughput = {
                    r["metric"]["service"]: float(r["value"][1])
                    for r in query(base, 'sum by (service) (claimstream_messages_total{outcome="ok"})')
                }
                latency = {
                    r["metric"]["service"]: float(r["value"][1])
                    for r in query(base, "sum by (service) (claimstream_stage_latency_seconds_sum)")
                }
                if all(throughput.get(s, 0) >= sent for s in services) and all(latency.get(s, 0) > 0 for s in services):
                    break
                time.sleep(1)
    finally:
        prometheus.terminate()
        prometheus.wait(10)
    for service in services:
        assert throughput.get(service, 0) >= sent, (service, throughput)
        assert latency.get(service, 0) > 0, (service, latency)
