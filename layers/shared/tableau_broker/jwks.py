"""The user pool's key set: fetched within the invocation's deadline, size-capped, cached per container.

PyJWT's ``PyJWKClient`` waits a fixed timeout per socket operation (a server that drips bytes holds it
indefinitely) and refetches on every unknown ``kid`` (anyone can make us hammer the JWKS endpoint). Here one
fetch is one bounded attempt: its whole duration, connect to last byte, is cut to what the deadline leaves;
the body is capped; a ``kid`` missing from a fresh key set triggers at most one refetch per
``REFETCH_INTERVAL_SECONDS``. The JSON is parsed by PyJWT's ``PyJWKSet``.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import socket
import ssl
import threading
import time
from collections.abc import Callable
from urllib.parse import urlsplit

import jwt

from tableau_broker.deadline import current_deadline
from tableau_broker.errors import DependencyUnavailable, Unauthenticated

MAX_JWKS_BYTES = 64 * 1024  # a Cognito key set is about 1 KiB
REFETCH_INTERVAL_SECONDS = 30.0  # least time between two refetches caused by an unknown kid
DEPENDENCY = "jwks"


def _unavailable(reason: str) -> DependencyUnavailable:
    return DependencyUnavailable(reason, dependency=DEPENDENCY)


def reject_json_constant(_: str) -> object:
    """``parse_constant`` for ``json.loads``: NaN and Infinity are Python's extension, not JSON (RFC 8259)."""
    raise ValueError("NaN and Infinity are not JSON")


def _read_body(url: str, timeout: float) -> bytes:
    """GET ``url`` in at most ``timeout`` seconds in total: a watchdog shuts the socket down when time is up."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    connection: http.client.HTTPConnection
    if parts.scheme == "https":
        connection = http.client.HTTPSConnection(
            host, parts.port, timeout=timeout, context=ssl.create_default_context()
        )
    else:
        connection = http.client.HTTPConnection(host, parts.port, timeout=timeout)
    timed_out = threading.Event()

    def expire() -> None:
        timed_out.set()
        sock = connection.sock
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    watchdog = threading.Timer(timeout, expire)
    watchdog.daemon = True
    started = time.monotonic()
    watchdog.start()
    try:
        connection.request("GET", parts.path or "/", headers={"Accept": "application/json"})
        response = connection.getresponse()
        if response.status != 200:
            raise _unavailable("jwks_http_status")
        length = response.getheader("Content-Length")
        if length is not None and length.strip().isdigit() and int(length) > MAX_JWKS_BYTES:
            raise _unavailable("jwks_too_large")
        body = response.read(MAX_JWKS_BYTES + 1)
        if len(body) > MAX_JWKS_BYTES:
            raise _unavailable("jwks_too_large")
        if timed_out.is_set() or time.monotonic() - started >= timeout:
            raise _unavailable("jwks_timeout")
        return body
    except (OSError, http.client.HTTPException):
        raise _unavailable("jwks_timeout" if timed_out.is_set() else "jwks_unreachable") from None
    finally:
        watchdog.cancel()
        connection.close()


def parse_jwks(body: bytes) -> dict[str, jwt.PyJWK]:
    """The key set's usable keys by ``kid``. Anything that is not a JWKS object is the endpoint's fault."""
    try:
        data = json.loads(body.decode("utf-8"), parse_constant=reject_json_constant)
        if not isinstance(data, dict):
            raise ValueError("not an object")
        keyset = jwt.PyJWKSet.from_dict(data)
    except (ValueError, RecursionError, TypeError, AttributeError, jwt.PyJWKSetError, jwt.PyJWKError):
        raise _unavailable("jwks_invalid") from None
    return {key.key_id: key for key in keyset.keys if isinstance(key.key_id, str) and key.key_id}


def fetch_jwks(url: str, *, cap_seconds: float) -> dict[str, jwt.PyJWK]:
    timeout = current_deadline().attempt_timeout(DEPENDENCY, cap=cap_seconds)
    return parse_jwks(_read_body(url, timeout))


class JwksCache:
    """Keys by ``kid``, kept ``lifespan_seconds``; one instance per container."""

    def __init__(
        self,
        url: str,
        *,
        lifespan_seconds: float,
        timeout_cap_seconds: float,
        refetch_interval_seconds: float = REFETCH_INTERVAL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._url = url
        self._lifespan = lifespan_seconds
        self._cap = timeout_cap_seconds
        self._interval = refetch_interval_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._keys: dict[str, jwt.PyJWK] | None = None
        self._fetched_at = 0.0
        self._last_attempt: float | None = None

    def signing_key(self, kid: str) -> jwt.PyJWK:
        with self._lock:
            now = self._clock()
            stale = self._keys is None or now >= self._fetched_at + self._lifespan
            may_refetch = self._last_attempt is None or now >= self._last_attempt + self._interval
            if stale or (kid not in (self._keys or {}) and may_refetch):
                self._refresh(now)
            key = (self._keys or {}).get(kid)
            if key is None:
                raise Unauthenticated("unknown_signing_key")
            return key

    def _refresh(self, now: float) -> None:
        self._last_attempt = now
        self._keys = fetch_jwks(self._url, cap_seconds=self._cap)
        self._fetched_at = now
