"""Rotation faults through the network, at every step that calls Tableau, and when Secrets Manager itself fails.

Tableau unreachable (a closed port), slow (a socket that accepts and never answers), answering 5xx or 401 (the
emulator's fault injection); Secrets Manager hung (a silent socket as ``AWS_ENDPOINT_URL``) or resetting the
connection on one operation (a proxy in front of moto's server). The failing step runs through the deployed
entry point with an invocation that has 6 s left (5 s of which the handler keeps as its margin). Each case
checks: bounded retries inside that deadline, a clean failure naming the dependency, AWSCURRENT untouched, no
secret or PAT in logs or exception text, and the next rotation proceeding once the dependency is healthy.
"""

from __future__ import annotations

import contextlib
import http.server
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pytest
import requests

from local_stack.rotate import STEP_ORDER, rotation_event
from secret_rotation import handler
from tableau_broker.rotation import AWSCURRENT, AWSPENDING, AWSPREVIOUS
from tests.integration.test_rotation_rest import silent_server
from tests.support import rotation_world as rotation_world
from tests.support.figures import record
from tests.support.rotation_world import (
    LAMBDA_CONTEXT,
    World,
    assert_no_secret_in,
    assert_the_next_rotation_cleans_up,
    dead_port,
    exception_text,
    rotation_logs,
    set_admin_secret,
)

world = rotation_world.world
docker_free_lambda = rotation_world.docker_free_lambda

pytestmark = pytest.mark.fault

REMAINING_SECONDS = 10.0  # the time left when the failing step starts: 5 s of budget after the 5 s margin
FAULT_STEPS = STEP_ORDER  # finishSecret checks with Tableau that it holds the pending secret before promoting
# The emulator operation whose injected fault hits each step first (after the admin sign-in).
STEP_OPERATION = {
    "createSecret": "get_app",
    "setSecret": "get_secret",
    "testSecret": "rest_signin",
    "finishSecret": "get_secret",
}


@dataclass
class ShortInvocation:
    """Lambda's context for an invocation that has ``seconds`` left from the moment it is created."""

    seconds: float
    function_name: str = LAMBDA_CONTEXT.function_name
    memory_limit_in_mb: int = 512
    function_version: str = "$LATEST"
    invoked_function_arn: str = LAMBDA_CONTEXT.invoked_function_arn
    aws_request_id: str = "fault-injection"
    log_group_name: str = LAMBDA_CONTEXT.log_group_name
    log_stream_name: str = "local"
    _ends: float = field(default=0.0, init=False)

    def __post_init__(self) -> None:
        self._ends = time.monotonic() + self.seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._ends - time.monotonic()) * 1000))


@dataclass
class Counter:
    executed: int = 0


@pytest.fixture(scope="module")
def executed() -> Iterator[Counter]:
    counter = Counter()
    yield counter
    if counter.executed:
        record("faults_rotation", faults_injected=counter.executed)


def invoke(world: World, monkeypatch: pytest.MonkeyPatch, step: str, token: str, context: object) -> None:
    for name, value in world.env.items():
        monkeypatch.setenv(name, value)
    handler.reset_runtime()
    try:
        handler.lambda_handler(rotation_event(step, world.secret_arn, token), context)  # type: ignore[arg-type]
    finally:
        world.observe()


def failure_lines(logs: str) -> list[dict[str, object]]:
    """The function's own "rotation step failed" lines (Powertools JSON)."""
    lines = [json.loads(line) for line in logs.splitlines() if line.startswith('{"level"')]
    return [line for line in lines if line["message"] == "rotation step failed"]


