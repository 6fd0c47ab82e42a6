"""POST /token through the real Lambda handler, against moto's server (Cognito, DynamoDB, Secrets Manager)."""

from __future__ import annotations

import base64
import json
import time
from datetime import UTC, datetime
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.support.broker_stack import BrokerStack
from tests.support.log_capture import captured_logs
from tests.support.moto_server import reset_moto


def decode(stack: BrokerStack, token: str) -> dict[str, Any]:
    claims: dict[str, Any] = jwt.decode(
        token, stack.secret.secret_value, algorithms=["HS256"], audience="tableau", issuer=stack.secret.client_id
    )
    return claims


def assert_error(result: tuple[int, dict[str, str], dict[str, Any]], status: int, code: str) -> None:
    got_status, headers, body = result
    assert (got_status, body["error"]["code"]) == (status, code), body
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message"}
    assert headers["Cache-Control"] == "no-store"
    assert "eyJ" not in json.dumps(body)  # no JWT (ours or the caller's) in an error body


# --- Two real identities in two tenants -------------------------------------------------------------------


def test_each_user_gets_a_token_for_their_own_tenant_only(stack: BrokerStack) -> None:
    # Given Alice (tenant acme) and Bob (tenant globex), each signed in with Cognito
    alice = stack.invoke(stack.http_event(stack.claims("alice")))
    bob = stack.invoke(stack.http_event(stack.claims("bob")))

    # Then each token names its own Tableau user and carries only its own tenant
    assert alice[0] == 200 and bob[0] == 200
    a, b = decode(stack, alice[2]["token"]), decode(stack, bob[2]["token"])
    assert (a["sub"], a["tenant"]) == ("alice.acme@tableau.example", "acme")
    assert (b["sub"], b["tenant"]) == ("bob.globex@tableau.example", "globex")
    assert a["region"] == ["eu", "us"]
    assert "region" not in b
    assert "acme" not in json.dumps(b) and "globex" not in json.dumps(a)
    assert alice[2]["tableau"] == {"url": "https://tableau.example.com", "site": "acme-site"}
    assert bob[2]["tableau"] == {"url": "https://tableau.example.com", "site": "globex-site"}


