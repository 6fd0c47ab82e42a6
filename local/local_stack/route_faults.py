"""Local-only test control of the local HTTP API: the next calls of a route answer ``503`` with ``Retry-After``.

Browser tests use it to prove that the SPA package honours the broker's ``Retry-After``. The answer is the one the
broker itself gives for an unavailable dependency (built by the broker's own ``error_response``), so the page sees
exactly what a deployed broker sends. This exists in the local stack only: nothing in ``template.yaml``, the
functions or the layer knows about it.

``POST /_local/faults {"route": "POST /token", "retry_after": 1, "count": 2}`` arms it; ``GET`` shows what is
pending and when each call of each route arrived (monotonic seconds); ``DELETE`` clears both.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from werkzeug.wrappers import Request, Response

from tableau_broker.errors import DependencyUnavailable
from token_broker.http import error_response

FAULTS_PATH = "/_local/faults"
MAX_RETRY_AFTER_SECONDS = 3600


class RouteFaults:
    """Pending ``503`` answers per route key, and the arrival time of every call of every route."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._pending: dict[str, list[int]] = {}
        self._arrivals: dict[str, list[float]] = {}

    def inject(self, route_key: str, *, retry_after_seconds: int, count: int) -> None:
        with self._lock:
            self._pending.setdefault(route_key, []).extend([retry_after_seconds] * count)

    def clear(self) -> None:
        with self._lock:
            self._pending.clear()
            self._arrivals.clear()

    def arrive(self, route_key: str) -> dict[str, Any] | None:
        """Record a call of ``route_key``; returns the injected answer (an API Gateway proxy result) or ``None``."""
        with self._lock:
            self._arrivals.setdefault(route_key, []).append(self._clock())
            pending = self._pending.get(route_key)
            if not pending:
                return None
            retry_after = pending.pop(0)
        unavailable = DependencyUnavailable(
            "injected by the local stack", dependency="injected", retry_after_seconds=retry_after
        )
        return error_response(unavailable)

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "pending": {key: list(values) for key, values in self._pending.items() if values},
                "arrivals": {key: list(values) for key, values in self._arrivals.items()},
            }

    def admin(self, request: Request, route_keys: Mapping[str, object]) -> Response:
        """The ``/_local/faults`` endpoint (GET, POST, DELETE)."""
        if request.method == "GET":
            return _json(200, self.snapshot())
        if request.method == "DELETE":
            self.clear()
            return Response(status=204)
        if request.method != "POST":
            return _json(405, {"message": "use GET, POST or DELETE"})
        body = request.get_json(silent=True, force=True)
        if not isinstance(body, dict):
            return _json(400, {"message": "body must be a JSON object"})
        route, retry_after, count = body.get("route"), body.get("retry_after"), body.get("count", 1)
        if route not in route_keys:
            return _json(400, {"message": f"route must be one of {sorted(route_keys)}"})
        if not (_int_between(retry_after, 0, MAX_RETRY_AFTER_SECONDS) and _int_between(count, 1, 100)):
            return _json(400, {"message": "retry_after must be 0..3600 seconds and count 1..100"})
        assert isinstance(retry_after, int) and isinstance(count, int)  # nosec B101  # narrowing after the check
        self.inject(str(route), retry_after_seconds=retry_after, count=count)
        return _json(200, self.snapshot())


def _int_between(value: object, low: int, high: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def _json(status: int, body: Mapping[str, Any]) -> Response:
    return Response(json.dumps(body), status=status, content_type="application/json")