def restore_aws(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    """Point the function's Secrets Manager client back at moto's server (the clients are cached per process)."""
    world.env["AWS_ENDPOINT_URL"] = world.moto_url
    monkeypatch.setenv("AWS_ENDPOINT_URL", world.moto_url)
    handler.reset_runtime()


# --- Tableau faults -------------------------------------------------------------------------------------------


def _unreachable(world: World, step: str, stack: contextlib.ExitStack) -> Callable[[], None]:
    set_admin_secret(world, tableau_url=f"http://127.0.0.1:{dead_port(world)}")
    return lambda: set_admin_secret(world)


def _slow(world: World, step: str, stack: contextlib.ExitStack) -> Callable[[], None]:
    set_admin_secret(world, tableau_url=stack.enter_context(silent_server()))
    return lambda: set_admin_secret(world)


def _server_error(world: World, step: str, stack: contextlib.ExitStack) -> Callable[[], None]:
    world.state.inject_fault(STEP_OPERATION[step], "server_error", count=None)
    return world.state.clear_faults


def _unauthorized(world: World, step: str, stack: contextlib.ExitStack) -> Callable[[], None]:
    world.state.inject_fault("rest_signin", "unauthorized", count=None)
    return world.state.clear_faults


TABLEAU_FAULTS: dict[str, tuple[Callable[[World, str, contextlib.ExitStack], Callable[[], None]], str]] = {
    # name: (break Tableau and return how to heal it, text the failure must carry)
    "unreachable": (_unreachable, "no HTTP response"),
    "slow": (_slow, "Tableau REST"),
    "5xx": (_server_error, "HTTP 500"),
    "401": (_unauthorized, "HTTP 401"),
}


@pytest.mark.parametrize("step", FAULT_STEPS)
@pytest.mark.parametrize("fault", sorted(TABLEAU_FAULTS))
def test_a_tableau_fault_fails_the_step_cleanly_and_the_next_rotation_proceeds(
    world: World, monkeypatch: pytest.MonkeyPatch, executed: Counter, fault: str, step: str
) -> None:
    breaks, text = TABLEAU_FAULTS[fault]
    current_version = world.version(AWSCURRENT)
    token = world.begin()
    with rotation_logs() as logs, contextlib.ExitStack() as stack:
        for earlier in STEP_ORDER[: STEP_ORDER.index(step)]:
            invoke(world, monkeypatch, earlier, token, LAMBDA_CONTEXT)
        heal = breaks(world, step, stack)
        executed.executed += 1

        # When the step runs with 6 s left of its invocation and Tableau misbehaves
        started = time.monotonic()
        with pytest.raises(Exception) as failure:  # noqa: PT011 - the type depends on the fault; checked below
            invoke(world, monkeypatch, step, token, ShortInvocation(REMAINING_SECONDS))
        elapsed = time.monotonic() - started
        heal()

    # Then it failed inside the invocation's time, with an error that names Tableau ...
    assert elapsed < REMAINING_SECONDS
    message = str(failure.value)
    assert text in message
    assert "Tableau REST" in message or "tableau" in message
    failed = failure_lines(logs.getvalue())
    assert [(line["step"], line["dependency"]) for line in failed] == [(step, "tableau")]
    # ... AWSCURRENT is untouched and still accepted by Tableau ...
    assert world.version(AWSCURRENT) == current_version
    assert world.stage_secret(AWSCURRENT) == world.initial
    assert world.embed_status(world.initial) == 200
    # ... no secret, PAT or token leaked ...
    assert_no_secret_in(world, logs.getvalue(), exception_text(failure.value))
    assert "eyJ" not in logs.getvalue() + exception_text(failure.value)

    # And once Tableau is healthy again the next rotation proceeds: a createSecret that stored nothing left no
    # AWSPENDING (a new RotateSecret starts); later steps keep their usable pending version, which Secrets
    # Manager's reattempt of the same rotation promotes
    if step == "createSecret":
        assert world.version(AWSPENDING) is None
        token = world.rotate()
    else:
        assert world.version(AWSPENDING) == token
        world.run(token)
    current = world.stage_secret(AWSCURRENT)
    assert world.version(AWSCURRENT) == token and world.version(AWSPENDING) is None
    assert world.stage_secret(AWSPREVIOUS) == world.initial
    assert sorted(world.tableau_ids()) == sorted([world.initial.secret_id, current.secret_id])
    assert world.embed_status(current) == 200


# --- Secrets Manager faults -----------------------------------------------------------------------------------


def test_a_hung_secrets_manager_fails_the_step_before_the_deadline_naming_it(
    world: World, monkeypatch: pytest.MonkeyPatch, executed: Counter
) -> None:
    token = world.begin()
    executed.executed += 1
    with silent_server() as hung, rotation_logs() as logs:
        world.env["AWS_ENDPOINT_URL"] = hung  # the function's Secrets Manager endpoint; the test's own client stays
        started = time.monotonic()
        with pytest.raises(Exception) as failure:  # noqa: PT011 - botocore's timeout or our DeadlineExceeded
            invoke(world, monkeypatch, "createSecret", token, ShortInvocation(REMAINING_SECONDS))
        elapsed = time.monotonic() - started
    restore_aws(world, monkeypatch)

    assert elapsed < REMAINING_SECONDS
    failed = failure_lines(logs.getvalue())
    assert [(line["step"], line["dependency"]) for line in failed] == [("createSecret", "secretsmanager")]
    assert str(failed[0]["reason"]).startswith(("Secrets Manager", "secretsmanager"))
    assert world.stage_secret(AWSCURRENT) == world.initial
    assert world.tableau_ids() == [world.initial.secret_id]
    assert_no_secret_in(world, logs.getvalue(), exception_text(failure.value))
    # Secrets Manager could not be told anything, so the empty AWSPENDING stays: Secrets Manager reattempts that
    # rotation once it is healthy, and it completes
    assert world.version(AWSPENDING) == token
    world.run(token)
    assert world.version(AWSCURRENT) == token


class _ResettingProxy(http.server.ThreadingHTTPServer):
    """Forwards every request to moto's server, except one Secrets Manager operation: that connection is reset."""

    daemon_threads = True

    def __init__(self, upstream: str, reset_operation: str) -> None:
        self.upstream = upstream
        self.reset_operation = reset_operation
        self.resets = 0
        super().__init__(("127.0.0.1", 0), _ProxyHandler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _ProxyHandler(http.server.BaseHTTPRequestHandler):
    server: _ResettingProxy

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if self.headers.get("X-Amz-Target", "").endswith("." + self.server.reset_operation):
            self.server.resets += 1
            # SO_LINGER with a zero timeout: close() sends a TCP reset instead of a clean end of stream
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
            self.close_connection = True
            self.connection.close()
            return
        headers = {k: v for k, v in self.headers.items() if k.lower() not in {"host", "content-length"}}
        answer = requests.post(self.server.upstream + self.path, data=body, headers=headers, timeout=10)
        self.send_response(answer.status_code)
        for name, value in answer.headers.items():
            if name.lower() not in {"content-length", "transfer-encoding", "connection", "content-encoding"}:
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(answer.content)))
        self.end_headers()
        self.wfile.write(answer.content)