def test_token_follows_tableau_rules_and_response_contract(stack: BrokerStack) -> None:
    before = int(time.time())
    status, headers, body = stack.invoke(stack.http_event(stack.claims("alice")))
    assert status == 200
    assert headers["Cache-Control"] == "no-store"
    assert headers["Content-Type"] == "application/json"
    assert set(body) == {"token", "token_type", "expires_at", "expires_in", "scopes", "tableau"}

    header = jwt.get_unverified_header(body["token"])
    assert header == {"alg": "HS256", "typ": "JWT", "kid": stack.secret.secret_id, "iss": stack.secret.client_id}
    claims = decode(stack, body["token"])
    assert claims["aud"] == "tableau"
    assert claims["scp"] == ["tableau:views:embed"]
    assert before - 6 <= claims["iat"] == claims["nbf"] <= before
    assert 295 <= claims["exp"] - before <= 301
    assert body["expires_in"] == pytest.approx(300, abs=2)
    assert body["expires_at"] == datetime.fromtimestamp(claims["exp"], tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert body["scopes"] == ["tableau:views:embed"]


def test_every_call_mints_a_fresh_token(stack: BrokerStack) -> None:
    event = stack.http_event(stack.claims("alice"))
    jtis = {decode(stack, stack.invoke(event)[2]["token"])["jti"] for _ in range(3)}
    assert len(jtis) == 3


def test_access_tokens_and_rest_api_events_are_accepted(stack: BrokerStack) -> None:
    access = stack.invoke(stack.http_event(stack.claims("bob", kind="access")))
    rest = stack.invoke(stack.rest_event(stack.claims("alice")))
    assert access[0] == 200 and decode(stack, access[2]["token"])["tenant"] == "globex"
    assert rest[0] == 200 and decode(stack, rest[2]["token"])["tenant"] == "acme"


def test_bearer_token_is_verified_against_the_pool_jwks_when_no_authorizer_ran(stack: BrokerStack) -> None:
    tokens = stack.cognito_tokens("bob")
    for kind in ("id_token", "access_token"):
        status, _, body = stack.invoke(stack.bearer_event(tokens[kind]))
        assert status == 200, body
        assert decode(stack, body["token"])["sub"] == "bob.globex@tableau.example"


# --- Fail closed: identity --------------------------------------------------------------------------------


def test_missing_identity_is_401(stack: BrokerStack) -> None:
    assert_error(stack.invoke(stack.http_event(None)), 401, "unauthenticated")
    token = stack.cognito_tokens("alice")["id_token"]
    assert_error(stack.invoke(stack.bearer_event(token, scheme="Basic")), 401, "unauthenticated")


@pytest.mark.parametrize(
    ("change", "value"),
    [
        ("iss", "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_SomeOtherPool"),
        ("aud", "an-app-client-that-is-not-allowed"),
        ("token_use", "refresh"),
        ("exp", 1_600_000_000),
    ],
    ids=["wrong-issuer", "wrong-client", "wrong-token-use", "expired"],
)
def test_gateway_claims_are_rechecked(stack: BrokerStack, change: str, value: Any) -> None:
    claims = {**stack.claims("alice"), change: value}
    assert_error(stack.invoke(stack.http_event(claims)), 401, "unauthenticated")
    assert_error(stack.invoke(stack.rest_event(claims)), 401, "unauthenticated")


def test_token_use_can_be_restricted(stack: BrokerStack, monkeypatch: pytest.MonkeyPatch) -> None:
    from token_broker import handler

    monkeypatch.setenv("COGNITO_TOKEN_USE", "id")
    handler.reset_runtime()
    assert_error(stack.invoke(stack.http_event(stack.claims("alice", kind="access"))), 401, "unauthenticated")
    assert stack.invoke(stack.http_event(stack.claims("alice", kind="id")))[0] == 200


def test_token_from_another_app_client_is_401(stack: BrokerStack) -> None:
    token = stack.cognito_tokens("alice", client_id=stack.other_client_id)["id_token"]
    assert_error(stack.invoke(stack.bearer_event(token)), 401, "unauthenticated")
    claims = jwt.decode(token, options={"verify_signature": False})
    assert_error(stack.invoke(stack.http_event(claims)), 401, "unauthenticated")


def test_expired_bearer_token_is_401(stack: BrokerStack, monkeypatch: pytest.MonkeyPatch) -> None:
    from token_broker import handler

    token = stack.cognito_tokens("alice")["id_token"]
    monkeypatch.setattr(handler, "system_clock", lambda: time.time() + 7200)
    handler.runtime.cache_clear()
    assert_error(stack.invoke(stack.bearer_event(token)), 401, "unauthenticated")


def test_token_signed_by_another_key_is_401(stack: BrokerStack) -> None:
    claims = stack.claims("alice")
    forger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = jwt.encode(claims, forger, algorithm="RS256", headers={"kid": "dummy"})
    assert_error(stack.invoke(stack.bearer_event(forged)), 401, "unauthenticated")


def test_unsigned_and_confused_algorithm_tokens_are_401(stack: BrokerStack) -> None:
    claims = stack.claims("alice")
    unsigned = jwt.encode(claims, key=None, algorithm="none", headers={"kid": "dummy"})
    assert_error(stack.invoke(stack.bearer_event(unsigned)), 401, "unauthenticated")
    # HS256 "signed" with the public key text: the classic algorithm-confusion attack.
    header = base64.urlsafe_b64encode(json.dumps({"alg": "HS256", "kid": "dummy"}).encode()).rstrip(b"=")
    payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=")
    confused = f"{header.decode()}.{payload.decode()}.c2lnbmF0dXJl"
    assert_error(stack.invoke(stack.bearer_event(confused)), 401, "unauthenticated")
    assert_error(stack.invoke(stack.bearer_event("not-a-jwt")), 401, "unauthenticated")


# --- Fail closed: entitlement -----------------------------------------------------------------------------


@pytest.mark.parametrize("user", ["carol", "dave", "erin"], ids=["unknown-user", "disabled-user", "disabled-tenant"])
def test_unentitled_callers_get_403_and_no_token(stack: BrokerStack, user: str) -> None:
    assert_error(stack.invoke(stack.http_event(stack.claims(user))), 403, "not_entitled")


def test_revoking_a_user_applies_to_the_next_request(stack: BrokerStack) -> None:
    event = stack.http_event(stack.claims("alice"))
    assert stack.invoke(event)[0] == 200
    stack.dynamodb.delete_item(TableName=stack.table, Key={"pk": {"S": f"USER#{stack.users['alice'].sub}"}})
    assert_error(stack.invoke(event), 403, "not_entitled")


def test_stored_attribute_cannot_replace_the_tenant_claim(stack: BrokerStack) -> None:
    from sam_local import aws_resources

    alice = stack.users["alice"]
    aws_resources.put_user(
        stack.dynamodb, stack.table, alice.sub, tableau_username=alice.tableau_username, tenant_id="acme",
        enabled=True, attributes={"tenant": "globex"},
    )  # fmt: skip
    assert_error(stack.invoke(stack.http_event(stack.claims("alice"))), 500, "configuration_error")


def test_attribute_may_not_shadow_a_registered_claim(stack: BrokerStack) -> None:
    from sam_local import aws_resources

    bob = stack.users["bob"]
    aws_resources.put_user(
        stack.dynamodb, stack.table, bob.sub, tableau_username=bob.tableau_username, tenant_id="globex",
        enabled=True, attributes={"sub": "admin@tableau.example"},
    )  # fmt: skip
    assert_error(stack.invoke(stack.http_event(stack.claims("bob"))), 500, "configuration_error")


def test_tenant_pointing_at_an_unlisted_secret_is_refused(stack: BrokerStack) -> None:
    from sam_local import aws_resources

    aws_resources.put_tenant(
        stack.dynamodb, stack.table, "globex", enabled=True, tableau_url="https://tableau.example.com",
        site="globex-site", scopes=["tableau:views:embed"],
        connected_app_secret="arn:aws:secretsmanager:us-east-1:123456789012:secret:someone-elses",
    )  # fmt: skip
    assert_error(stack.invoke(stack.http_event(stack.claims("bob"))), 500, "configuration_error")


def test_on_demand_access_claims_only_when_the_tenant_enables_them(stack: BrokerStack) -> None:
    from sam_local import aws_resources

    aws_resources.put_tenant(
        stack.dynamodb, stack.table, "globex", enabled=True, tableau_url="https://tableau.example.com",
        site="globex-site", scopes=["tableau:views:embed"],
        on_demand_access={"enabled": True, "groups": ["Globex Viewers"]},
    )  # fmt: skip
    bob = decode(stack, stack.invoke(stack.http_event(stack.claims("bob")))[2]["token"])
    alice = decode(stack, stack.invoke(stack.http_event(stack.claims("alice")))[2]["token"])
    assert bob["https://tableau.com/oda"] == "true"
    assert bob["https://tableau.com/groups"] == ["Globex Viewers"]
    assert not any(name.startswith("https://tableau.com/") for name in alice)


# --- Scopes -----------------------------------------------------------------------------------------------


def test_allowed_scopes_are_minted_as_an_array(stack: BrokerStack) -> None:
    body = {"scopes": ["tableau:views:embed", "tableau:views:embed_authoring"]}
    status, _, response = stack.invoke(stack.http_event(stack.claims("alice"), body))
    assert status == 200
    assert decode(stack, response["token"])["scp"] == body["scopes"]
    assert response["scopes"] == body["scopes"]


@pytest.mark.parametrize(
    ("user", "scopes"),
    [
        ("bob", ["tableau:views:embed_authoring"]),  # not allowed for the tenant
        ("alice", ["tableau:content:read"]),  # a REST scope: never for a browser
        ("alice", ["tableau:views:embed", "tableau:workbooks:*"]),
        ("alice", ["tableau:metrics:embed"]),  # retired, not enabled
    ],
)
def test_scope_escalation_is_403_not_a_silent_drop(stack: BrokerStack, user: str, scopes: list[str]) -> None:
    assert_error(stack.invoke(stack.http_event(stack.claims(user), {"scopes": scopes})), 403, "scope_not_allowed")


def test_user_scopes_narrow_the_tenant_scopes(stack: BrokerStack) -> None:
    from sam_local import aws_resources

    alice = stack.users["alice"]
    aws_resources.put_user(
        stack.dynamodb, stack.table, alice.sub, tableau_username=alice.tableau_username, tenant_id="acme",
        enabled=True, scopes=["tableau:views:embed"],
    )  # fmt: skip
    event = stack.http_event(stack.claims("alice"), {"scopes": ["tableau:views:embed_authoring"]})
    assert_error(stack.invoke(event), 403, "scope_not_allowed")


# --- Bad input --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    ["{not json", "[]", '{"scopes": "tableau:views:embed"}', '{"scopes": []}', '{"scope": ["x"]}', "x" * 5000],
    ids=["not-json", "array", "scopes-string", "scopes-empty", "unknown-field", "too-large"],
)
def test_malformed_body_is_400(stack: BrokerStack, body: str) -> None:
    assert_error(stack.invoke(stack.http_event(stack.claims("alice"), body)), 400, "invalid_request")


