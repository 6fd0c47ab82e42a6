"""The HTTP contract of POST /token: request parsing and response shapes for API Gateway v1 and v2 events."""

from __future__ import annotations

import base64
import binascii
import functools
import json
import time
from collections.abc import Mapping, Sequence
from typing import Any

from tableau_broker.errors import BrokerError, DependencyUnavailable, InvalidRequest, MethodNotAllowed, Unauthenticated
from tableau_broker.scopes import is_scope_request
from tableau_broker.tableau_jwt import COMPACT_JSON, MintedToken

TOKEN_TYPE = "tableau-connected-app-jwt"  # nosec B105  # the response's token_type label, not a credential
BASE_HEADERS = {
    "Content-Type": "application/json",
    "Cache-Control": "no-store",
    "Pragma": "no-cache",
    "X-Content-Type-Options": "nosniff",
}
AUTH_REALM = "tableau-token-broker"


def www_authenticate(error: Unauthenticated) -> str:
    """RFC 6750 section 3: no credentials → the bare challenge; credentials that failed → ``invalid_token``."""
    if error.reason == "no_identity":
        return f'Bearer realm="{AUTH_REALM}"'
    return f'Bearer realm="{AUTH_REALM}", error="invalid_token"'


def request_method(event: Mapping[str, Any]) -> str | None:
    context = event.get("requestContext")
    if isinstance(context, Mapping):
        http = context.get("http")
        if isinstance(http, Mapping) and isinstance(http.get("method"), str):
            return str(http["method"]).upper()
    method = event.get("httpMethod")
    return method.upper() if isinstance(method, str) else None


def require_post(event: Mapping[str, Any]) -> None:
    if request_method(event) != "POST":
        raise MethodNotAllowed("method_not_allowed")


def requested_scopes(event: Mapping[str, Any], *, max_bytes: int) -> list[str] | None:
    """Body: empty, or ``{"scopes": ["tableau:views:embed", ...]}``. Anything else is a 400."""
    body = event.get("body")
    if body is None or body == "":
        return None
    if not isinstance(body, str):
        raise InvalidRequest("body_not_text")
    if event.get("isBase64Encoded") is True:
        try:
            body = base64.b64decode(body, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise InvalidRequest("body_not_base64_utf8") from None
    try:
        size = len(body.encode("utf-8"))
    except UnicodeEncodeError:  # a lone surrogate: no UTF-8 client sends it
        raise InvalidRequest("body_not_utf8") from None
    if size > max_bytes:
        raise InvalidRequest("body_too_large", message="The request body is too large.")
    if not body.strip():
        return None
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):  # RecursionError: deeply nested arrays/objects within the size cap
        raise InvalidRequest("body_not_json", message="The request body is not valid JSON.") from None
    if not isinstance(data, dict):
        raise InvalidRequest("body_not_object", message="The request body must be a JSON object.")
    unknown = set(data) - {"scopes"}
    if unknown:
        raise InvalidRequest("unknown_field", message="The request body may only contain 'scopes'.")
    if "scopes" not in data:
        return None
    scopes = data["scopes"]
    if not is_scope_request(scopes):
        raise InvalidRequest("invalid_scopes", message="'scopes' must be a non-empty array of scope strings.")
    return scopes


def _response(status: int, body: Mapping[str, Any], extra_headers: Mapping[str, str] | None = None) -> dict[str, Any]:
    return {
        "statusCode": status,
        "headers": {**BASE_HEADERS, **(extra_headers or {})},
        "body": COMPACT_JSON.encode(body),
        "isBase64Encoded": False,
    }


@functools.lru_cache(maxsize=8)
def _utc_timestamp(seconds: int) -> str:
    """RFC 3339 UTC; tokens minted in the same second share it."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


def token_response(
    minted: MintedToken, *, tableau_url: str, site: str, scopes: Sequence[str], now: float
) -> dict[str, Any]:
    expires_at = _utc_timestamp(minted.expires_at)
    return _response(
        200,
        {
            "token": minted.token,
            "token_type": TOKEN_TYPE,
            "expires_at": expires_at,
            "expires_in": max(0, minted.expires_at - int(now)),
            "scopes": list(scopes),
            "tableau": {"url": tableau_url, "site": site},
        },
    )


def error_response(error: BrokerError) -> dict[str, Any]:
    headers: dict[str, str] = {}
    if isinstance(error, DependencyUnavailable):
        headers["Retry-After"] = str(error.retry_after_seconds)
    if error.status == 405:
        headers["Allow"] = "POST"
    if isinstance(error, Unauthenticated):
        headers["WWW-Authenticate"] = www_authenticate(error)
    return _response(error.status, {"error": {"code": error.code, "message": error.message}}, headers)
