"""`claimstream up` as a supervisor: a service that dies is restarted (the broker and its data
stay), and the services and the broker die with `up` even when `up` is SIGKILLed.

The process checks read /proc (Linux): the children of `up` and whether a pid still runs.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from claimstream.core.settings import Settings
from claimstream.local.broker import EmbeddedBroker, free_port, port_in_use
from claimstream.local.launcher import LaunchError, LocalPipeline, readyz, stop_process

from tests.conftest import ROOT, collect, stream_settings
from tests.fixtures.ingest import ingest_messages, produce

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.timeout(180),
    pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads processes from /proc (Linux)"),
]


def _stat(pid: int) -> list[bytes] | None:
    """Fields 3.. of /proc/PID/stat (state, ppid, ...), None when there is no such process."""
    try:
        return Path(f"/proc/{pid}/stat").read_bytes().rsplit(b")", 1)[1].split()
    except (OSError, IndexError):
        return None


def running(pid: int) -> bool:
    """`pid` exists and has not exited (a zombie has)."""
    fields = _stat(pid)
    return fields is not None and fields[0] != b"Z"


def children(pid: int) -> dict[int, str]:
    """The running child processes of `pid` and their command lines."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        fields = _stat(int(entry.name))
        if fields is None or fields[0] == b"Z" or int(fields[1]) != pid:
            continue
        try:
            found[int(entry.name)] = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
    return found


def child(pid: int, marker: str) -> int | None:
    """The one running child of `pid` whose command line contains `marker`."""
    pids = [p for p, cmdline in children(pid).items() if marker in cmdline]
    assert len(pids) <= 1, f"{len(pids)} children of {pid} match {marker!r}: {children(pid)}"
    return pids[0] if pids else None


@dataclass
class Up:
    """A `claimstream up --services langid` process on private ports."""

    process: subprocess.Popen[str]
    settings: Settings  # what the test's clients use (bootstrap = the embedded broker)
    broker_port: int
    metrics_port: int
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_until(self, condition: Callable[[], object], what: str, timeout: float = 90.0) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            assert self.process.poll() is None, f"up exited ({self.process.returncode}):\n{self.log()[-3000:]}"
            assert time.monotonic() < deadline, f"{what} within {timeout:.0f} s; up's log:\n{self.log()[-3000:]}"
            time.sleep(0.2)


@pytest.fixture
def up(tmp_path: Path) -> Iterator[Up]:
    settings = stream_settings(tmp_path, metrics_port=free_port())
    env = {**os.environ, **settings.to_env(), "PYTHONUNBUFFERED": "1"}
    log_path = tmp_path / "up.log"
    with open(log_path, "w") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "claimstream.cli", "up", "--broker-port", str(settings.broker_port),
             "--services", "langid"],
            stdout=log_file, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, text=True, env=env, cwd=ROOT,
        )
    running_up = Up(process, settings.replace(bootstrap=f"127.0.0.1:{settings.broker_port}"),
                    settings.broker_port, settings.metrics_port, log_path)
    try:
        running_up.wait_until(lambda: readyz("127.0.0.1", settings.metrics_port), "langid ready", timeout=120)
        yield running_up
    finally:
        stop_process(process, signal.SIGINT, grace=60)


def test_up_restarts_a_killed_service_and_the_broker_keeps_its_data(up: Up):
    broker = child(up.process.pid, "tansu")
    worker = child(up.process.pid, "serve langid")
    assert broker and worker, children(up.process.pid)
    before = ingest_messages("before-kill", 5)
    produce(up.settings, before)
    got = {r.key.decode() for r in collect(up.settings, "docs.langid", [i for i, _ in before], timeout=60)}
    assert {i for i, _ in before} <= got

    os.kill(worker, signal.SIGKILL)
    up.wait_until(lambda: child(up.process.pid, "serve langid") not in (None, worker), "a new langid worker")
    restarted = child(up.process.pid, "serve langid")
    up.wait_until(lambda: readyz("127.0.0.1", up.metrics_port), "the new langid worker ready")
    up.wait_until(lambda: f"restarted langid on port {up.metrics_port}: pid {restarted}" in up.log(),
                  "the restart logged", timeout=10)
    log = up.log()
    assert re.search(rf"langid \(pid {worker}, port {up.metrics_port}\) was killed by SIGKILL \(signal 9, "
                     rf"status -9\) after [\d.]+ s up; restarting it in 1 s \(restart 1\)", log), log[-3000:]

    after = ingest_messages("after-restart", 5)
    produce(up.settings, after)
    wanted = {i for i, _ in before + after}
    got = {r.key.decode() for r in collect(up.settings, "docs.langid", wanted, timeout=90)}
    assert wanted <= got, f"missing on docs.langid: {sorted(wanted - got)}"
    assert child(up.process.pid, "tansu") == broker, "the embedded broker was restarted (its data lost)"
    assert up.process.poll() is None

    up.process.send_signal(signal.SIGTERM)
    assert up.process.wait(60) == 0
    assert not running(restarted) and not running(broker)


