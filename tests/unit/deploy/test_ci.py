"""CI's script stops only what it started: it never signals processes by name."""

from __future__ import annotations

import re

from tests.unit.deploy.deploy_helpers import DEPLOY

CI = DEPLOY.parent / ".ci" / "run"


def test_ci_never_stops_processes_it_did_not_start() -> None:
    script = CI.read_text()
    commands = [line.split("#", 1)[0] for line in script.splitlines()]
    by_name = [c for c in commands if re.search(r"\b(pkill|killall)\b|systemctl\s+stop|service\s+\S+\s+stop", c)]
    assert by_name == [], f".ci/run stops processes by name: {by_name}"
    # the package's daemon is kept from starting instead (Debian's policy-rc.d, exit 101)
    assert "policy-rc.d" in script and "exit 101" in script
    assert "make test" in script  # and CI runs the README's test command
