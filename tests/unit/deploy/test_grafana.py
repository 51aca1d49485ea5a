"""The Grafana dashboard and its provisioning."""

from __future__ import annotations

import json
import subprocess
from typing import Any

import yaml
from claimstream.core.metrics import METRIC_NAMES

from tests.unit.deploy.deploy_helpers import DEPLOY, REPO, exported_series, series_names

GRAFANA = DEPLOY / "grafana"
DASHBOARD = json.loads((GRAFANA / "dashboards" / "claimstream.json").read_text())


def panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    found = []
    for panel in dashboard["panels"]:
        found.append(panel)
        found.extend(panel.get("panels", []))  # collapsed rows hold their panels
    return found


def queries() -> list[tuple[str, str]]:
    """(panel title, PromQL) for every panel target and templating query."""
    out = [(p["title"], t["expr"]) for p in panels(DASHBOARD) for t in p.get("targets", [])]
    for var in DASHBOARD["templating"]["list"]:
        if var["type"] == "query":
            # label_values(SERIES, LABEL): only SERIES is a query
            series = var["query"]["query"].removeprefix("label_values(").split(",")[0]
            out.append((f"variable {var['name']}", series))
    return out


def test_every_query_names_only_exported_metrics() -> None:
    allowed = exported_series()
    for title, expr in queries():
        unknown = series_names(expr) - allowed
        assert not unknown, f"panel {title!r} queries {unknown}, which the code does not export"


def test_the_dashboard_shows_every_exported_metric() -> None:
    used = set().union(*(series_names(expr) for _, expr in queries()))
    families = {name.removesuffix(s) for name in used for s in ("_bucket", "_sum", "_count") if name.endswith(s)}
    missing = set(METRIC_NAMES) - used - families
    assert not missing, f"no panel shows {missing}"


def test_latency_panel_has_p50_p95_p99() -> None:
    [latency] = [p for p in panels(DASHBOARD) if "claimstream_stage_latency_seconds_bucket" in json.dumps(p)]
    quantiles = sorted(t["expr"].split("(")[1].split(",")[0] for t in latency["targets"])
    assert quantiles == ["0.5", "0.95", "0.99"]


def test_panels_have_unique_ids_and_fit_the_grid() -> None:
    ids = [p["id"] for p in panels(DASHBOARD)]
    assert len(ids) == len(set(ids))
    for p in panels(DASHBOARD):
        assert p["gridPos"]["x"] + p["gridPos"]["w"] <= 24, p["title"]


def test_queries_are_valid_promql(promtool: str, tmp_path) -> None:
    """promtool parses each query as a recording rule (Grafana's variables replaced by values)."""
    rules = [
        {"record": f"dashboard:query_{i}",
         "expr": expr.replace("$__rate_interval", "5m").replace("$service", ".*")}
        for i, (_, expr) in enumerate(queries())
    ]
    path = tmp_path / "dashboard.rules.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    result = subprocess.run([promtool, "check", "rules", str(path)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_provisioning_matches_the_dashboard_and_compose() -> None:
    [source] = yaml.safe_load((GRAFANA / "provisioning/datasources/prometheus.yml").read_text())["datasources"]
    [datasource_var] = [v for v in DASHBOARD["templating"]["list"] if v["type"] == "datasource"]
    assert source["uid"] == datasource_var["current"]["value"] == "prometheus"
    [provider] = yaml.safe_load((GRAFANA / "provisioning/dashboards/claimstream.yml").read_text())["providers"]
    grafana = yaml.safe_load((REPO / "docker-compose.yml").read_text())["services"]["grafana"]
    assert f"./deploy/grafana/dashboards:{provider['options']['path']}:ro" in grafana["volumes"]
    assert "./deploy/grafana/provisioning:/etc/grafana/provisioning:ro" in grafana["volumes"]