def test_services_and_broker_die_with_a_sigkilled_up(up: Up):
    broker = child(up.process.pid, "tansu")
    worker = child(up.process.pid, "serve langid")
    assert broker and worker, children(up.process.pid)

    up.process.kill()
    up.process.wait(10)
    deadline = time.monotonic() + 30
    while running(worker) or running(broker) or port_in_use("127.0.0.1", up.metrics_port) \
            or port_in_use("127.0.0.1", up.broker_port):
        assert time.monotonic() < deadline, (
            f"30 s after `up` was SIGKILLed: langid running={running(worker)}, broker running={running(broker)}, "
            f"ports in use: {[p for p in (up.metrics_port, up.broker_port) if port_in_use('127.0.0.1', p)]}"
        )
        time.sleep(0.1)
    assert "the launcher (pid" in up.log() and "is gone; stopping" in up.log()


def _serve(up: Up, *args: str, log_path: Path) -> subprocess.Popen[str]:
    """`claimstream serve ARGS` with the test's settings but no bootstrap or metrics port (as a user types it)."""
    env = {**os.environ, **up.settings.to_env(), "PYTHONUNBUFFERED": "1"}
    env.pop("CLAIMSTREAM_BOOTSTRAP", None)
    env.pop("CLAIMSTREAM_METRICS_PORT", None)
    with open(log_path, "w") as log_file:
        return subprocess.Popen(
            [sys.executable, "-m", "claimstream.cli", "serve", *args, "--broker-port", str(up.broker_port)],
            stdout=log_file, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, text=True, env=env, cwd=ROOT,
        )


def _ok_count(metrics_port: int) -> float:
    import urllib.request

    with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5) as response:
        text = response.read().decode()
    found = re.search(r'^claimstream_messages_total\{[^}]*outcome="ok"[^}]*\} (\S+)$', text, re.M)
    return float(found[1]) if found else 0.0


