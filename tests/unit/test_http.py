"""The HTTP contract of POST /token (token_broker.http) and the error table (tableau_broker.errors), without AWS.

The same contract through the handler, moto and Cognito: tests/integration/test_request_contract.py.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from tableau_broker.errors import (
    BrokerError,
    ConfigurationError,
    DependencyUnavailable,
    InvalidRequest,
    MalformedSecret,
    MethodNotAllowed,
    NotEntitled,
    ScopeNotAllowed,
    TokenRuleViolation,
    Unauthenticated,
)
from tableau_broker.scopes import MAX_REQUESTED_SCOPES
from tableau_broker.tableau_jwt import MintedToken
from token_broker.http import (
    BASE_HEADERS,
    error_response,
    requested_scopes,
    require_post,
    token_response,
)

MAX_BYTES = 4096


def v2(method: str) -> dict[str, Any]:
    return {"version": "2.0", "requestContext": {"http": {"method": method}}}


def body_event(body: Any, *, base64_encoded: bool = False) -> dict[str, Any]:
    return {**v2("POST"), "body": body, "isBase64Encoded": base64_encoded}


# --- Method ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("event", [v2("POST"), v2("post"), {"httpMethod": "POST"}])
def test_post_is_accepted_in_both_payload_versions(event: dict[str, Any]) -> None:
    require_post(event)


@pytest.mark.parametrize("event", [v2("GET"), v2("OPTIONS"), {"httpMethod": "PUT"}, {}, {"requestContext": {}}])
def test_anything_but_post_is_405(event: dict[str, Any]) -> None:
    with pytest.raises(MethodNotAllowed):
        require_post(event)


# --- Body -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("body", [None, "", "  \n", "{}"])
def test_no_scopes_asked_means_the_default(body: Any) -> None:
    assert requested_scopes(body_event(body), max_bytes=MAX_BYTES) is None


def test_scopes_are_returned_as_sent() -> None:
    body = json.dumps({"scopes": ["tableau:views:embed", "tableau:metrics:embed"]})
    assert requested_scopes(body_event(body), max_bytes=MAX_BYTES) == ["tableau:views:embed", "tableau:metrics:embed"]


def test_a_base64_body_is_decoded() -> None:
    body = base64.b64encode(json.dumps({"scopes": ["tableau:views:embed"]}).encode()).decode()
    assert requested_scopes(body_event(body, base64_encoded=True), max_bytes=MAX_BYTES) == ["tableau:views:embed"]


def test_the_size_limit_counts_utf8_bytes() -> None:
    fits = json.dumps({"scopes": ["é" * 10]})
    assert requested_scopes(body_event(fits), max_bytes=len(fits.encode())) == ["é" * 10]
    with pytest.raises(InvalidRequest) as raised:
        requested_scopes(body_event(fits), max_bytes=len(fits.encode()) - 1)
    assert raised.value.reason == "body_too_large"


@pytest.mark.parametrize(
    ("event", "reason"),
    [
        (body_event({"scopes": []}), "body_not_text"),
        (body_event("not base64!", base64_encoded=True), "body_not_base64_utf8"),
        (body_event(base64.b64encode(b"\xff\xfe").decode(), base64_encoded=True), "body_not_base64_utf8"),
        (body_event('{"scopes": ["\ud800"]}'), "body_not_utf8"),
        (body_event("{"), "body_not_json"),
        (body_event("[" * 2048 + "]" * 2048), "body_not_json"),
        (body_event('["tableau:views:embed"]'), "body_not_object"),
        (body_event('{"scopes": ["tableau:views:embed"], "sub": "x"}'), "unknown_field"),
        (body_event('{"scopes": "tableau:views:embed"}'), "invalid_scopes"),
        (body_event('{"scopes": []}'), "invalid_scopes"),
        (body_event('{"scopes": [""]}'), "invalid_scopes"),
        (body_event('{"scopes": [1]}'), "invalid_scopes"),
        (body_event(json.dumps({"scopes": ["s" * 101]})), "invalid_scopes"),
        (body_event(json.dumps({"scopes": ["tableau:views:embed"] * (MAX_REQUESTED_SCOPES + 1)})), "invalid_scopes"),
    ],
)
def test_a_bad_body_is_an_invalid_request(event: dict[str, Any], reason: str) -> None:
    with pytest.raises(InvalidRequest) as raised:
        requested_scopes(event, max_bytes=MAX_BYTES)
    assert raised.value.reason == reason


# --- Responses --------------------------------------------------------------------------------------------------


def test_the_token_response_shape() -> None:
    minted = MintedToken(token="a.b.c", jti="j", issued_at=1_699_999_995, expires_at=1_700_000_300, scopes=("s",))

    response = token_response(
        minted, tableau_url="https://t.example.com", site="acme", scopes=["s"], now=1_700_000_000.9
    )

    assert response["statusCode"] == 200
    assert response["headers"] == BASE_HEADERS
    assert response["isBase64Encoded"] is False
    assert json.loads(response["body"]) == {
        "token": "a.b.c",
        "token_type": "tableau-connected-app-jwt",
        "expires_at": "2023-11-14T22:18:20Z",
        "expires_in": 300,
        "scopes": ["s"],
        "tableau": {"url": "https://t.example.com", "site": "acme"},
    }


def test_expires_in_is_never_negative() -> None:
    minted = MintedToken(token="t", jti="j", issued_at=0, expires_at=100, scopes=("s",))
    assert (
        json.loads(token_response(minted, tableau_url="u", site="", scopes=["s"], now=200.0)["body"])["expires_in"] == 0
    )


ERRORS: list[tuple[BrokerError, int, str, dict[str, str]]] = [
    (InvalidRequest("body_not_json"), 400, "invalid_request", {}),
    (
        Unauthenticated("no_identity"),
        401,
        "unauthenticated",
        {"WWW-Authenticate": 'Bearer realm="tableau-token-broker"'},
    ),
    (
        Unauthenticated("bad_signature"),
        401,
        "unauthenticated",
        {"WWW-Authenticate": 'Bearer realm="tableau-token-broker", error="invalid_token"'},
    ),
    (NotEntitled("unknown_user"), 403, "not_entitled", {}),
    (ScopeNotAllowed("scope_not_allowed"), 403, "scope_not_allowed", {}),
    (MethodNotAllowed("method_not_allowed"), 405, "method_not_allowed", {"Allow": "POST"}),
    (ConfigurationError("dynamodb_AccessDeniedException"), 500, "configuration_error", {}),
    (MalformedSecret("secret is not valid JSON"), 500, "configuration_error", {}),
    (TokenRuleViolation("no scopes to mint"), 500, "configuration_error", {}),
    (BrokerError("unexpected_error"), 500, "internal_error", {}),
    (
        DependencyUnavailable("dynamodb_Throttling", dependency="dynamodb"),
        503,
        "dependency_unavailable",
        {"Retry-After": "2"},
    ),
    (
        DependencyUnavailable("jwks_timeout", dependency="jwks", retry_after_seconds=5),
        503,
        "dependency_unavailable",
        {"Retry-After": "5"},
    ),
]


@pytest.mark.parametrize(("error", "status", "code", "extra_headers"), ERRORS)
def test_each_error_has_its_status_code_fixed_message_and_headers(
    error: BrokerError, status: int, code: str, extra_headers: dict[str, str]
) -> None:
    response = error_response(error)

    assert response["statusCode"] == status == error.status
    assert response["headers"] == {**BASE_HEADERS, **extra_headers}
    # Nothing but the stable code and the class's fixed message: the reason is for logs only.
    assert json.loads(response["body"]) == {"error": {"code": code, "message": type(error).message}}


def test_a_message_given_with_the_error_replaces_the_fixed_one_for_that_error_only() -> None:
    error = InvalidRequest("body_too_large", message="The request body is too large.")

    assert json.loads(error_response(error)["body"])["error"]["message"] == "The request body is too large."
    assert InvalidRequest.message == "The request body is not valid."
    assert str(error) == error.reason == "body_too_large"
