"""Fault injection: the next calls of an operation fail with a chosen kind. The caller holds the state's lock."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from .errors import EmulatorError

#: Operations that can be made to fail with :meth:`EmulatorState.inject_fault`.
FAULT_OPERATIONS: Final = frozenset(
    {
        "embed_signin",
        "view",
        "rest_signin",
        "rest_signout",
        "list_apps",
        "get_app",
        "create_secret",
        "get_secret",
        "delete_secret",
    }
)

#: Fault kinds and the HTTP status each produces. ``server_error_after_commit`` performs the operation
#: and *then* answers 500 (an ambiguous failure: e.g. the secret was created but the caller never saw it).
FAULT_KINDS: Final[Mapping[str, int]] = {
    "unavailable": 503,
    "unauthorized": 401,
    "forbidden": 403,
    "not_found": 404,
    "rate_limited": 429,
    "server_error": 500,
    "server_error_after_commit": 500,
    "token_expired": 401,  # nosec B105  # a fault's name, not a credential
}

#: ``token_expired`` (embed sign-in only) answers exactly as Tableau does for a token that expired before the viz
#: redeemed it (rule ``expired``, code 16) without looking at the token: a client must fetch a new one.
TOKEN_EXPIRED: Final = "token_expired"


@dataclass
class PendingFault:
    kind: str
    remaining: int | None  # None: until cleared


def check_fault(operation: str, kind: str, count: int | None) -> None:
    """Raise :class:`EmulatorError` unless ``operation``, ``kind`` and ``count`` describe a fault."""
    if operation not in FAULT_OPERATIONS:
        raise EmulatorError(f"unknown fault operation {operation!r}; known: {sorted(FAULT_OPERATIONS)}")
    if kind not in FAULT_KINDS:
        raise EmulatorError(f"unknown fault kind {kind!r}; known: {sorted(FAULT_KINDS)}")
    if kind == TOKEN_EXPIRED and operation != "embed_signin":
        raise EmulatorError(f"fault kind {TOKEN_EXPIRED!r} applies to 'embed_signin' only")
    if count is not None and count < 1:
        raise EmulatorError("count must be >= 1 (or None for 'until cleared')")


class FaultPlan:
    """Pending faults by operation."""

    def __init__(self) -> None:
        self._faults: dict[str, PendingFault] = {}

    def inject(self, operation: str, kind: str, count: int | None) -> None:
        self._faults[operation] = PendingFault(kind=kind, remaining=count)

    def clear(self) -> None:
        self._faults.clear()

    def to_json(self) -> dict[str, dict[str, Any]]:
        return {op: {"kind": f.kind, "remaining": f.remaining} for op, f in self._faults.items()}

    def take(self, operation: str) -> str | None:
        """Consume one pending fault for ``operation``; returns its kind or ``None``."""
        fault = self._faults.get(operation)
        if fault is None:
            return None
        if fault.remaining is not None:
            fault.remaining -= 1
            if fault.remaining <= 0:
                del self._faults[operation]
        return fault.kind