def test_base64_encoded_body_is_decoded(stack: BrokerStack) -> None:
    event = stack.http_event(stack.claims("alice"))
    event["body"] = base64.b64encode(b'{"scopes": ["tableau:views:embed_authoring"]}').decode()
    event["isBase64Encoded"] = True
    status, _, body = stack.invoke(event)
    assert status == 200 and body["scopes"] == ["tableau:views:embed_authoring"]


def test_other_methods_are_405(stack: BrokerStack) -> None:
    event = stack.http_event(stack.claims("alice"))
    event["requestContext"]["http"]["method"] = "GET"
    status, headers, _ = stack.invoke(event)
    assert status == 405 and headers["Allow"] == "POST"


# --- Secrets and dependencies -----------------------------------------------------------------------------


def test_malformed_secret_is_500_without_the_value(stack: BrokerStack) -> None:
    leaked_value = "this-value-must-never-be-printed-anywhere"
    stack.secretsmanager.put_secret_value(
        SecretId=stack.secret_arn, SecretString=json.dumps({"client_id": "c", "secret_value": leaked_value})
    )
    with captured_logs() as logs:
        status, headers, body = stack.invoke(stack.http_event(stack.claims("alice")))
    assert_error((status, headers, body), 500, "configuration_error")
    assert leaked_value not in logs.getvalue() + json.dumps(body)
    assert "secret lacks non-empty string field(s): secret_id" in logs.getvalue()


