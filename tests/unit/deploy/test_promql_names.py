"""The PromQL name extraction the dashboard and alert tests rely on."""

from __future__ import annotations

from tests.unit.deploy.deploy_helpers import series_names


def test_series_names_skips_functions_labels_and_durations() -> None:
    expr = (
        'histogram_quantile(0.95, sum by (service, le) '
        '(rate(claimstream_stage_latency_seconds_bucket{service=~"$service", le!="10"}[$__rate_interval])))'
        ' / on (service) group_left sum(up{job="claimstream"}) > bool 1'
    )
    assert series_names(expr) == {"claimstream_stage_latency_seconds_bucket", "up"}


def test_series_names_finds_an_unknown_series() -> None:
    assert series_names("rate(claimstream_made_up_total[5m]) and absent(foo_bar)") == {
        "claimstream_made_up_total", "foo_bar",
    }
