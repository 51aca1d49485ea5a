"""Run the whole pipeline locally: the embedded broker (unless a bootstrap is set) and one
process per service, as containers would. Used by `claimstream up`, `claimstream demo`
and the end-to-end tests.

`LocalPipeline.supervise()` (what `claimstream up` calls twice a second) restarts a
service that exited without being asked to, with exponential backoff, and leaves the
broker and the other services running. The children die with the launcher, even when it
is SIGKILLed: on Linux each service gets SIGTERM from the kernel when the launcher's
thread that started it ends (PR_SET_PDEATHSIG, which the service asks for itself at start:
`runtime/lifetime.py`), and a small guardian process that
watches the launcher through a pipe stops the services and then the broker (SIGTERM,
SIGKILL after a grace period) when that pipe closes without a goodbye.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import IO

from claimstream.core.settings import ENV_PREFIX, SERVICE_PORTS, Settings
from claimstream.kafka.clients import ensure_topics
from claimstream.local.broker import EmbeddedBroker, free_port, port_in_use
from claimstream.runtime.lifetime import die_with_parent_env

log = logging.getLogger(__name__)

#: Restart delays of `LocalPipeline.supervise`: the first after RESTART_INITIAL s, doubling with
#: every exit in a row up to RESTART_MAX s; a run that lasted RESTART_RESET_AFTER s starts over.
RESTART_INITIAL = 1.0
RESTART_MAX = 30.0
RESTART_RESET_AFTER = 60.0

#: Seconds the guardian gives the services, then the broker, to exit on SIGTERM before SIGKILL.
GUARDIAN_GRACE = {0: 10.0, 1: 5.0}
STAGE_SERVICE, STAGE_BROKER = 0, 1


class LaunchError(RuntimeError):
    """A service did not start (the message carries the end of its log), or the broker died."""


@dataclass
class ServiceProcess:
    name: str
    port: int
    process: subprocess.Popen[bytes]
    log_path: Path | None
    log_file: IO[bytes] | None = field(default=None, repr=False)
    #: set when the launcher signalled it on purpose (kill), so its exit is not a failure
    stopped: bool = False
    #: when it was started (the pipeline's clock, monotonic seconds)
    started_at: float = 0.0
    #: /readyz answered since it started (set by wait_ready and supervise)
    ready: bool = False
    #: how often `supervise` restarted this worker (its name and port) so far
    restarts: int = 0
    #: exits in a row, each before the worker had stayed up `restart_reset_after` seconds
    exits_in_a_row: int = 0
    #: set by `supervise` once it saw the worker exit unasked: when its restart is due
    restart_at: float | None = None

    @property
    def pid(self) -> int:
        return self.process.pid

    def log_tail(self, lines: int = 25) -> str:
        if self.log_path is None:
            return "(log on the terminal)"
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


def service_env(settings: Settings, bootstrap: str, service: str, port: int) -> dict[str, str]:
    env = {**os.environ, **settings.to_env()}
    env[ENV_PREFIX + "BOOTSTRAP"] = bootstrap
    env[ENV_PREFIX + "METRICS_PORT"] = str(port)
    env["PYTHONUNBUFFERED"] = "1"
    return env


def describe_exit(returncode: int) -> str:
    """'exited with status 1', or 'was killed by SIGKILL (signal 9, status -9)' for a negative status."""
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = "an unknown signal"
        return f"was killed by {name} (signal {-returncode}, status {returncode})"
    return f"exited with status {returncode}"


class LocalPipeline:
    """The broker and the services as child processes; a context manager that stops them all."""

    def __init__(
        self, settings: Settings, services: Sequence[str], log_dir: Path | None = None,
        ports: dict[str, int] | None = None, replicas: int = 1, *,
        restart_initial: float = RESTART_INITIAL, restart_max: float = RESTART_MAX,
        restart_reset_after: float = RESTART_RESET_AFTER,
    ) -> None:
        self.settings = settings
        self.services = list(services)
        self.log_dir = log_dir
        self.ports = ports or {}
        #: workers per service, in one consumer group (replicas after the first take free ports)
        self.replicas = replicas
        self.restart_initial = restart_initial
        self.restart_max = restart_max
        self.restart_reset_after = restart_reset_after
        #: the clock of started_at/restart_at (tests replace it)
        self.clock: Callable[[], float] = time.monotonic
        self.broker: EmbeddedBroker | None = None
        #: the settings the services run with (`settings` on the embedded broker, once started)
        self.live = settings
        self.processes: list[ServiceProcess] = []
        self._guardian: Guardian | None = None
        self._guardian_tried = False

    @property
    def bootstrap(self) -> str:
        return self.broker.bootstrap if self.broker else self.settings.bootstrap_servers()

    def port_of(self, service: str) -> int:
        """The metrics port of the first worker of `service`.

        With `metrics_port` set, services take consecutive ports from it in stage order
        (langid on `metrics_port`, translate on +1, ...), so that one setting cannot put two
        services on one port; otherwise each takes its default (9101-9105).
        """
        if service in self.ports:
            return self.ports[service]
        if self.settings.metrics_port:
            return self.settings.metrics_port + list(SERVICE_PORTS).index(service)
        return self.settings.port_for(service)

    def taken_ports(self) -> list[str]:
        """The ports `start` would listen on that something already listens on, described."""
        s = self.settings
        wanted = [("127.0.0.1", s.broker_port, "the embedded broker")] if not s.bootstrap else []
        wanted += [(s.metrics_host, self.port_of(service), f"{service} metrics") for service in self.services]
        if "gateway" in self.services:
            wanted.append((s.grpc_host, s.grpc_port, "the gateway's gRPC"))
        return [f"{host}:{port} ({what})" for host, port, what in wanted if port and port_in_use(host, port)]

    def start(self, ready_timeout: float = 120.0) -> LocalPipeline:
        taken = self.taken_ports()
        if taken:
            raise LaunchError(
                f"already in use: {', '.join(taken)}. Is another "
                "`claimstream up` running? Stop it first; to add a worker beside it, run "
                "`claimstream serve SERVICE --join`; to run a second pipeline, pass other ports "
                "(--broker-port, --metrics-port, --grpc-port)."
            )
        guardian = self._guard()  # first, so that it watches the broker from its first second
        if not self.settings.bootstrap:
            self.broker = EmbeddedBroker(port=self.settings.broker_port).start()
            if guardian and self.broker.process:
                guardian.watch(self.broker.process.pid, STAGE_BROKER)
        # What the services get: on the embedded broker, topic creation and quick group joins.
        self.live = self.settings.on_embedded_broker(self.bootstrap) if self.broker else self.settings
        ensure_topics(self.live)  # on an external cluster only where CLAIMSTREAM_CREATE_TOPICS allows
        for service in self.services:
            self.start_service(service)
            for _ in range(self.replicas - 1):
                self.start_service(service, port=free_port(), replace=False)
        self.wait_ready(ready_timeout)
        return self

    def command(self, service: str) -> list[str]:
        """The command line of a worker of `service`."""
        return [sys.executable, "-m", "claimstream.cli", "serve", service]

    def start_service(self, service: str, port: int | None = None, replace: bool = True) -> ServiceProcess:
        """Start a worker of `service`; with `replace`, it takes the place of the previous one."""
        port = port or self.port_of(service)
        log_path = log_file = None
        if self.log_dir is not None:
            self.log_dir.mkdir(parents=True, exist_ok=True)
            log_path = self.log_dir / f"{service}-{port}.log"
            log_file = open(log_path, "ab")  # closed in stop()
        try:
            process = subprocess.Popen(
                self.command(service),
                env={**service_env(self.live, self.bootstrap, service, port), **die_with_parent_env()},
                stdout=log_file, stderr=subprocess.STDOUT if log_file else None, stdin=subprocess.DEVNULL,
            )
        except BaseException:
            if log_file:
                log_file.close()
            raise
        guardian = self._guard()
        if guardian:
            guardian.watch(process.pid, STAGE_SERVICE)
        handle = ServiceProcess(service, port, process, log_path, log_file, started_at=self.clock())
        at = len(self.processes)
        if replace:
            for i, old in enumerate(self.processes):
                if old.name == service and old.port == port:
                    at = min(at, i)
                    if guardian and old.process.poll() is not None:
                        guardian.forget(old.pid)
            self.processes = [p for p in self.processes if p.name != service or p.port != port]
        self.processes.insert(at, handle)
        return handle

    def wait_ready(self, timeout: float) -> None:
        """Wait until every service answers 200 on /readyz (it has joined its group)."""
        deadline = time.monotonic() + timeout
        waiting = {f"{p.name}:{p.port}": p for p in self.processes if not p.stopped}
        while waiting and time.monotonic() < deadline:
            for name, proc in list(waiting.items()):
                if proc.process.poll() is not None:
                    raise LaunchError(
                        f"service {name} exited with status {proc.process.returncode}:\n{proc.log_tail()}"
                    )
                if readyz(self.settings.metrics_host, proc.port):
                    proc.ready = True
                    del waiting[name]
            time.sleep(0.25)
        if waiting:
            names = ", ".join(waiting)
            tails = "\n".join(f"--- {p.name}\n{p.log_tail()}" for p in waiting.values())
            raise LaunchError(f"not ready after {timeout:.0f} s: {names}\n{tails}")

    def supervise(self) -> list[str]:
        """One round of supervision; `claimstream up` calls it every half second.

        A worker that exited without `kill` or `stop` asking is restarted on its port, after
        `restart_initial` seconds, doubling with every exit in a row up to `restart_max`; a run
        that lasted `restart_reset_after` seconds starts the delays over. A crash-looping worker
        is retried for as long as the pipeline runs, each exit logged with its status and the
        delay. The broker and the other workers keep running meanwhile. Returns the lines it
        logged (exits, restarts, ready again).

        Raises LaunchError when the embedded broker exited: it held every topic, offset and
        claim group in memory, so nothing is left to restart the services against.
        """
        events: list[str] = []

        def report(level: int, message: str) -> None:
            log.log(level, message)
            events.append(message)

        if self.broker is not None and self.broker.process is not None and self.broker.process.poll() is not None:
            broker = self.broker.process
            if self._guardian:
                self._guardian.forget(broker.pid)
            raise LaunchError(
                f"the embedded broker (pid {broker.pid}) {describe_exit(broker.returncode)}; every topic, offset "
                f"and claim group it held in memory is lost, so the pipeline stops:\n{self.broker.log_tail()}"
            )
        for proc in list(self.processes):
            returncode = proc.process.poll()
            now = self.clock()
            if returncode is None:
                if not proc.ready and readyz(self.settings.metrics_host, proc.port, timeout=0.2):
                    proc.ready = True
                    if proc.restarts:
                        report(logging.INFO, f"{proc.name} (pid {proc.pid}, port {proc.port}) is ready again "
                                             f"after restart {proc.restarts}")
                continue
            if proc.stopped:
                continue
            if proc.restart_at is None:
                if self._guardian:
                    self._guardian.forget(proc.pid)
                up_for = now - proc.started_at
                if up_for >= self.restart_reset_after:
                    proc.exits_in_a_row = 0
                delay = min(self.restart_initial * 2 ** proc.exits_in_a_row, self.restart_max)
                proc.exits_in_a_row += 1
                proc.restart_at = now + delay
                in_a_row = f", exit {proc.exits_in_a_row} in a row" if proc.exits_in_a_row > 1 else ""
                where = f"; log {proc.log_path}" if proc.log_path else ""
                report(logging.WARNING,
                       f"{proc.name} (pid {proc.pid}, port {proc.port}) {describe_exit(returncode)} after "
                       f"{up_for:.1f} s up; restarting it in {delay:g} s (restart {proc.restarts + 1}"
                       f"{in_a_row}){where}")
            elif now >= proc.restart_at:
                try:
                    new = self._respawn(proc)
                except OSError as exc:
                    delay = min(self.restart_initial * 2 ** proc.exits_in_a_row, self.restart_max)
                    proc.exits_in_a_row += 1
                    proc.restart_at = now + delay
                    report(logging.ERROR, f"could not start {proc.name} on port {proc.port} ({exc}); "
                                          f"trying again in {delay:g} s")
                    continue
                report(logging.WARNING, f"restarted {proc.name} on port {proc.port}: pid {new.pid} "
                                        f"(restart {new.restarts})")
        return events

    def _respawn(self, old: ServiceProcess) -> ServiceProcess:
        """A new worker in the place of `old` (same service and port), its restart history carried over."""
        new = self.start_service(old.name, port=old.port, replace=True)
        if old.log_file:
            old.log_file.close()
        new.restarts = old.restarts + 1
        new.exits_in_a_row = old.exits_in_a_row
        return new

    def kill(self, service: str, sig: int = signal.SIGKILL, port: int | None = None) -> None:
        """Signal every worker of `service` (or only the one on `port`) and wait for it to exit."""
        for proc in self.processes:
            if proc.name == service and (port is None or proc.port == port) and proc.process.poll() is None:
                proc.stopped = True
                proc.process.send_signal(sig)
                proc.process.wait(30)
                if self._guardian:
                    self._guardian.forget(proc.pid)

    def stop(self) -> None:
        for proc in self.processes:
            proc.stopped = True
            if proc.process.poll() is None:
                proc.process.send_signal(signal.SIGTERM)
        for proc in self.processes:
            try:
                proc.process.wait(30)
            except subprocess.TimeoutExpired:
                proc.process.kill()
                proc.process.wait(10)
            if self._guardian:
                self._guardian.forget(proc.pid)
            if proc.log_file:
                proc.log_file.close()
        if self.broker:
            self.broker.stop()
            if self._guardian and self.broker.process and self.broker.process.poll() is not None:
                self._guardian.forget(self.broker.process.pid)
        if self._guardian:
            self._guardian.close()
        self._guardian, self._guardian_tried = None, False

    def _guard(self) -> Guardian | None:
        """The guardian of this run, started once (a new one would not know the children so far)."""
        if self._guardian is None and not self._guardian_tried:
            self._guardian_tried = True
            self._guardian = Guardian.start()
        return self._guardian

    def __enter__(self) -> LocalPipeline:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def stop_process(process: subprocess.Popen[bytes], sig: int = signal.SIGTERM, grace: float = 30.0) -> None:
    """Signal `process` if it still runs and wait `grace` seconds for it; then kill it."""
    if process.poll() is not None:
        return
    process.send_signal(sig)
    try:
        process.wait(grace)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(10)


def readyz(host: str, port: int, timeout: float = 1.0) -> bool:
    try:
        with urllib.request.urlopen(f"http://{host}:{port}/readyz", timeout=timeout) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError, ValueError):
        return False


# --------------------------------------------------------------------------- dying with the launcher


class Guardian:
    """A process that stops the launcher's children when the launcher dies, however it dies.

    The launcher holds the write end of the guardian's stdin and tells it each child's pid
    (`watch`) and each child that is gone (`forget`); `close` says goodbye. When the pipe
    closes without a goodbye (the launcher died, SIGKILL included), the guardian sends
    SIGTERM to the services, SIGKILL to those left after a grace period, then the same to
    the broker. It runs in its own session, so Ctrl-C in the terminal does not reach it, and
    it checks each pid's start time (Linux) so that it never signals a reused pid.
    """

    def __init__(self, process: subprocess.Popen[bytes]) -> None:
        self.process = process

    @classmethod
    def start(cls) -> Guardian | None:
        try:
            process = subprocess.Popen(
                [sys.executable, "-c", "from claimstream.local.launcher import guardian_main; guardian_main()",
                 str(os.getpid())],
                stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, bufsize=0, start_new_session=True,
            )
        except OSError as exc:
            log.warning("no guardian (%s): the services may outlive a launcher that is killed", exc)
            return None
        return cls(process)

    def _send(self, line: str) -> None:
        if self.process.stdin is None:
            return
        try:
            self.process.stdin.write(line.encode("ascii") + b"\n")
        except OSError:
            log.warning("the guardian exited: the services may outlive a launcher that is killed")
            self._detach()

    def watch(self, pid: int, stage: int) -> None:
        self._send(f"watch {pid} {stage}")

    def forget(self, pid: int) -> None:
        self._send(f"forget {pid}")

    def close(self) -> None:
        """Goodbye: the launcher stopped its children itself."""
        self._send("exit")
        self._detach()
        try:
            self.process.wait(5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)

    def _detach(self) -> None:
        if self.process.stdin is not None:
            try:
                self.process.stdin.close()
            except OSError:
                pass
            self.process.stdin = None


def _start_time(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (Linux), None where unknown."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            fields = stat.read().rsplit(b")", 1)[1].split()
        return fields[19].decode()  # field 22 of stat(5); fields[0] is field 3
    except (OSError, IndexError):
        return None


def _running(pid: int, started: str | None) -> bool:
    """`pid` is still the process that was watched and has not exited (a zombie has)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return False  # another user's process: the pid was reused
    if started is not None and _start_time(pid) != started:
        return False
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            return stat.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except (OSError, IndexError):
        return True


