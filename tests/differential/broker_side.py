"""The broker's side: its bearer path, configured from the environment as the Lambda is, against a real JWKS
endpoint on 127.0.0.1."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tableau_broker.config import CognitoSettings, cognito_settings_from_env
from tableau_broker.errors import BrokerError
from tableau_broker.identity import JwksVerifier, resolve_caller
from tests.differential.comparison import Identity, Verdict
from tests.differential.configs import Config


@contextmanager
def serving_jwks(jwks: dict[str, Any]) -> Iterator[str]:
    """Serve ``jwks`` at ``http://127.0.0.1:<free port>/.well-known/jwks.json`` until the block ends."""
    body = json.dumps(jwks).encode("utf-8")

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path != "/.well-known/jwks.json":
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, name="differential-jwks", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/.well-known/jwks.json"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


class BrokerBearerPath:
    """One JwksVerifier per deployment, reused across cases as a warm Lambda container reuses it."""

    def __init__(self, jwks_url: str) -> None:
        self._jwks_url = jwks_url
        self._deployments: dict[str, tuple[CognitoSettings, JwksVerifier]] = {}

    def _deployment(self, config: Config) -> tuple[CognitoSettings, JwksVerifier]:
        if config.name not in self._deployments:
            settings = cognito_settings_from_env(config.broker_env(self._jwks_url))
            self._deployments[config.name] = (settings, JwksVerifier(settings))
        return self._deployments[config.name]

    def verdict(self, token: str, config: Config, *, now: float) -> Verdict:
        """What the bearer path decides for ``Authorization: Bearer <token>`` on an event without authorizer
        claims (a route without an authorizer, a Function URL, a direct invoke)."""
        settings, verifier = self._deployment(config)
        event = {"headers": {"authorization": f"Bearer {token}"}, "requestContext": {}}
        try:
            caller = resolve_caller(event, settings, verifier, now=now)
        except BrokerError as exc:
            return Verdict(None, error=f"{type(exc).__name__}:{exc.reason}", http_status=exc.status)
        except Exception as exc:  # noqa: BLE001 - any other exception is the verdict under test (an HTTP 500)
            return Verdict(None, error=type(exc).__name__, http_status=500)
        return Verdict(Identity(caller.sub, caller.token_use, caller.client_id, caller.username))
