"""Run the whole pipeline locally: the embedded broker (unless a bootstrap is set) and one
process per service, as containers would. Used by `claimstream up`, `claimstream demo`
and the end-to-end tests.
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
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import IO

from claimstream.core.broker import EmbeddedBroker, free_port
from claimstream.core.kafka import ensure_topics
from claimstream.core.settings import ENV_PREFIX, Settings

log = logging.getLogger(__name__)


class LaunchError(RuntimeError):
    """A service did not start; the message carries the end of its log."""


@dataclass
class ServiceProcess:
    name: str
    port: int
    process: subprocess.Popen[bytes]
    log_path: Path | None
    log_file: IO[bytes] | None = field(default=None, repr=False)
    #: set when the launcher signalled it on purpose (kill), so its exit is not a failure
    stopped: bool = False

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


class LocalPipeline:
    """The broker and the services as child processes; a context manager that stops them all."""

    def __init__(
        self, settings: Settings, services: Sequence[str], log_dir: Path | None = None,
        ports: dict[str, int] | None = None, replicas: int = 1,
    ) -> None:
        self.settings = settings
        self.services = list(services)
        self.log_dir = log_dir
        self.ports = ports or {}
        #: workers per service, in one consumer group (replicas after the first take free ports)
        self.replicas = replicas
        self.broker: EmbeddedBroker | None = None
        self.processes: list[ServiceProcess] = []

    @property
    def bootstrap(self) -> str:
        return self.broker.bootstrap if self.broker else self.settings.bootstrap_servers()

    def start(self, ready_timeout: float = 120.0) -> LocalPipeline:
        if not self.settings.bootstrap:
            self.broker = EmbeddedBroker(port=self.settings.broker_port).start()
        ensure_topics(self.settings.replace(bootstrap=self.bootstrap))
        for service in self.services:
            self.start_service(service)
            for _ in range(self.replicas - 1):
                self.start_service(service, port=free_port(), replace=False)
        self.wait_ready(ready_timeout)
        return self

    def start_service(self, service: str, port: int | None = None, replace: bool = True) -> ServiceProcess:
        """Start a worker of `service`; with `replace`, it takes the place of the previous one."""
        port = port or self.ports.get(service) or self.settings.port_for(service)
        log_path = log_file = None
        if self.log_dir is not None:
            self.log_dir.mkdir(parents=True, exist_ok=True)
            log_path = self.log_dir / f"{service}-{port}.log"
            log_file = open(log_path, "ab")  # noqa: SIM115 - closed in stop()
        process = subprocess.Popen(
            [sys.executable, "-m", "claimstream.cli", "serve", service],
            env=service_env(self.settings, self.bootstrap, service, port),
            stdout=log_file, stderr=subprocess.STDOUT if log_file else None, stdin=subprocess.DEVNULL,
        )
        handle = ServiceProcess(service, port, process, log_path, log_file)
        if replace:
            self.processes = [p for p in self.processes if p.name != service or p.port != port]
        self.processes.append(handle)
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
                    del waiting[name]
            time.sleep(0.25)
        if waiting:
            names = ", ".join(waiting)
            tails = "\n".join(f"--- {p.name}\n{p.log_tail()}" for p in waiting.values())
            raise LaunchError(f"not ready after {timeout:.0f} s: {names}\n{tails}")

    def kill(self, service: str, sig: int = signal.SIGKILL, port: int | None = None) -> None:
        """Signal every worker of `service` (or only the one on `port`) and wait for it to exit."""
        for proc in self.processes:
            if proc.name == service and (port is None or proc.port == port) and proc.process.poll() is None:
                proc.stopped = True
                proc.process.send_signal(sig)
                proc.process.wait(30)

    def stop(self) -> None:
        for proc in self.processes:
            if proc.process.poll() is None:
                proc.process.send_signal(signal.SIGTERM)
        for proc in self.processes:
            try:
                proc.process.wait(30)
            except subprocess.TimeoutExpired:
                proc.process.kill()
                proc.process.wait(10)
            if proc.log_file:
                proc.log_file.close()
        if self.broker:
            self.broker.stop()

    def __enter__(self) -> LocalPipeline:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def readyz(host: str, port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://{host}:{port}/readyz", timeout=1) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError, ValueError):
        return False
