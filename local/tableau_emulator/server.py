"""Run the emulator over real HTTP in a background thread (``serve``)."""

from __future__ import annotations

import threading
from types import TracebackType
from typing import Final

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from .app import create_app
from .app_context import BundleBuilder
from .state import EmulatorState

LOOPBACK_HOSTS: Final = frozenset({"127.0.0.1", "localhost", "::1"})


class _QuietRequestHandler(WSGIRequestHandler):
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass


class EmulatorServer:
    """A running emulator. ``url`` has no trailing slash, e.g. ``http://127.0.0.1:54321``."""

    def __init__(self, state: EmulatorState, server: BaseWSGIServer, thread: threading.Thread) -> None:
        self.state = state
        self.host = server.host
        self.port = server.port
        self.url = f"http://{'[::1]' if self.host == '::1' else self.host}:{self.port}"
        self._server = server
        self._thread = thread
        self._stopped = False

    def shutdown(self) -> None:
        """Stop serving and release the port (idempotent)."""
        if self._stopped:
            return
        self._stopped = True
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)

    def __enter__(self) -> EmulatorServer:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.shutdown()


def serve(
    state: EmulatorState,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    bundle_builder: BundleBuilder | None = None,
    log_requests: bool = False,
) -> EmulatorServer:
    """Serve ``state`` on ``host:port`` (port 0: any free port) in a daemon thread; returns at once.

    Only loopback addresses are accepted. ``log_requests`` prints werkzeug's access log to stderr.
    """
    if host not in LOOPBACK_HOSTS:
        raise ValueError(f"the Tableau emulator binds loopback only, not {host!r}")
    app = create_app(state, bundle_builder=bundle_builder)
    handler = WSGIRequestHandler if log_requests else _QuietRequestHandler
    server = make_server(host, port, app, threaded=True, request_handler=handler)
    thread = threading.Thread(
        target=lambda: server.serve_forever(poll_interval=0.05), name=f"tableau-emulator:{server.port}", daemon=True
    )
    thread.start()
    return EmulatorServer(state, server, thread)
