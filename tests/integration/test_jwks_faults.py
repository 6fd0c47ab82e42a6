"""The JWKS endpoint failing through the network: the broker answers 503 with Retry-After before its deadline.

Each fault is a real socket server on 127.0.0.1 (never answers, answers late, resets, drips, serves garbage
or too much); the broker is the real Lambda handler with a context whose remaining time follows the real
monotonic clock.
"""

from __future__ import annotations

import contextlib
import json
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import jwt
import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.support.broker_stack import BrokerStack

pytestmark = pytest.mark.fault

Behaviour = Callable[[socket.socket, threading.Event], None]
CONTEXT_SECONDS = 3.0  # the handler keeps 1 s back, so the JWKS gets at most 2 s


@dataclass
class RealClockContext:
    """The part of Lambda's context the handler reads; remaining time runs down with the monotonic clock."""

    seconds: float
    function_name: str = "BrokerFunction"
    memory_limit_in_mb: int = 512
    function_version: str = "$LATEST"
    invoked_function_arn: str = ""
    aws_request_id: str = "fault-test"
    log_group_name: str = ""
    log_stream_name: str = "local"
    ends_at: float = field(init=False)

    def __post_init__(self) -> None:
        self.ends_at = time.monotonic() + self.seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.ends_at - time.monotonic()) * 1000))