def _signal(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except OSError:
        pass


def guardian_main(argv: Sequence[str] | None = None) -> int:
    """The guardian process (see Guardian): `python -c '...guardian_main()' LAUNCHER_PID`."""
    args = list(sys.argv[1:] if argv is None else argv)
    launcher = args[0] if args else "?"
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    watched: dict[int, tuple[int, str | None]] = {}
    for line in sys.stdin.buffer:
        parts = line.decode("ascii", "replace").split()
        if parts[:1] == ["exit"]:
            return 0
        try:
            if parts[0] == "watch":
                watched[int(parts[1])] = (int(parts[2]), _start_time(int(parts[1])))
            elif parts[0] == "forget":
                watched.pop(int(parts[1]), None)
        except (IndexError, ValueError):
            continue
    left = {pid: info for pid, info in watched.items() if _running(pid, info[1])}
    if not left:
        return 0
    print(f"claimstream: the launcher (pid {launcher}) is gone; stopping the {len(left)} process(es) it "
          f"started: {', '.join(map(str, sorted(left)))}", file=sys.stderr, flush=True)
    for stage in sorted({stage for stage, _ in left.values()}):
        pids = {pid: started for pid, (s, started) in left.items() if s == stage}
        for pid in pids:
            _signal(pid, signal.SIGCONT)  # a stopped process cannot act on SIGTERM
            _signal(pid, signal.SIGTERM)
        deadline = time.monotonic() + GUARDIAN_GRACE.get(stage, 5.0)
        while time.monotonic() < deadline and any(_running(pid, started) for pid, started in pids.items()):
            time.sleep(0.05)
        for pid, started in pids.items():
            if _running(pid, started):
                _signal(pid, signal.SIGKILL)
    return 0
