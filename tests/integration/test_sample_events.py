"""The sample events in events/token_broker/ (for `sam local invoke -e`) produce the outcome their name says."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.support.broker_stack import EVENTS_DIR, BrokerStack

EXPECTED = {
    "http_api_valid.json": (200, None),
    "rest_api_valid.json": (200, None),
    "no_claims.json": (401, "unauthenticated"),
    "wrong_app_client.json": (401, "unauthenticated"),
    "unentitled_user.json": (403, "not_entitled"),
    "disallowed_scope.json": (403, "scope_not_allowed"),
}


def test_every_sample_event_is_covered() -> None:
    assert {p.name for p in EVENTS_DIR.glob("*.json")} == set(EXPECTED)


def _retarget(stack: BrokerStack, event: dict[str, Any]) -> dict[str, Any]:
    """Point the sample's placeholder pool, client and users at this test deployment; keep its intent."""
    authorizer = event["requestContext"].get("authorizer")
    if not authorizer:
        return event
    claims = authorizer["jwt"]["claims"] if "jwt" in authorizer else authorizer["claims"]
    claims["iss"] = stack.pool.issuer
    if claims["aud"] == "exampleappclientid0000000001":
        claims["aud"] = stack.pool.client_id
    claims["sub"] = {"alice@acme.example": stack.users["alice"].sub}.get(claims["email"], claims["sub"])
    return event


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_sample_event(stack: BrokerStack, name: str) -> None:
    status, code = EXPECTED[name]
    event = _retarget(stack, json.loads((EVENTS_DIR / name).read_text()))
    got_status, _, body = stack.invoke(event)
    assert got_status == status, body
    if code is None:
        assert body["token"].count(".") == 2
    else:
        assert body["error"]["code"] == code
