"""Security settings: Kafka over TLS (every client), gRPC over TLS, secrets never printed.

The embedded Tansu build cannot serve TLS itself (its CLI refuses --cert with --key), so
the Kafka test puts a TLS-terminating proxy in front of it and has Tansu advertise the
proxy's address: every client below really speaks TLS to the broker address it is given.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import ssl
import subprocess
import sys
import threading
from pathlib import Path

import grpc
import pytest
from claimstream.core.schema import decode_document
from claimstream.core.settings import Settings
from claimstream.kafka.clients import ensure_topics, make_producer, security_config
from claimstream.local.broker import free_port, tansu_binary
from claimstream.local.launcher import LocalPipeline
from claimstream.runtime.worker import broker_credentials
from grpc_health.v1 import health_pb2, health_pb2_grpc

from tests.conftest import collect, stream_settings

pytestmark = [
    pytest.mark.integration, pytest.mark.timeout(240),
    pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl makes the test certificate"),
]


@pytest.fixture(scope="module")
def certificate(tmp_path_factory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
         "-days", "2", "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
        check=True, capture_output=True,
    )
    return cert, key


class TlsProxy:
    """TLS on `port`, plaintext to the broker on `upstream`."""

    def __init__(self, port: int, upstream: int, cert: Path, key: Path) -> None:
        self.port, self.upstream = port, upstream
        self.context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.context.load_cert_chain(cert, key)
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (ConnectionError, ssl.SSLError):
            pass
        finally:
            writer.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream)
        await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        server = self.loop.run_until_complete(
            asyncio.start_server(self._handle, "127.0.0.1", self.port, ssl=self.context)
        )
        self.ready.set()
        self.loop.run_forever()
        server.close()

    def __enter__(self) -> TlsProxy:
        self.thread.start()
        self.ready.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)


@pytest.fixture
def tls_broker(certificate, tmp_path):
    cert, key = certificate
    public, private = free_port(), free_port()
    broker = subprocess.Popen(
        [str(tansu_binary()), "broker", "--listener-url", f"tcp://127.0.0.1:{private}",
         "--advertised-listener-url", f"tcp://127.0.0.1:{public}", "--storage-engine", "memory://tansu/"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        with TlsProxy(public, private, cert, key):
            yield f"127.0.0.1:{public}", cert
    finally:
        broker.terminate()
        broker.wait(10)


def test_every_kafka_client_speaks_tls(tls_broker, tmp_path):
    bootstrap, cert = tls_broker
    settings = stream_settings(
        tmp_path, bootstrap=bootstrap, kafka_security_protocol="SSL", kafka_ssl_cafile=str(cert),
        kafka_sasl_password="never-printed",
    )
    ensure_topics(settings, create=True)  # kafka-python admin over TLS
    with LocalPipeline(settings, ["langid"], log_dir=tmp_path / "logs", ports={"langid": free_port()}):
        producer = make_producer(settings)  # kafka-python producer over TLS
        producer.send(settings.topic_ingest, key=b"tls-1", value=json.dumps({"id": "tls-1", "text": "Bonjour à tous, "
                      "les autorités ont annoncé la fin de l'alerte."}).encode())
        producer.flush()
        producer.close()
        # the Faust worker consumed and produced over TLS; the consumer reads over TLS
        [record] = collect(settings, settings.topic_langid, {"tls-1"})
        assert decode_document(record.value).language.code == "fr"
        log = "".join(path.read_text() for path in (tmp_path / "logs").glob("langid-*.log"))
        assert "langid" in log
    assert "never-printed" not in log


def test_plaintext_client_cannot_use_the_tls_listener(tls_broker):
    bootstrap, _ = tls_broker
    host, port = bootstrap.split(":")
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(b"\x00\x00\x00\x0a" + b"\x00" * 10)  # not a TLS ClientHello
        sock.settimeout(5)
        try:
            answer = sock.recv(100)
        except (ConnectionResetError, TimeoutError):
            answer = b""
    assert not answer.startswith(b"\x00\x00"), "the listener answered a plaintext Kafka request"


def test_sasl_settings_reach_both_client_libraries_and_the_password_is_never_printed():
    settings = Settings(
        kafka_security_protocol="SASL_SSL", kafka_sasl_mechanism="SCRAM-SHA-512", kafka_sasl_username="alice",
        kafka_sasl_password="s3cret-pw",
    )
    config = security_config(settings)
    assert config["security_protocol"] == "SASL_SSL" and config["sasl_mechanism"] == "SCRAM-SHA-512"
    assert (config["sasl_plain_username"], config["sasl_plain_password"]) == ("alice", "s3cret-pw")
    credentials = broker_credentials(settings)
    assert credentials.mechanism.value == "SCRAM-SHA-512" and credentials.protocol.value == "SASL_SSL"
    assert credentials.ssl_context is not None
    assert "s3cret-pw" not in repr(settings)
    assert settings.public()["kafka_sasl_password"] == "***"
    result = subprocess.run(
        [sys.executable, "-m", "claimstream.cli", "settings"], capture_output=True, text=True,
        env={**os.environ, **settings.to_env()}, check=True,
    )
    assert "s3cret-pw" not in result.stdout + result.stderr
    assert "CLAIMSTREAM_KAFKA_SASL_PASSWORD=***" in result.stdout


def test_grpc_gateway_serves_tls_only(certificate, tmp_path):
    from claimstream.gateway.server import start_gateway

    cert, key = certificate
    settings = Settings(grpc_port=0, grpc_tls_certfile=str(cert), grpc_tls_keyfile=str(key))
    server, port = start_gateway(settings)
    try:
        credentials = grpc.ssl_channel_credentials(root_certificates=cert.read_bytes())
        with grpc.secure_channel(f"localhost:{port}", credentials) as channel:
            reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=10)
            assert reply.status == health_pb2.HealthCheckResponse.SERVING
        with grpc.insecure_channel(f"localhost:{port}") as channel, pytest.raises(grpc.RpcError):
            health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=5)
    finally:
        server.stop(0)