@contextlib.contextmanager
def resetting_proxy(upstream: str, operation: str) -> Iterator[_ResettingProxy]:
    proxy = _ResettingProxy(upstream, operation)
    thread = threading.Thread(target=proxy.serve_forever, daemon=True)
    thread.start()
    try:
        yield proxy
    finally:
        proxy.shutdown()
        proxy.server_close()
        thread.join(timeout=10)


def test_a_lost_put_secret_value_leaves_an_orphan_the_next_rotation_deletes(
    world: World, monkeypatch: pytest.MonkeyPatch, executed: Counter
) -> None:
    # Given Secrets Manager resetting the connection on PutSecretValue: Tableau created the secret, nothing stored it
    token = world.begin()
    executed.executed += 1
    with resetting_proxy(world.moto_url, "PutSecretValue") as proxy, rotation_logs() as logs:
        world.env["AWS_ENDPOINT_URL"] = proxy.url
        with pytest.raises(Exception) as failure:  # noqa: PT011 - botocore's connection error
            invoke(world, monkeypatch, "createSecret", token, LAMBDA_CONTEXT)
    restore_aws(world, monkeypatch)
    assert proxy.resets >= 1
    failed = failure_lines(logs.getvalue())
    assert [(line["step"], line["dependency"]) for line in failed] == [("createSecret", "secretsmanager")]
    assert_no_secret_in(world, logs.getvalue(), exception_text(failure.value))
    orphans = [sid for sid in world.tableau_ids() if sid != world.initial.secret_id]
    assert len(orphans) == 1

    # Then the empty version is no longer AWSPENDING, and the next rotation deletes the orphan and completes
    assert_the_next_rotation_cleans_up(world, token, orphans)
