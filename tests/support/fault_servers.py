"""AWS-shaped HTTP endpoints on 127.0.0.1 that misbehave on purpose, for fault tests through real sockets.

A ``FaultServer`` stands in for one JSON-protocol service (DynamoDB: awsJson1_0, Secrets Manager: awsJson1_1).
Each request it receives takes the next action of its script, then the default action: answer with an AWS error
(``{"__type": ..., "message": ...}``, the right status and ``x-amzn-ErrorType``, as AWS does), answer with a raw
body (a load balancer's HTML 502), forward to an upstream (moto's server), wait before doing something else (the
delay is the fault), never answer (hold the socket until the server stops) or reset the connection (RST).

Every request is counted by operation (``X-Amz-Target``) before its action runs, so a test can bound the number
of attempts a client made. Nothing here sleeps: waits are on the server's stop event.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import socket
import struct
import threading
import uuid
import zlib
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol
from urllib.parse import urlsplit


@dataclass(frozen=True)
class WireFormat:
    """How one AWS JSON-protocol service shapes its answers."""

    content_type: str
    type_prefix: str  # DynamoDB namespaces __type ("com.amazonaws.dynamodb.v20120810#Code"); Secrets Manager not
    message_key: str
    crc32: bool  # DynamoDB signs every body with x-amz-crc32, and botocore checks it


PROTOCOLS = {
    "dynamodb": WireFormat("application/x-amz-json-1.0", "com.amazonaws.dynamodb.v20120810#", "message", True),
    "secretsmanager": WireFormat("application/x-amz-json-1.1", "", "Message", False),
}
_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "host"}


@dataclass
class Exchange:
    """One request as the fault server received it, and the means to answer it."""

    handler: BaseHTTPRequestHandler
    body: bytes
    protocol: WireFormat
    upstream: str | None
    stopping: threading.Event

    def send(self, status: int, body: bytes, headers: Sequence[tuple[str, str]]) -> None:
        self.handler.send_response(status)
        for name, value in headers:
            self.handler.send_header(name, value)
        if self.protocol.crc32:
            self.handler.send_header("x-amz-crc32", str(zlib.crc32(body) & 0xFFFFFFFF))
        self.handler.send_header("Content-Length", str(len(body)))
        self.handler.send_header("Connection", "close")
        self.handler.end_headers()
        self.handler.wfile.write(body)
        self.handler.wfile.flush()


class Action(Protocol):
    def run(self, exchange: Exchange) -> None: ...


@dataclass(frozen=True)
class AwsError:
    """An AWS JSON-protocol error answer, e.g. ``AwsError(400, "ThrottlingException")``."""

    status: int
    code: str
    message: str = "injected fault"

    def run(self, exchange: Exchange) -> None:
        proto = exchange.protocol
        body = json.dumps({"__type": f"{proto.type_prefix}{self.code}", proto.message_key: self.message}).encode()
        exchange.send(
            self.status,
            body,
            [
                ("Content-Type", proto.content_type),
                ("x-amzn-RequestId", str(uuid.uuid4())),
                ("x-amzn-ErrorType", self.code),
            ],
        )


@dataclass(frozen=True)
class RawAnswer:
    """A non-AWS answer, as a load balancer or proxy in the path would give (no ``__type``, no JSON)."""

    status: int
    body: bytes = b"<html><body><h1>Bad Gateway</h1></body></html>"
    content_type: str = "text/html"

    def run(self, exchange: Exchange) -> None:
        exchange.send(self.status, self.body, [("Content-Type", self.content_type)])


@dataclass(frozen=True)
class Forward:
    """Relay the request to the upstream endpoint (moto's server) and its answer back, unchanged."""

    def run(self, exchange: Exchange) -> None:
        if exchange.upstream is None:
            raise RuntimeError("Forward needs an upstream")
        target = urlsplit(exchange.upstream)
        connection = http.client.HTTPConnection(target.hostname or "127.0.0.1", target.port, timeout=30)
        try:
            headers = {k: v for k, v in exchange.handler.headers.items() if k.lower() not in _HOP_BY_HOP}
            connection.request(exchange.handler.command, exchange.handler.path, body=exchange.body, headers=headers)
            response = connection.getresponse()
            body = response.read()
            relayed = [(k, v) for k, v in response.getheaders() if k.lower() not in _HOP_BY_HOP | {"x-amz-crc32"}]
        finally:
            connection.close()
        exchange.send(response.status, body, relayed)


@dataclass(frozen=True)
class Delay:
    """Answer ``then`` after ``seconds`` (the slowness is the fault); give up quietly if the server stops."""

    seconds: float
    then: Action = field(default_factory=Forward)

    def run(self, exchange: Exchange) -> None:
        if not exchange.stopping.wait(self.seconds):
            self.then.run(exchange)


@dataclass(frozen=True)
class NeverAnswer:
    """Accept the request and hold the connection open, silent, until the server stops."""

    def run(self, exchange: Exchange) -> None:
        exchange.stopping.wait()


@dataclass(frozen=True)
class Reset:
    """Abort the connection after reading the request: the client sees a TCP reset, not an answer."""

    def run(self, exchange: Exchange) -> None:
        exchange.handler.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        exchange.handler.connection.close()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        operation = (self.headers.get("X-Amz-Target") or "").rpartition(".")[2]
        owner = self.server.owner
        action = owner._take(operation)
        self.close_connection = True
        exchange = Exchange(self, body, owner.protocol, owner.upstream, owner.stopping)
        with contextlib.suppress(OSError):  # the client may have given up (timed out) meanwhile: that is fine
            action.run(exchange)

    def log_message(self, format: str, *args: Any) -> None:
        return


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, owner: FaultServer) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.owner = owner


class FaultServer:
    """One misbehaving service endpoint: ``script`` actions first (one per request), then ``default``."""

    def __init__(
        self, service: str, *, script: Sequence[Action] = (), default: Action, upstream: str | None = None
    ) -> None:
        self.service = service
        self.protocol = PROTOCOLS[service]
        self.upstream = upstream
        self.stopping = threading.Event()
        self._script = list(script)
        self._default = default
        self._seen: Counter[str] = Counter()
        self._changed = threading.Condition()
        self._server = _Server(self)
        self._thread = threading.Thread(target=self._server.serve_forever, name=f"fault-{service}", daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def _take(self, operation: str) -> Action:
        with self._changed:
            self._seen[operation] += 1
            action = self._script.pop(0) if self._script else self._default
            self._changed.notify_all()
        return action

    def attempts(self, operation: str | None = None) -> int:
        with self._changed:
            return sum(self._seen.values()) if operation is None else self._seen[operation]

    def seen(self) -> dict[str, int]:
        with self._changed:
            return dict(self._seen)

    def wait_for_requests(self, count: int, timeout: float = 10.0) -> bool:
        """Block until at least ``count`` requests arrived (or ``timeout``); True when they did."""
        with self._changed:
            return self._changed.wait_for(lambda: sum(self._seen.values()) >= count, timeout=timeout)

    def start(self) -> FaultServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()  # releases NeverAnswer and Delay handlers
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)


@contextlib.contextmanager
def running_fault_server(
    service: str, *, script: Sequence[Action] = (), default: Action, upstream: str | None = None
) -> Iterator[FaultServer]:
    server = FaultServer(service, script=script, default=default, upstream=upstream).start()
    try:
        yield server
    finally:
        server.stop()
