"""Serves the demo page and its ``config.json`` on its own origin (so the API's CORS is exercised)."""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from werkzeug.security import safe_join
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

STATIC_DIR = Path(__file__).resolve().parent / "static"
# The page runs on the browser package's own source (clients/browser), served as it ships: no build step.
CLIENT_PREFIX = "/client/"
CLIENT_DIR = Path(__file__).resolve().parents[2] / "clients" / "browser" / "src"
CONTENT_TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript", ".css": "text/css", ".png": "image/png"}


class QuietHandler(WSGIRequestHandler):
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass


def demo_app(config: Mapping[str, Any]) -> Any:
    config_body = json.dumps(config).encode()

    def app(environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        if request.path == "/config.json":
            response = Response(config_body, content_type="application/json", headers={"Cache-Control": "no-store"})
        else:
            if request.path.startswith(CLIENT_PREFIX):
                root, name = CLIENT_DIR, request.path.removeprefix(CLIENT_PREFIX)
            else:
                root, name = STATIC_DIR, "index.html" if request.path in ("", "/") else request.path.lstrip("/")
            path = safe_join(str(root), name)
            if path is None or not Path(path).is_file():
                response = Response("Not found", status=404, content_type="text/plain")
            else:
                content_type = CONTENT_TYPES.get(Path(path).suffix, "application/octet-stream")
                response = Response(Path(path).read_bytes(), content_type=content_type)
                response.headers["Cache-Control"] = "no-store"
        return response(environ, start_response)

    return app


class BackgroundServer:
    """A werkzeug server on a loopback port in a daemon thread."""

    def __init__(self, name: str, app: Any, port: int) -> None:
        self.server: BaseWSGIServer = make_server("127.0.0.1", port, app, threaded=True, request_handler=QuietHandler)
        self.url = f"http://127.0.0.1:{self.server.port}"
        self._thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.1}, name=name)
        self._thread.daemon = True
        self._thread.start()

    def shutdown(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(timeout=5)
