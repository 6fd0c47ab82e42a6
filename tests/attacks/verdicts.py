"""What every catalogue case checks: the right refusal, no token, nothing sensitive in the body or the logs."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

Result = tuple[int, Mapping[str, str], Any]


def leaks(text: str, sensitive: Iterable[str]) -> list[str]:
    found = [value[:12] + "..." for value in sensitive if value and value in text]
    if "eyJ" in text:
        found.append("a JWT (eyJ...)")
    return found


def assert_refused(result: Result, *allowed: tuple[int, str], sensitive: Iterable[str] = (), logs: str = "") -> None:
    """One of the ``allowed`` (status, error code) pairs; the body is exactly ``{"error": {"code", "message"}}``."""
    got, headers, body = result
    assert isinstance(body, dict), body
    assert (got, body.get("error", {}).get("code")) in allowed, (got, body)
    status = got
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}, body
    assert isinstance(body["error"]["message"], str)
    sensitive = [s for s in sensitive if s]
    assert not leaks(json.dumps(body), sensitive), "the error body carries a credential or claim value"
    assert not leaks(logs, sensitive), f"the logs carry {leaks(logs, sensitive)}"
    if status == 401:
        # RFC 6750 section 3: a 401 for a protected resource carries a Bearer challenge.
        challenge = {k.lower(): v for k, v in headers.items()}.get("www-authenticate", "")
        assert challenge.startswith("Bearer"), "401 without WWW-Authenticate: Bearer"


def token_sensitive(token: str) -> list[str]:
    """The presented token and its signature alone (a log must not carry either)."""
    parts = token.split(".")
    return [token, *(p for p in parts[2:] if len(p) >= 16)]
