"""What every blueprint reads from the running Flask app: the emulator state, the bundle builder, and the
response an injected fault produces. Kept apart from :mod:`.app` so the blueprints need not import it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Final, cast

from flask import Flask, Response, current_app, jsonify

from .state import FAULT_KINDS, EmulatorState

_STATE_KEY: Final = "tableau_emulator.state"
_BUNDLE_KEY: Final = "tableau_emulator.bundle_builder"

BundleBuilder = Callable[[], Path]


def attach(app: Flask, state: EmulatorState, bundle_builder: BundleBuilder) -> None:
    """Make ``state`` and ``bundle_builder`` what :func:`current_state` and :func:`current_bundle_builder` return."""
    app.extensions[_STATE_KEY] = state
    app.extensions[_BUNDLE_KEY] = bundle_builder


def current_state() -> EmulatorState:
    return cast(EmulatorState, current_app.extensions[_STATE_KEY])


def current_bundle_builder() -> BundleBuilder:
    return cast(BundleBuilder, current_app.extensions[_BUNDLE_KEY])


def fault_response(kind: str, *, rest: bool) -> Response:
    """The response an injected fault produces (REST error envelope or embed ``result.errors``)."""
    status = FAULT_KINDS[kind]
    detail = f"Injected fault: {kind}"
    if rest:
        body: dict[str, Any] = {"error": {"code": f"{status}000", "summary": "Injected fault", "detail": detail}}
    else:
        body = {"result": {"errors": [{"code": status, "message": detail}]}}
    resp = jsonify(body)
    resp.status_code = status
    if status == 429:
        resp.headers["Retry-After"] = "1"
    return resp