def test_dynamodb_unreachable_is_503_with_retry_after(stack: BrokerStack, monkeypatch: pytest.MonkeyPatch) -> None:
    from token_broker import handler

    monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", "http://127.0.0.1:9")
    handler.reset_runtime()
    status, headers, body = stack.invoke(stack.http_event(stack.claims("alice")))
    assert_error((status, headers, body), 503, "dependency_unavailable")
    assert int(headers["Retry-After"]) > 0


def test_secrets_manager_unreachable_is_503(stack: BrokerStack, monkeypatch: pytest.MonkeyPatch) -> None:
    from token_broker import handler

    monkeypatch.setenv("AWS_ENDPOINT_URL_SECRETS_MANAGER", "http://127.0.0.1:9")
    handler.reset_runtime()
    assert_error(stack.invoke(stack.http_event(stack.claims("alice"))), 503, "dependency_unavailable")


# Throttling, 5xx, resets and silent endpoints go through real sockets: tests/integration/test_faults_network.py


def test_jwks_unreachable_is_503(stack: BrokerStack, monkeypatch: pytest.MonkeyPatch) -> None:
    from token_broker import handler

    monkeypatch.setenv("COGNITO_JWKS_URL", "http://127.0.0.1:9/jwks.json")
    monkeypatch.setenv("JWKS_TIMEOUT_SECONDS", "1")
    handler.reset_runtime()
    token = stack.cognito_tokens("alice")["id_token"]
    assert_error(stack.invoke(stack.bearer_event(token)), 503, "dependency_unavailable")


def test_missing_table_is_a_500_configuration_error(stack: BrokerStack) -> None:
    stack.dynamodb.delete_table(TableName=stack.table)
    assert_error(stack.invoke(stack.http_event(stack.claims("alice"))), 500, "configuration_error")


