"""A local Lambda Runtime API (2018-06-01): the endpoints a runtime interface client such as ``awslambdaric``
polls and posts to - next invocation, invocation response, invocation error, init error.

https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html. One function instance, one invocation at a
time, as in Lambda. Served on 127.0.0.1 only, on a free port.
"""

from __future__ import annotations

import json
import queue
import re
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

PREFIX = "/2018-06-01/runtime"
INIT_SECONDS = 10  # Lambda's limit on a function's init phase (handler import) before its first invocation
_INVOCATION = re.compile(rf"^{PREFIX}/invocation/(?P<id>[^/]+)/(?P<kind>response|error)$")


@dataclass(frozen=True)
class Outcome:
    """What the function returned (``error_type`` None) or the error it reported (init or invocation)."""

    payload: Any
    error_type: str | None = None
    during_init: bool = False

    @property
    def ok(self) -> bool:
        return self.error_type is None


class FunctionExited(RuntimeError):
    pass


class RuntimeApi:
    def __init__(self, function_arn: str) -> None:
        self.function_arn = function_arn
        self._pending: queue.Queue[tuple[str, bytes, float] | None] = queue.Queue()
        self._done = threading.Condition()
        self._outcomes: dict[str, Outcome] = {}
        self._init_error: Outcome | None = None
        self._exit_code: int | None = None
        self._server = _Server(("127.0.0.1", 0), _handler_class(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="runtime-api", daemon=True)
        self._thread.start()

    @property
    def address(self) -> str:
        """The value of ``AWS_LAMBDA_RUNTIME_API``."""
        return f"127.0.0.1:{self._server.server_address[1]}"

    # --- the invoker's side ---------------------------------------------------------------------------------
    def invoke(self, event: Any, timeout_seconds: float) -> Outcome:
        """Queue ``event`` and wait for the function's answer (or its init error, or its process's exit)."""
        request_id = str(uuid.uuid4())
        self._pending.put((request_id, json.dumps(event).encode(), timeout_seconds))
        with self._done:
            answered = self._done.wait_for(
                lambda: request_id in self._outcomes or self._init_error is not None or self._exit_code is not None,
                timeout=INIT_SECONDS + timeout_seconds,
            )
            if request_id in self._outcomes:
                return self._outcomes.pop(request_id)
            if self._init_error is not None:
                return self._init_error
            if self._exit_code is not None:
                raise FunctionExited(f"the function's process exited with status {self._exit_code}")
        assert not answered  # nosec B101  # every other case returned above
        raise TimeoutError(f"no answer within the function's timeout ({timeout_seconds} s)")

    def process_exited(self, code: int) -> None:
        with self._done:
            self._exit_code = code
            self._done.notify_all()

    def close(self) -> None:
        self._pending.put(None)  # releases a /next that is waiting
        self._server.shutdown()
        self._server.server_close()

    # --- the runtime client's side --------------------------------------------------------------------------
    def _next(self) -> tuple[str, bytes, float] | None:
        item = self._pending.get()
        if item is None:
            self._pending.put(None)
        return item

    def _record(self, request_id: str | None, outcome: Outcome) -> None:
        with self._done:
            if request_id is None:
                self._init_error = outcome
            else:
                self._outcomes[request_id] = outcome
            self._done.notify_all()


class _Server(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        """A runtime client that is stopped while it waits for ``/next`` resets its connection: not an error."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


def _handler_class(api: RuntimeApi) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            return

        def _reply(self, status: HTTPStatus, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
            self.send_response(status)
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            if self.path != f"{PREFIX}/invocation/next":
                self._reply(HTTPStatus.NOT_FOUND)
                return
            item = api._next()
            if item is None:
                self._reply(HTTPStatus.GONE)
                return
            request_id, body, timeout_seconds = item
            deadline_ms = int((time.time() + timeout_seconds) * 1000)  # the clock starts when the runtime gets it
            self._reply(
                HTTPStatus.OK,
                body,
                {
                    "Content-Type": "application/json",
                    "Lambda-Runtime-Aws-Request-Id": request_id,
                    "Lambda-Runtime-Deadline-Ms": str(deadline_ms),
                    "Lambda-Runtime-Invoked-Function-Arn": api.function_arn,
                    "Lambda-Runtime-Trace-Id": f"Root=1-{int(time.time()):08x}-{uuid.uuid4().hex[:24]};Sampled=0",
                },
            )

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if self.path == f"{PREFIX}/init/error":
                api._record(None, _error(body, self.headers.get("Lambda-Runtime-Function-Error-Type"), init=True))
                self._reply(HTTPStatus.ACCEPTED)
                return
            match = _INVOCATION.match(self.path)
            if match is None:
                self._reply(HTTPStatus.NOT_FOUND)
                return
            if match["kind"] == "response":
                outcome = Outcome(payload=json.loads(body) if body else None)
            else:
                outcome = _error(body, self.headers.get("Lambda-Runtime-Function-Error-Type"), init=False)
            api._record(match["id"], outcome)
            self._reply(HTTPStatus.ACCEPTED)

    return Handler


def _error(body: bytes, header_type: str | None, *, init: bool) -> Outcome:
    try:
        payload: Any = json.loads(body)
    except ValueError:
        payload = {"errorMessage": body.decode("utf-8", "replace")}
    error_type = (payload.get("errorType") if isinstance(payload, dict) else None) or header_type or "Unknown"
    return Outcome(payload=payload, error_type=str(error_type), during_init=init)
