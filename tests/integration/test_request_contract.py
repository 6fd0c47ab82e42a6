"""The request side of POST /token at its edges: who is asked first, what a hostile body gets, and the 401 challenge."""

from __future__ import annotations

import json

import pytest

from tests.support.broker_stack import BrokerStack

NESTED_4K = "[" * 2048 + "]" * 2048  # 4 KB, within MAX_REQUEST_BYTES, deeper than json's recursion limit


def result(stack: BrokerStack, event: dict[str, object]) -> tuple[int, dict[str, str], dict[str, object]]:
    status, headers, body = stack.invoke(event)
    assert set(body) <= {"error", "token", "token_type", "expires_at", "expires_in", "scopes", "tableau"}
    return status, headers, body


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(NESTED_4K, id="nested-arrays"),
        pytest.param('{"scopes": ' + "[" * 1500 + "]" * 1500 + "}", id="nested-in-scopes"),
        pytest.param('{"scopes": ["\ud800"]}', id="lone-surrogate-raw"),
        pytest.param("\udcff", id="lone-surrogate-only"),
    ],
)
def test_hostile_bodies_are_400_not_500(stack: BrokerStack, body: str) -> None:
    status, _, answer = result(stack, stack.http_event(stack.claims("alice"), body))
    assert (status, answer["error"]["code"]) == (400, "invalid_request")  # type: ignore[index]


def test_escaped_lone_surrogate_in_a_scope_is_refused_without_echo(stack: BrokerStack) -> None:
    status, _, answer = result(stack, stack.http_event(stack.claims("alice"), '{"scopes": ["\\ud800"]}'))
    assert status in (400, 403) and "ud800" not in json.dumps(answer)


@pytest.mark.parametrize("body", [NESTED_4K, "{not json", "x" * 5000, '{"scopes": "x"}'])
def test_an_unauthenticated_caller_gets_401_whatever_the_body(stack: BrokerStack, body: str) -> None:
    # The identity is checked before the body is parsed: an anonymous caller cannot probe the parser.
    status, headers, answer = result(stack, stack.bearer_event(None, body))
    assert (status, answer["error"]["code"]) == (401, "unauthenticated")  # type: ignore[index]
    assert headers["WWW-Authenticate"] == 'Bearer realm="tableau-token-broker"'


def test_a_rejected_token_gets_the_invalid_token_challenge(stack: BrokerStack) -> None:
    token = stack.cognito_tokens("alice")["id_token"]
    status, headers, _ = result(stack, stack.bearer_event(token[:-4] + "AAAA"))
    assert status == 401
    assert headers["WWW-Authenticate"] == 'Bearer realm="tableau-token-broker", error="invalid_token"'


def test_only_401_carries_a_challenge(stack: BrokerStack) -> None:
    ok = result(stack, stack.http_event(stack.claims("alice")))
    forbidden = result(stack, stack.http_event(stack.claims("carol")))
    bad = result(stack, stack.http_event(stack.claims("alice"), "{not json"))
    assert [r[0] for r in (ok, forbidden, bad)] == [200, 403, 400]
    assert all("WWW-Authenticate" not in r[1] for r in (ok, forbidden, bad))
