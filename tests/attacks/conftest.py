"""Fixtures of the attack catalogue: the broker against moto's server, logs captured at every level, a hostile
key server on loopback, and the tally behind the ``attacks`` figure."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from tests.attacks.tally import attack_tally  # noqa: F401 - autouse: counts every catalogue case
from tests.support.broker_stack import BrokerStack, build_broker_stack
from tests.support.log_capture import captured_logs

Invoke = Callable[[dict[str, Any]], tuple[tuple[int, dict[str, str], Any], str]]


def _items(stack: BrokerStack) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = stack.dynamodb.scan(TableName=stack.table, ConsistentRead=True)["Items"]
    return sorted(items, key=lambda item: item["pk"]["S"])


@pytest.fixture(scope="module")
def module_stack(moto_server_url: str) -> Iterator[BrokerStack]:
    """One deployment per module (building one takes a second); each test gets it back unchanged."""
    from token_broker import handler

    with pytest.MonkeyPatch.context() as patch:
        # Each case tampers with a stored record and expects the very next request to read it: no tenant cache
        # (its bound is tests/unit/test_tenant_cache.py's; a cached clean record would simply be served).
        stack = build_broker_stack(moto_server_url, patch, parameters={"TenantCacheSeconds": "0"})
        issued: dict[tuple[str, str | None], dict[str, str]] = {}
        sign_in = stack.cognito_tokens

        def cognito_tokens(name: str, client_id: str | None = None) -> dict[str, str]:
            if (name, client_id) not in issued:  # Cognito tokens live an hour: one sign-in per user per module
                issued[name, client_id] = sign_in(name, client_id)
            return issued[name, client_id]

        stack.cognito_tokens = cognito_tokens  # type: ignore[method-assign]
        yield stack
    handler.reset_runtime()


@pytest.fixture
def stack(module_stack: BrokerStack) -> Iterator[BrokerStack]:
    """The module's deployment, warm like a reused container; records a test changed are put back after it."""
    snapshot = _items(module_stack)
    yield module_stack
    if _items(module_stack) != snapshot:
        for item in _items(module_stack):
            module_stack.dynamodb.delete_item(TableName=module_stack.table, Key={"pk": item["pk"]})
        for item in snapshot:
            module_stack.dynamodb.put_item(TableName=module_stack.table, Item=item)


@pytest.fixture
def invoke(stack: BrokerStack) -> Invoke:
    """Run one event through ``lambda_handler`` with the root logger at DEBUG; returns the result and the logs."""

    def run(event: dict[str, Any]) -> tuple[tuple[int, dict[str, str], Any], str]:
        with captured_logs(logging.DEBUG) as logs:
            result = stack.invoke(event)
        return result, logs.getvalue()

    return run


@dataclass
class KeyServer:
    """An attacker's server on 127.0.0.1: serves ``document`` at any path and remembers every request."""

    url: str
    document: dict[str, Any]
    requests: list[str] = field(default_factory=list)


@pytest.fixture
def key_server() -> Iterator[KeyServer]:
    served = KeyServer(url="", document={"keys": []})

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            served.requests.append(self.path)
            body = json.dumps(served.document).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    served.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield served
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
