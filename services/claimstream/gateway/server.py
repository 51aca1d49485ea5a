"""The gateway's server: gRPC (the `servicer.Gateway` methods, health checking, reflection, TLS) and
the health pages over HTTP; `serve_gateway` is `claimstream serve gateway`."""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from concurrent import futures
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from kafka import KafkaProducer

from claimstream.core.schema import Document
from claimstream.core.settings import Settings, SettingsError
from claimstream.gateway.rpc_metrics import RpcMetrics
from claimstream.gateway.servicer import SERVICE_NAME, Gateway, hard_receive_limit, server_deadline
from claimstream.runtime import health as health_pages
from claimstream.runtime.pipeline import Pipeline
from claimstream.v1.gateway_pb2 import IngestSummary, WatchEvent

log = logging.getLogger(__name__)


def _method_handlers(gateway: Gateway) -> dict[str, grpc.RpcMethodHandler]:
    # request_deserializer left out: the methods receive the raw bytes (see the module docstring).
    return {
        "Ingest": grpc.stream_unary_rpc_method_handler(
            gateway.Ingest, response_serializer=IngestSummary.SerializeToString
        ),
        "Enrich": grpc.unary_unary_rpc_method_handler(
            gateway.Enrich, response_serializer=Document.SerializeToString
        ),
        "Watch": grpc.unary_stream_rpc_method_handler(
            gateway.Watch, response_serializer=WatchEvent.SerializeToString
        ),
    }


def _server_credentials(settings: Settings) -> grpc.ServerCredentials:
    """TLS credentials from CLAIMSTREAM_GRPC_TLS_CERTFILE and _KEYFILE (both required)."""
    paths = {"CLAIMSTREAM_GRPC_TLS_CERTFILE": settings.grpc_tls_certfile,
             "CLAIMSTREAM_GRPC_TLS_KEYFILE": settings.grpc_tls_keyfile}
    missing = [name for name, path in paths.items() if not path]
    if missing:
        raise SettingsError(f"gRPC TLS needs both certificate and key: set {', '.join(missing)}")
    try:
        chain = Path(settings.grpc_tls_certfile).read_bytes()
        key = Path(settings.grpc_tls_keyfile).read_bytes()
    except OSError as exc:
        raise SettingsError(f"cannot read the gRPC TLS files: {exc}") from exc
    return grpc.ssl_server_credentials([(key, chain)])


def start_gateway(
    settings: Settings,
    pipeline: Pipeline | None = None,
    producer_factory: Callable[[Settings], KafkaProducer] | None = None,
) -> tuple[grpc.Server, int]:
    """Start the gateway on `grpc_host:grpc_port` (port 0: any free port); return the server and its port.

    Without a `pipeline`, Enrich loads one on its first call. The Kafka producer
    (from `producer_factory`) connects on the first Ingest. Stop it with
    `server.stop(grace)`; that also closes the producer. Settings the gateway
    cannot work with (worker and stream limits, size caps) raise SettingsError.
    """
    gateway = Gateway(settings, pipeline, producer_factory)
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=settings.grpc_max_workers,
                                   thread_name_prefix="gateway"),
        options=[
            ("grpc.max_receive_message_length", hard_receive_limit(settings)),
            ("grpc.max_send_message_length", settings.grpc_max_message_bytes),
        ],
        interceptors=[RpcMetrics()],
    )
    handlers = _method_handlers(gateway)
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE_NAME, handlers),))
    server.add_registered_method_handlers(SERVICE_NAME, handlers)

    health_servicer = health.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    reflection.enable_server_reflection((SERVICE_NAME, health.SERVICE_NAME, reflection.SERVICE_NAME), server)

    address = f"{settings.grpc_host}:{settings.grpc_port}"
    try:
        if settings.grpc_tls_certfile or settings.grpc_tls_keyfile:
            port = server.add_secure_port(address, _server_credentials(settings))
        else:
            port = server.add_insecure_port(address)
    except RuntimeError as exc:
        raise RuntimeError(
            f"the gRPC gateway cannot listen on {address}: {exc}; set CLAIMSTREAM_GRPC_PORT"
        ) from exc
    server.start()
    for name in ("", SERVICE_NAME):
        health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)

    def close_when_stopped() -> None:
        server.wait_for_termination()
        health_servicer.enter_graceful_shutdown()
        gateway.close()

    threading.Thread(target=close_when_stopped, name="gateway-closer", daemon=True).start()
    tls = "TLS" if settings.grpc_tls_certfile else "plaintext"
    log.info("gRPC gateway listening on %s:%d (%s)", settings.grpc_host, port, tls)
    return server, port


class _HealthPages(BaseHTTPRequestHandler):
    """`/metrics`, `/healthz` (the process answers) and `/readyz` (the gateway takes calls): `runtime.health`."""

    ready: Callable[[], bool] = staticmethod(lambda: False)

    def do_GET(self) -> None:
        self._answer(*health_pages.page(self.path, "gateway", self.ready()))

    def _answer(self, status: int, body: bytes, content_type: str) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            # The prober gave up first (`up` waits 0.2 s while the gateway loads its models):
            # nobody is left to answer, which is not an error worth a traceback.
            self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:  # probes every few seconds: not worth a log line
        pass


def start_health_server(settings: Settings, ready: Callable[[], bool]) -> ThreadingHTTPServer:
    """Serve /metrics, /healthz and /readyz on `metrics_host:port_for("gateway")` in a daemon thread."""
    handler = type("GatewayHealthPages", (_HealthPages,), {"ready": staticmethod(ready)})
    address = (settings.metrics_host, settings.port_for("gateway"))
    try:
        httpd = ThreadingHTTPServer(address, handler)
    except OSError as exc:
        raise RuntimeError(
            f"the gateway cannot serve metrics on {address[0]}:{address[1]}: {exc}; "
            "set CLAIMSTREAM_METRICS_PORT"
        ) from exc
    threading.Thread(target=httpd.serve_forever, name="gateway-metrics", daemon=True).start()
    return httpd


def serve_gateway(settings: Settings) -> None:
    """Run the gateway until SIGINT/SIGTERM (or until the server stops): `claimstream serve gateway`.

    The pipeline is loaded before the gateway takes calls, so `/readyz` turns
    ready only once Enrich can answer; a model that cannot load stops it here.
    """
    ready = threading.Event()
    httpd = start_health_server(settings, ready.is_set)
    try:
        pipeline = Pipeline.load(settings, progress=lambda stage: log.info("gateway: loading %s", stage))
        server, _port = start_gateway(settings, pipeline)
        ready.set()

        def stop(signum: int, _frame: Any) -> None:
            log.info("gateway: signal %d, draining calls", signum)
            ready.clear()
            server.stop(grace=server_deadline(settings))

        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, stop)
            signal.signal(signal.SIGINT, stop)
        server.wait_for_termination()
        pipeline.close()
    finally:
        httpd.shutdown()
        httpd.server_close()