class FaultServer:
    """Accepts on a free loopback port and runs ``behaviour`` on each connection in its own thread."""

    def __init__(self, behaviour: Behaviour) -> None:
        self.behaviour = behaviour
        self.stop = threading.Event()
        self.accepted = threading.Event()
        self.connections = 0
        self._sock = socket.create_server(("127.0.0.1", 0))
        self._sock.settimeout(0.2)
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._sock.getsockname()[1]}/pool/.well-known/jwks.json"

    def _serve(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.connections += 1
            self.accepted.set()
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        with contextlib.suppress(OSError), conn:
            self.behaviour(conn, self.stop)

    def close(self) -> None:
        self.stop.set()
        self._sock.close()
        self._thread.join(timeout=5)


def read_request(conn: socket.socket) -> None:
    conn.settimeout(5)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(4096)
        if not chunk:
            return
        data += chunk


def respond(conn: socket.socket, body: bytes, status: str = "200 OK", content_type: str = "application/json") -> None:
    head = f"HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {len(body)}\r\n"
    conn.sendall(head.encode() + b"Connection: close\r\n\r\n" + body)


def answer(body: bytes, *, status: str = "200 OK", content_type: str = "application/json") -> Behaviour:
    def behaviour(conn: socket.socket, _: threading.Event) -> None:
        read_request(conn)
        respond(conn, body, status, content_type)

    return behaviour


def never_answer(conn: socket.socket, stop: threading.Event) -> None:
    read_request(conn)
    stop.wait(30)


def answer_after(seconds: float, body: bytes) -> Behaviour:
    def behaviour(conn: socket.socket, stop: threading.Event) -> None:
        read_request(conn)
        if not stop.wait(seconds):
            respond(conn, body)

    return behaviour


def reset(conn: socket.socket, _: threading.Event) -> None:
    read_request(conn)
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


def drip(conn: socket.socket, stop: threading.Event) -> None:
    """Headers at once, then one byte of body every 100 ms: each read is quick, the whole never ends in time."""
    read_request(conn)
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 4000\r\n\r\n")
    for _ in range(4000):
        if stop.wait(0.1):
            return
        conn.sendall(b" ")


def endless(chunked: bool) -> Behaviour:
    def behaviour(conn: socket.socket, stop: threading.Event) -> None:
        read_request(conn)
        length = "Transfer-Encoding: chunked" if chunked else f"Content-Length: {50 * 1024 * 1024}"
        conn.sendall(f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n{length}\r\n\r\n".encode())
        piece = b'{"keys": [' + b" " * 65536
        while not stop.is_set():
            conn.sendall(f"{len(piece):x}\r\n".encode() + piece + b"\r\n" if chunked else piece)

    return behaviour


@pytest.fixture
def serve(stack: BrokerStack, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[Behaviour], FaultServer]]:
    """Point the broker's COGNITO_JWKS_URL at a fault server (a fresh container each time)."""
    from token_broker import handler

    servers: list[FaultServer] = []

    def start(behaviour: Behaviour) -> FaultServer:
        server = FaultServer(behaviour)
        servers.append(server)
        monkeypatch.setenv("COGNITO_JWKS_URL", server.url)
        monkeypatch.setenv("JWKS_TIMEOUT_SECONDS", "10")  # the deadline, not the cap, must bound the fetch
        handler.reset_runtime()
        return server

    yield start
    for server in servers:
        server.close()


def invoke(event: dict[str, Any], seconds: float = CONTEXT_SECONDS) -> tuple[dict[str, Any], float, float]:
    from token_broker.handler import lambda_handler

    context = RealClockContext(seconds)
    started = time.monotonic()
    response = lambda_handler(event, context)  # type: ignore[arg-type]
    finished = time.monotonic()
    return response, finished - started, context.ends_at - finished


def assert_jwks_unavailable(response: dict[str, Any], left: float, capsys: pytest.CaptureFixture[str]) -> None:
    assert response["statusCode"] == 503, response
    assert json.loads(response["body"])["error"]["code"] == "dependency_unavailable"
    assert int(response["headers"]["Retry-After"]) > 0
    assert left > 0, "answered after the context's deadline"
    assert '"dependency":"jwks"' in capsys.readouterr().out


def moto_jwks(stack: BrokerStack) -> bytes:
    response = requests.get(f"{stack.moto_url}/{stack.pool.pool_id}/.well-known/jwks.json", timeout=10)
    response.raise_for_status()
    return response.content


@pytest.mark.parametrize(
    "make",
    [
        lambda body: never_answer,
        lambda body: answer_after(20, body),
        lambda body: reset,
        lambda body: drip,
    ],
    ids=["never-answers", "answers-after-20s", "resets", "drips"],
)
def test_a_jwks_that_does_not_answer_in_time_is_503_before_the_deadline(
    stack: BrokerStack,
    serve: Callable[[Behaviour], FaultServer],
    capsys: pytest.CaptureFixture[str],
    make: Callable[[bytes], Behaviour],
) -> None:
    token = stack.cognito_tokens("alice")["id_token"]
    server = serve(make(moto_jwks(stack)))
    capsys.readouterr()
    response, _, left = invoke(stack.bearer_event(token))
    assert server.accepted.is_set()
    assert_jwks_unavailable(response, left, capsys)


@pytest.mark.parametrize(
    "behaviour",
    [
        answer(b"\x00\xff garbage \x13"),
        answer(b"not json at all"),
        answer(b"<html><body>Service Unavailable</body></html>", content_type="text/html"),
        answer(b"[]"),
        answer(b'{"keys": "not a list"}'),
        answer(b'{"keys": []}'),
        answer(b'{"keys": [{"kty": "nonsense"}]}'),
        answer(b'{"keys": [' * 100_000),
        answer(b'{"keys": [], "x": NaN}'),
        answer(b'{"keys": []}', status="500 Internal Server Error"),
        answer(b"", status="302 Found"),
        answer(b'{"keys": []' + b" " * (200 * 1024) + b"}"),
        endless(chunked=False),
        endless(chunked=True),
    ],
    ids=[
        "binary-garbage", "not-json", "html", "json-array", "keys-not-a-list", "no-keys", "unusable-key",
        "deeply-nested", "nan", "http-500", "redirect", "too-large", "endless-with-length", "endless-chunked",
    ],
)  # fmt: skip
def test_a_jwks_serving_garbage_is_503(
    stack: BrokerStack,
    serve: Callable[[Behaviour], FaultServer],
    capsys: pytest.CaptureFixture[str],
    behaviour: Behaviour,
) -> None:
    token = stack.cognito_tokens("alice")["id_token"]
    server = serve(behaviour)
    capsys.readouterr()
    response, _, left = invoke(stack.bearer_event(token))
    assert server.accepted.is_set()
    assert_jwks_unavailable(response, left, capsys)


def test_the_configured_cap_bounds_the_fetch_when_the_deadline_is_far(
    stack: BrokerStack, serve: Callable[[Behaviour], FaultServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    from token_broker import handler

    token = stack.cognito_tokens("alice")["id_token"]
    serve(never_answer)
    monkeypatch.setenv("JWKS_TIMEOUT_SECONDS", "1")
    handler.reset_runtime()
    response, elapsed, _ = invoke(stack.bearer_event(token), seconds=30)
    assert response["statusCode"] == 503
    assert elapsed < 10  # bounded by the 1 s cap, far below the 29 s the deadline would allow


def test_a_late_but_timely_jwks_is_used(stack: BrokerStack, serve: Callable[[Behaviour], FaultServer]) -> None:
    token = stack.cognito_tokens("alice")["id_token"]
    serve(answer_after(0.3, moto_jwks(stack)))
    response, _, _ = invoke(stack.bearer_event(token), seconds=10)
    assert response["statusCode"] == 200, response


def _other_jwks() -> bytes:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key))
    return json.dumps({"keys": [{**jwk, "kid": "some-other-key", "alg": "RS256", "use": "sig"}]}).encode()


def test_unknown_kid_with_a_healthy_jwks_is_401_and_refetches_at_most_once_per_interval(
    stack: BrokerStack, serve: Callable[[Behaviour], FaultServer]
) -> None:
    token = stack.cognito_tokens("alice")["id_token"]  # kid "dummy", absent from the served set
    server = serve(answer(_other_jwks()))
    for _ in range(5):
        response, _, _ = invoke(stack.bearer_event(token), seconds=10)
        assert response["statusCode"] == 401, response
        assert json.loads(response["body"])["error"]["code"] == "unauthenticated"
    assert server.connections == 1  # the attacker's unknown kids did not make us hammer the JWKS


def test_jwks_is_fetched_once_per_container(stack: BrokerStack, serve: Callable[[Behaviour], FaultServer]) -> None:
    server = serve(answer(moto_jwks(stack)))
    for name in ("alice", "bob", "alice"):
        token = stack.cognito_tokens(name)["access_token"]
        response, _, _ = invoke(stack.bearer_event(token), seconds=10)
        assert response["statusCode"] == 200, response
    assert server.connections == 1