def test_unusable_settings_refuse_to_issue(stack: BrokerStack, monkeypatch: pytest.MonkeyPatch) -> None:
    from token_broker import handler

    monkeypatch.setenv("TOKEN_LIFETIME_SECONDS", "900")
    handler.reset_runtime()
    assert_error(stack.invoke(stack.http_event(stack.claims("alice"))), 500, "configuration_error")


def test_warm_broker_keeps_its_cached_secret_until_the_ttl(stack: BrokerStack, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.support.broker_stack import new_connected_app_secret
    from token_broker import handler

    now = [time.time()]
    monkeypatch.setattr(handler, "system_clock", lambda: now[0])
    handler.runtime.cache_clear()
    event = stack.http_event(stack.claims("alice"))
    first = stack.invoke(event)[2]["token"]
    rotated = new_connected_app_secret()
    stack.secretsmanager.put_secret_value(SecretId=stack.secret_arn, SecretString=rotated.to_json())

    now[0] += 60
    assert jwt.get_unverified_header(stack.invoke(event)[2]["token"])["kid"] == stack.secret.secret_id
    now[0] += 300
    assert jwt.get_unverified_header(stack.invoke(event)[2]["token"])["kid"] == rotated.secret_id
    assert jwt.get_unverified_header(first)["kid"] == stack.secret.secret_id


def test_moto_reset_between_tests_leaves_no_state(moto_server_url: str) -> None:
    reset_moto(moto_server_url)


def test_logs_never_contain_tokens_secrets_or_authorization_headers(stack: BrokerStack) -> None:
    # Given every kind of request the suite makes: successes, denials, bad input, bearer tokens
    bearer = stack.cognito_tokens("bob")["id_token"]
    events = [
        stack.http_event(stack.claims("alice")),
        stack.http_event(stack.claims("bob"), {"scopes": ["tableau:views:embed"]}),
        stack.rest_event(stack.claims("alice")),
        stack.bearer_event(bearer),
        stack.http_event(stack.claims("carol")),
        stack.http_event(stack.claims("alice"), {"scopes": ["tableau:content:read"]}),
        stack.http_event(stack.claims("alice"), "{not json"),
        stack.bearer_event(bearer + "x"),
    ]
    with captured_logs() as logs:
        results = [stack.invoke(event) for event in events]
    output = logs.getvalue()
    issued = [body["token"] for status, _, body in results if status == 200]

    # Then the log has the structured facts but none of the credentials
    assert len(issued) == 4
    assert '"message":"token issued"' in output and '"tenant":"acme"' in output
    assert stack.secret.secret_value not in output
    for token in [*issued, bearer]:
        assert token not in output
        assert token.split(".")[2] not in output  # not even the signature alone
    assert "Bearer" not in output and "authorization" not in output.lower()
    assert "eyJ" not in output  # no JWT header of any kind


def _emf_lines(output: str) -> list[dict[str, Any]]:
    """Every line that carries metrics: Powertools' metric lines and the `token issued` line with its metric."""
    lines = (json.loads(line) for line in output.splitlines() if line.startswith("{"))
    return [line for line in lines if "_aws" in line]


def test_metrics_count_tokens_denials_and_dependency_failures(
    stack: BrokerStack, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from token_broker import handler

    capsys.readouterr()
    with captured_logs() as logs:  # the issued token's metric rides on its log line; denials print their own
        stack.invoke(stack.http_event(stack.claims("alice")))
        (issued,) = _emf_lines(logs.getvalue())
    stack.invoke(stack.http_event(stack.claims("carol")))
    monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", "http://127.0.0.1:9")
    handler.reset_runtime()
    stack.invoke(stack.http_event(stack.claims("alice")))
    denied, failed = _emf_lines(capsys.readouterr().out)

    assert issued["TokensIssued"] == [1.0]
    assert denied["TokenDenied"] == [1.0]
    assert denied["reason"] == "not_entitled"
    assert failed["DependencyFailure"] == [1.0]
    assert (failed["reason"], failed["dependency"]) == ("dependency_unavailable", "dynamodb")
    assert {m["Namespace"] for line in (issued, denied, failed) for m in line["_aws"]["CloudWatchMetrics"]} == {
        "TableauTokenBroker"
    }
