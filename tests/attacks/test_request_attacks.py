"""The attack catalogue, request half: event shapes API Gateway never builds and hostile bodies.

An event with two claim blocks, a claim block of the other API's shape, or an authorizer block of the wrong type
has no single meaning, so it has none: 401. A body the contract does not describe is a 400, and only after the
caller is authenticated (an anonymous caller learns nothing about body parsing).
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from tests.attacks.conftest import Invoke
from tests.attacks.verdicts import assert_refused, token_sensitive
from tests.support.broker_stack import BrokerStack

pytestmark = pytest.mark.attack

UNAUTHENTICATED = (401, "unauthenticated")
INVALID = (400, "invalid_request")


# --- v1/v2 event confusion ------------------------------------------------------------------------------------------


def _confused(case: str, stack: BrokerStack) -> dict[str, Any]:
    alice, bob = stack.claims("alice"), stack.claims("bob")
    v2 = stack.http_event(alice)
    v1 = stack.rest_event(alice)
    v2_claims = v2["requestContext"]["authorizer"]["jwt"]["claims"]
    v1_claims = v1["requestContext"]["authorizer"]["claims"]
    if case == "v2-claims-in-v1-event":
        v1["requestContext"]["authorizer"] = {"jwt": {"claims": v2_claims, "scopes": None}}
        return v1
    if case == "v1-claims-in-v2-event":
        v2["requestContext"]["authorizer"] = {"claims": v1_claims}
        return v2
    if case == "both-blocks-different-users":
        v2["requestContext"]["authorizer"]["claims"] = stack.rest_event(bob)["requestContext"]["authorizer"]["claims"]
        return v2
    if case == "both-blocks-v1-event":
        v1["requestContext"]["authorizer"]["jwt"] = {
            "claims": stack.http_event(bob)["requestContext"]["authorizer"]["jwt"]["claims"]
        }
        return v1
    if case == "empty-v2-block-beside-v1-claims":
        v2["requestContext"]["authorizer"] = {"jwt": {"claims": {}}, "claims": v1_claims}
        return v2
    if case == "lambda-authorizer-context":
        v2["requestContext"]["authorizer"] = {"lambda": dict(v2_claims)}
        return v2
    if case == "claims-at-authorizer-top-level":
        v2["requestContext"]["authorizer"] = dict(v2_claims)
        return v2
    wrong: dict[str, Any] = {
        "authorizer-string": json.dumps({"jwt": {"claims": v2_claims}}),
        "authorizer-list": [{"jwt": {"claims": v2_claims}}],
        "authorizer-number": 1,
        "jwt-string": {"jwt": json.dumps({"claims": v2_claims})},
        "jwt-claims-list": {"jwt": {"claims": list(v2_claims.items())}},
        "jwt-claims-string": {"jwt": {"claims": json.dumps(v2_claims)}},
        "v1-claims-list": {"claims": list(v1_claims.items())},
    }
    if case in wrong:
        v2["requestContext"]["authorizer"] = wrong[case]
        return v2
    if case == "request-context-list":
        v2["requestContext"] = [v2["requestContext"]]
        return v2
    if case == "request-context-string":
        v2["requestContext"] = json.dumps(v2["requestContext"])
        v2["httpMethod"] = "POST"
        return v2
    raise AssertionError(case)


CONFUSION_CASES = [
    "v2-claims-in-v1-event", "v1-claims-in-v2-event", "both-blocks-different-users", "both-blocks-v1-event",
    "empty-v2-block-beside-v1-claims", "lambda-authorizer-context", "claims-at-authorizer-top-level",
    "authorizer-string", "authorizer-list", "authorizer-number", "jwt-string", "jwt-claims-list",
    "jwt-claims-string", "v1-claims-list", "request-context-list", "request-context-string",
]  # fmt: skip


@pytest.mark.parametrize("case", CONFUSION_CASES)
def test_attack_event_confusion(stack: BrokerStack, invoke: Invoke, case: str) -> None:
    result, logs = invoke(_confused(case, stack))
    # A requestContext that is not an object has no method either: 405 is as right as 401 there.
    allowed = [UNAUTHENTICATED] + ([(405, "method_not_allowed")] if case.startswith("request-context") else [])
    assert_refused(result, *allowed, sensitive=[stack.secret.secret_value], logs=logs)


# --- body size, nesting, encoding and types ---------------------------------------------------------------------------

NESTED = "[" * 2048 + "]" * 2048  # 4 KB, within MAX_REQUEST_BYTES
MARKER = "body-marker-7c1f0e"


def _body(case: str) -> tuple[Any, Any]:
    """(body, isBase64Encoded)"""
    scopes = '{"scopes":["tableau:views:embed"]}'
    return {
        "too-large": (json.dumps({"scopes": ["x" * 5000]}), False),
        "one-megabyte": ("{" + " " * 1_000_000 + "}", False),
        "nested-arrays-4kb": (NESTED, False),
        "nested-in-scopes": ('{"scopes":' + "[" * 2000 + "]" * 2000 + "}", False),
        "nested-objects": ('{"a":' * 600 + "1" + "}" * 600, False),
        "base64-flag-on-plain-json": (scopes, True),
        "base64-flag-string-true": (base64.b64encode(scopes.encode()).decode(), "true"),
        "base64-flag-off-on-base64": (base64.b64encode(scopes.encode()).decode(), False),
        "base64-invalid-utf8": (base64.b64encode(b'{"scopes":["\xff\xfe"]}').decode(), True),
        "base64-too-large": (base64.b64encode(b'{"scopes":["' + b"x" * 5000 + b'"]}').decode(), True),
        "base64-unpadded": ("eyJzY29wZXMiOltdfQ", True),
        "lone-high-surrogate": ('{"scopes":["tableau:views:embed\ud800"]}', False),
        "lone-low-surrogate": ("\udcff" + scopes, False),
        "surrogate-escaped-invalid-utf8": (scopes[:-2] + "\udcc3\udc28" + "]}", False),
        "nul-byte": ('{"scopes":["tableau:views:embed\x00"]}', False),
        "body-object": ({"scopes": ["tableau:views:embed"]}, False),
        "body-list": ([scopes], False),
        "body-number": (1, False),
        "body-true": (True, False),
        "json-null": ("null", False),
        "json-true": ("true", False),
        "json-number": ("1", False),
        "json-string": (json.dumps(scopes), False),
        "json-array": ('["tableau:views:embed"]', False),
        "scopes-null": ('{"scopes":null}', False),
        "scopes-numbers": ('{"scopes":[1,2]}', False),
        "scopes-object": ('{"scopes":{"tableau:views:embed":true}}', False),
        "scopes-overflow-number": ('{"scopes":1e999}', False),
        "scopes-nan": ('{"scopes":NaN}', False),
        "duplicate-key-last-wins-bad": ('{"scopes":["tableau:views:embed"],"scopes":"x"}', False),
        "unknown-field-tenant": (json.dumps({"scopes": ["tableau:views:embed"], "tenant": MARKER}), False),
        "unknown-field-proto": ('{"__proto__":{"tenant":"globex"}}', False),
        "huge-integer": ('{"scopes":' + "9" * 4000 + "}", False),
        "too-many-scopes": (json.dumps({"scopes": ["tableau:views:embed"] * 11}), False),
        "scope-too-long": (json.dumps({"scopes": ["tableau:views:" + "e" * 200]}), False),
    }[case]


BODY_CASES = [
    "too-large", "one-megabyte", "nested-arrays-4kb", "nested-in-scopes", "nested-objects",
    "base64-flag-on-plain-json", "base64-flag-string-true", "base64-flag-off-on-base64", "base64-invalid-utf8",
    "base64-too-large", "base64-unpadded", "lone-high-surrogate", "lone-low-surrogate",
    "surrogate-escaped-invalid-utf8", "nul-byte", "body-object", "body-list", "body-number", "body-true",
    "json-null", "json-true", "json-number", "json-string", "json-array", "scopes-null", "scopes-numbers",
    "scopes-object", "scopes-overflow-number", "scopes-nan", "duplicate-key-last-wins-bad",
    "unknown-field-tenant", "unknown-field-proto", "huge-integer", "too-many-scopes", "scope-too-long",
]  # fmt: skip

# A scope string that is well-formed JSON but names no allowed scope is a 403, not a 400: both refuse.
SCOPE_REFUSALS = {"nul-byte", "lone-high-surrogate"}


@pytest.mark.parametrize("caller", ["gateway-claims", "bearer-token", "anonymous"])
@pytest.mark.parametrize("case", BODY_CASES)
def test_attack_body(stack: BrokerStack, invoke: Invoke, case: str, caller: str) -> None:
    body, is_base64 = _body(case)
    sensitive = [MARKER, stack.secret.secret_value]
    if caller == "bearer-token":
        token = stack.cognito_tokens("alice")["id_token"]
        event = stack.bearer_event(token)
        sensitive += token_sensitive(token)
    else:
        event = stack.http_event(stack.claims("alice") if caller == "gateway-claims" else None)
    event["body"] = body
    event["isBase64Encoded"] = is_base64
    result, logs = invoke(event)
    if caller == "anonymous":
        # Authentication comes first: an anonymous caller gets 401 whatever the body.
        assert_refused(result, UNAUTHENTICATED, sensitive=sensitive, logs=logs)
        return
    allowed = [INVALID] + ([(403, "scope_not_allowed")] if case in SCOPE_REFUSALS else [])
    assert_refused(result, *allowed, sensitive=sensitive, logs=logs)