def test_serve_join_adds_a_worker_beside_up_and_plain_serve_says_how(up: Up, tmp_path: Path):
    # Without --join, a second worker would start its own broker and take langid's metrics port:
    # it stops at once and names the flag instead of a bind traceback.
    plain = _serve(up, "langid", "--metrics-port", str(up.metrics_port), log_path=tmp_path / "plain.log")
    assert plain.wait(60) == 2
    said = (tmp_path / "plain.log").read_text()
    assert f"port {up.metrics_port} (langid metrics) is already in use" in said
    assert "claimstream serve langid --join" in said and "Traceback" not in said

    joined = _serve(up, "langid", "--join", log_path=tmp_path / "joined.log")
    try:
        found: list[str] = []

        def announced() -> bool:
            log = (tmp_path / "joined.log").read_text()
            found[:] = re.findall(r"metrics on http://127\.0\.0\.1:(\d+)/metrics", log)
            return bool(found) and readyz("127.0.0.1", int(found[0]))

        up.wait_until(announced, "the joined langid worker ready", timeout=120)
        port = int(found[0])
        assert port != up.metrics_port
        assert f"joining the pipeline on 127.0.0.1:{up.broker_port}" in (tmp_path / "joined.log").read_text()
        # Both workers share the stage's consumer group: documents keep arriving on docs.langid
        # (each once), and the joined worker takes its share of the partitions.
        docs = ingest_messages("joined", 40)
        deadline = time.monotonic() + 90
        while _ok_count(port) == 0:
            assert joined.poll() is None, (tmp_path / "joined.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "the joined worker processed nothing in 90 s"
            produce(up.settings, docs)
            time.sleep(2)
        records = collect(up.settings, "docs.langid", [i for i, _ in docs], timeout=90)
        assert {i for i, _ in docs} <= {r.key.decode() for r in records}
        assert _ok_count(up.metrics_port) > 0, "up's own worker lost every partition"
    finally:
        stop_process(joined, signal.SIGTERM, grace=30)


def test_up_refuses_a_taken_port_before_starting_anything(tmp_path: Path):
    import socket

    settings = stream_settings(tmp_path, metrics_port=free_port())
    env = {**os.environ, **settings.to_env()}
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        taken = squatter.getsockname()[1]
        for flag, port, what in (("--metrics-port", taken, "langid metrics"),
                                 ("--broker-port", taken, "the embedded broker")):
            args = ["--broker-port", str(settings.broker_port), "--metrics-port", str(settings.metrics_port)]
            args[args.index(flag) + 1] = str(port)
            done = subprocess.run([sys.executable, "-m", "claimstream.cli", "up", "--services", "langid", *args],
                                  capture_output=True, text=True, env=env, cwd=ROOT, timeout=60)
            assert done.returncode == 2, done.stderr[-2000:]
            assert f"already in use: 127.0.0.1:{port} ({what})" in done.stderr
            assert "claimstream serve SERVICE --join" in done.stderr and "Traceback" not in done.stderr
            # nothing was left behind: the other port is still free
            other = settings.broker_port if flag == "--metrics-port" else settings.metrics_port
            assert not port_in_use("127.0.0.1", other)


def test_up_metrics_port_is_a_base_so_services_never_share_one(tmp_path: Path):
    pipeline = LocalPipeline(stream_settings(tmp_path, metrics_port=9300), ["langid", "ner", "claims", "gateway"])
    assert [pipeline.port_of(s) for s in pipeline.services] == [9300, 9302, 9303, 9304]
    assert LocalPipeline(Settings(), ["langid", "gateway"]).port_of("gateway") == 9105


# --------------------------------------------------------------------------- the backoff, without Kafka
class CrashingPipeline(LocalPipeline):
    """Workers that exit at once with status 3 (or run until killed, with `hold`)."""

    hold = False

    def command(self, service: str) -> list[str]:
        code = "import time; time.sleep(600)" if self.hold else "import sys; sys.exit(3)"
        return [sys.executable, "-c", code]


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def settle(pipeline: LocalPipeline) -> None:
    for proc in pipeline.processes:
        proc.process.wait(30)


def test_a_crash_looping_service_is_retried_with_doubling_capped_delays_that_reset(tmp_path: Path):
    pipeline = CrashingPipeline(stream_settings(tmp_path, bootstrap="127.0.0.1:1"), ["langid"],
                                restart_initial=1.0, restart_max=30.0, restart_reset_after=60.0)
    clock = pipeline.clock = FakeClock()
    try:
        pipeline.start_service("langid", port=free_port())
        delays = []
        for restart in range(1, 9):
            settle(pipeline)
            (event,) = pipeline.supervise()
            assert "exited with status 3 after 0.0 s up; restarting it in" in event
            assert f"(restart {restart}" in event
            delays.append(float(re.search(r"restarting it in ([\d.]+) s", event)[1]))
            assert pipeline.supervise() == [], "restarted before its delay"
            clock.now += delays[-1]
            (event,) = pipeline.supervise()
            assert event.startswith("restarted langid") and f"(restart {restart})" in event
        assert delays == [1, 2, 4, 8, 16, 30, 30, 30]

        # A run that lasted restart_reset_after seconds starts the delays over.
        clock.now += 60
        settle(pipeline)
        (event,) = pipeline.supervise()
        assert "after 60.0 s up; restarting it in 1 s (restart 9)" in event
    finally:
        pipeline.stop()


def test_a_killed_on_purpose_service_is_not_restarted_and_a_dead_broker_stops_supervision(tmp_path: Path):
    pipeline = CrashingPipeline(stream_settings(tmp_path, bootstrap="127.0.0.1:1"), ["langid"])
    pipeline.hold = True
    try:
        pipeline.start_service("langid", port=free_port())
        pipeline.kill("langid")
        assert pipeline.supervise() == []
        pipeline.broker = EmbeddedBroker(port=free_port()).start()
        assert pipeline.supervise() == []
        assert pipeline.broker.process is not None
        pipeline.broker.process.kill()
        pipeline.broker.process.wait(10)
        with pytest.raises(LaunchError, match="embedded broker .* was killed by SIGKILL.* lost"):
            pipeline.supervise()
    finally:
        pipeline.stop()
