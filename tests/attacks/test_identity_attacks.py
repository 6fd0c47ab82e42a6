"""The attack catalogue, identity half: hostile tokens and claims through ``lambda_handler`` against moto.

Each class is one test, parametrised over its cases. A case passes when the broker refuses with the right
status and error code, returns no token, and neither the body nor any log line (root logger at DEBUG) carries
the presented token, the connected-app secret or the hostile claim value.
"""

from __future__ import annotations

import base64
import json
import math
import time
from typing import Any

import pytest

from local_stack.api_gateway import gateway_claim_value
from tests.attacks import tokens
from tests.attacks.cases import (
    AUDIENCE_CASES,
    ISSUER_CASES,
    LITERAL_CASES,
    SUB_CASES,
    TIME_CASES,
    TOKEN_USE_CASES,
    Mutation,
    Pool,
)
from tests.attacks.conftest import Invoke
from tests.attacks.verdicts import assert_refused, token_sensitive
from tests.support.broker_stack import BrokerStack, _rest_date

pytestmark = pytest.mark.attack

UNAUTHENTICATED = (401, "unauthenticated")
NOT_ENTITLED = (403, "not_entitled")
GATEWAY_PATHS = ["http-v2", "rest-v1"]


def pool_of(stack: BrokerStack) -> Pool:
    return Pool(
        issuer=stack.pool.issuer,
        client_id=stack.pool.client_id,
        other_client_id=stack.other_client_id,
        region=stack.pool.region,
        pool_id=stack.pool.pool_id,
    )


def hostile_values(original: dict[str, Any], mutated: dict[str, Any]) -> list[str]:
    """Claim values the attacker introduced (as strings long enough to search for)."""
    values = []
    for name, value in mutated.items():
        if original.get(name) != value and name != "sub":
            text = value if isinstance(value, str) else json.dumps(value, allow_nan=True)
            if len(text.strip()) >= 8:
                values.append(text)
    return values


def gateway_event(stack: BrokerStack, path: str, claims: dict[str, Any]) -> dict[str, Any]:
    """The authorizer claims as API Gateway hands them over (HTTP API: strings; REST API: dates for exp/iat)."""
    if path == "http-v2":
        return stack.http_event(claims)
    event = stack.rest_event({})
    rest: dict[str, str] = {}
    for name, value in claims.items():
        if name in ("exp", "iat") and isinstance(value, int | float) and not isinstance(value, bool):
            rest[name] = _rest_date(int(value)) if math.isfinite(value) else gateway_claim_value(value)
        else:
            rest[name] = gateway_claim_value(value)
    event["requestContext"]["authorizer"]["claims"] = rest
    return event


def run_claims_case(
    stack: BrokerStack, invoke: Invoke, mutation: Mutation, path: str, *allowed: tuple[int, str]
) -> None:
    original = stack.claims("alice")
    claims = mutation(original, time.time(), pool_of(stack))
    sensitive = [stack.secret.secret_value, *hostile_values(original, claims)]
    if path == "bearer":
        token = tokens.signed(claims)
        result, logs = invoke(stack.bearer_event(token))
        sensitive += token_sensitive(token)
    else:
        result, logs = invoke(gateway_event(stack, path, claims))
    assert_refused(result, *allowed, sensitive=sensitive, logs=logs)


# --- alg none -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("alg", ["none", "None", "NONE", "nOnE", "", None, "RS256 ", "rs256", "absent"])
@pytest.mark.parametrize("signature", ["", "c2lnbmF0dXJl", "real"], ids=["empty-sig", "junk-sig", "real-sig"])
def test_attack_alg_none(stack: BrokerStack, invoke: Invoke, alg: str | None, signature: str) -> None:
    claims = stack.claims("alice")
    if signature == "real":
        signature = tokens.split(stack.cognito_tokens("alice")["id_token"])[2]
    if alg == "absent":
        token = f"{tokens.b64url_json({'kid': tokens.POOL_KID, 'typ': 'JWT'})}.{tokens.b64url_json(claims)}.{signature}"
    else:
        token = tokens.unsigned(claims, alg, signature)  # type: ignore[arg-type]
    result, logs = invoke(stack.bearer_event(token))
    assert_refused(result, UNAUTHENTICATED, sensitive=[stack.secret.secret_value, *token_sensitive(token)], logs=logs)


# --- key confusion ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("alg", ["HS256", "HS384", "HS512"])
@pytest.mark.parametrize("form", ["pem", "pem-pkcs1", "der", "jwk", "pem-no-newline"])
def test_attack_key_confusion(stack: BrokerStack, invoke: Invoke, alg: str, form: str) -> None:
    # The pool's public key is public (its JWKS): used as an HMAC secret it would let anyone mint tokens.
    token = tokens.hmac_signed(stack.claims("alice"), alg, tokens.pool_public_forms()[form])
    result, logs = invoke(stack.bearer_event(token))
    assert_refused(result, UNAUTHENTICATED, sensitive=token_sensitive(token), logs=logs)


# --- header injection: kid, jku, x5u, jwk, crit ---------------------------------------------------------------------


def _public_jwk(key: Any, kid: str) -> dict[str, Any]:
    from jwt.algorithms import RSAAlgorithm

    jwk: dict[str, Any] = json.loads(RSAAlgorithm.to_jwk(key.public_key()))
    return {**jwk, "kid": kid, "alg": "RS256", "use": "sig"}


HEADER_CASES = [
    "kid-unknown", "kid-path-traversal", "kid-sql", "kid-missing", "kid-empty", "kid-number", "kid-array",
    "kid-null", "kid-ec-key-in-set", "kid-oct-key-in-set", "jku-attacker", "jku-attacker-pool-kid",
    "x5u-attacker", "jwk-embedded", "jwk-embedded-pool-kid", "crit-unknown-extension", "crit-absent-param",
    "crit-not-a-list", "b64-false",
]  # fmt: skip


@pytest.mark.parametrize("case", HEADER_CASES)
def test_attack_header_injection(
    stack: BrokerStack, invoke: Invoke, key_server: Any, monkeypatch: pytest.MonkeyPatch, case: str
) -> None:
    from cryptography.hazmat.primitives.asymmetric import ec

    from token_broker import handler

    claims = stack.claims("alice")
    attacker = tokens.attacker_key()
    attacker_jwk = _public_jwk(attacker, "attacker")
    key_server.document = {"keys": [attacker_jwk]}
    base = {"alg": "RS256", "typ": "JWT"}
    pool_signed: dict[str, dict[str, Any]] = {
        "kid-missing": {},
        "kid-empty": {"kid": ""},
        "kid-number": {"kid": 1},
        "kid-array": {"kid": [tokens.POOL_KID]},
        "kid-null": {"kid": None},
        "crit-unknown-extension": {"kid": tokens.POOL_KID, "crit": ["x-hostile"], "x-hostile": True},
        "crit-absent-param": {"kid": tokens.POOL_KID, "crit": ["exp"]},
        "crit-not-a-list": {"kid": tokens.POOL_KID, "crit": "x-hostile", "x-hostile": True},
        "b64-false": {"kid": tokens.POOL_KID, "b64": False, "crit": ["b64"]},
    }
    attacker_signed: dict[str, dict[str, Any]] = {
        "kid-unknown": {"kid": "attacker"},
        "kid-path-traversal": {"kid": "../../../../dev/null"},
        "kid-sql": {"kid": "x' UNION SELECT 'key' --"},
        "jku-attacker": {"kid": "attacker", "jku": f"{key_server.url}/jwks.json"},
        "jku-attacker-pool-kid": {"kid": tokens.POOL_KID, "jku": f"{key_server.url}/jwks.json"},
        "x5u-attacker": {"kid": "attacker", "x5u": f"{key_server.url}/cert.pem"},
        "jwk-embedded": {"kid": "attacker", "jwk": attacker_jwk},
        "jwk-embedded-pool-kid": {"kid": tokens.POOL_KID, "jwk": {**attacker_jwk, "kid": tokens.POOL_KID}},
    }
    if case in ("kid-ec-key-in-set", "kid-oct-key-in-set"):
        # The broker's own key set (here served from loopback) holds a non-RSA key next to the pool's RSA key.
        from jwt.algorithms import ECAlgorithm, RSAAlgorithm

        ec_key = ec.generate_private_key(ec.SECP256R1())
        ec_jwk = {**json.loads(ECAlgorithm.to_jwk(ec_key.public_key())), "kid": "ec-key", "use": "sig"}
        oct_jwk = {"kty": "oct", "k": tokens.b64url(b"shared-secret-of-32-bytes-length!"), "kid": "oct-key"}
        pool_jwk = {**json.loads(RSAAlgorithm.to_jwk(tokens.pool_public_key())), "kid": tokens.POOL_KID}
        key_server.document = {"keys": [pool_jwk, ec_jwk, oct_jwk]}
        monkeypatch.setenv("COGNITO_JWKS_URL", f"{key_server.url}/.well-known/jwks.json")
        handler.reset_runtime()
        token = tokens.build({**base, "kid": "ec-key" if case.startswith("kid-ec") else "oct-key"}, claims)
    elif case in pool_signed:
        token = tokens.build({**base, **pool_signed[case]}, claims)
    else:
        token = tokens.build({**base, **attacker_signed[case]}, claims, key=attacker)
    fetched_before = list(key_server.requests)

    try:
        result, logs = invoke(stack.bearer_event(token))
    finally:
        handler.reset_runtime()  # forget the key set URL this case configured

    assert_refused(result, UNAUTHENTICATED, sensitive=token_sensitive(token), logs=logs)
    if not case.startswith(("kid-ec", "kid-oct")):
        assert key_server.requests == fetched_before, "the broker fetched a key from a URL the token named"


# --- tampered and stripped signatures -------------------------------------------------------------------------------


def _flip(text: str, index: int) -> str:
    return text[:index] + ("A" if text[index] != "A" else "B") + text[index + 1 :]


def _tamper(case: str, alice: str, bob: str) -> str:
    head, payload, signature = tokens.split(alice)
    _bob_head, bob_payload, bob_signature = tokens.split(bob)
    claims = tokens.claims_of(alice)
    return {
        "flip-last-char": f"{head}.{payload}.{_flip(signature, -2)}",
        "flip-first-char": f"{head}.{payload}.{_flip(signature, 0)}",
        "stripped": f"{head}.{payload}.",
        "two-segments": f"{head}.{payload}",
        "one-segment": payload,
        "four-segments": f"{head}.{payload}.{signature}.{signature}",
        "truncated": f"{head}.{payload}.{signature[:-4]}",
        "non-base64": f"{head}.{payload}.!!!!{signature[4:]}",
        "swapped-payload": f"{head}.{bob_payload}.{signature}",
        "swapped-signature": f"{head}.{payload}.{bob_signature}",
        "payload-edited": f"{head}.{tokens.b64url_json({**claims, 'sub': tokens.claims_of(bob)['sub']})}.{signature}",
        "header-edited": f"{tokens.b64url_json({'alg': 'RS256', 'kid': tokens.POOL_KID, 'x': 1})}.{payload}."
        + signature,
        "resigned-by-attacker": tokens.build(
            {"alg": "RS256", "kid": tokens.POOL_KID}, claims, key=tokens.attacker_key()
        ),
        "whitespace-inside": f"{head}. {payload}.{signature}",
    }[case]


TAMPER_CASES = [
    "flip-last-char", "flip-first-char", "stripped", "two-segments", "one-segment", "four-segments", "truncated",
    "non-base64", "swapped-payload", "swapped-signature", "payload-edited", "header-edited",
    "resigned-by-attacker", "whitespace-inside",
]  # fmt: skip


@pytest.mark.parametrize("case", TAMPER_CASES)
def test_attack_signature_tampering(stack: BrokerStack, invoke: Invoke, case: str) -> None:
    alice, bob = stack.cognito_tokens("alice")["id_token"], stack.cognito_tokens("bob")["id_token"]
    token = _tamper(case, alice, bob)
    result, logs = invoke(stack.bearer_event(token))
    assert_refused(
        result, UNAUTHENTICATED, sensitive=[*token_sensitive(token), *token_sensitive(alice), bob], logs=logs
    )


# --- time claims ----------------------------------------------------------------------------------------------------

TIME_PARAMS = [
    pytest.param(name, path, id=f"{name}-{path}")
    for name, (_, paths) in TIME_CASES.items()
    for path in (["bearer"] if paths == {"bearer"} else ["bearer", *GATEWAY_PATHS])
] + [pytest.param(name, "bearer", id=f"{name}-bearer") for name in sorted(LITERAL_CASES)]


@pytest.mark.parametrize(("case", "path"), TIME_PARAMS)
def test_attack_time_claims(stack: BrokerStack, invoke: Invoke, case: str, path: str) -> None:
    if case in LITERAL_CASES:
        run_literal_case(stack, invoke, case)
    else:
        run_claims_case(stack, invoke, TIME_CASES[case][0], path, UNAUTHENTICATED)


def run_literal_case(stack: BrokerStack, invoke: Invoke, case: str) -> None:
    """A number literal Python's JSON parser overflows to infinity (1e400), in a token the pool's key signed."""
    name, literal = LITERAL_CASES[case]
    claims = {**stack.claims("alice"), name: "__LITERAL__"}
    raw = json.dumps(claims, separators=(",", ":")).replace('"__LITERAL__"', literal)
    token = tokens.build({"alg": "RS256", "kid": tokens.POOL_KID}, None, raw_payload=tokens.b64url(raw.encode()))
    result, logs = invoke(stack.bearer_event(token))
    assert_refused(result, UNAUTHENTICATED, sensitive=token_sensitive(token), logs=logs)


# --- issuer, audience, token_use, sub -------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["bearer", *GATEWAY_PATHS])
@pytest.mark.parametrize("case", sorted(ISSUER_CASES))
def test_attack_issuer(stack: BrokerStack, invoke: Invoke, case: str, path: str) -> None:
    run_claims_case(stack, invoke, ISSUER_CASES[case], path, UNAUTHENTICATED)


@pytest.mark.parametrize("path", ["bearer", *GATEWAY_PATHS])
@pytest.mark.parametrize("case", sorted(AUDIENCE_CASES))
def test_attack_audience_client(stack: BrokerStack, invoke: Invoke, case: str, path: str) -> None:
    run_claims_case(stack, invoke, AUDIENCE_CASES[case], path, UNAUTHENTICATED)


@pytest.mark.parametrize("path", ["bearer", *GATEWAY_PATHS])
@pytest.mark.parametrize("case", sorted(TOKEN_USE_CASES))
def test_attack_token_use(stack: BrokerStack, invoke: Invoke, case: str, path: str) -> None:
    run_claims_case(stack, invoke, TOKEN_USE_CASES[case], path, UNAUTHENTICATED)


@pytest.mark.parametrize("path", ["bearer", *GATEWAY_PATHS])
@pytest.mark.parametrize("case", sorted(SUB_CASES))
def test_attack_sub(stack: BrokerStack, invoke: Invoke, case: str, path: str) -> None:
    # A sub that is a string but no user's is "not entitled"; anything else is "unauthenticated". Never a token.
    run_claims_case(stack, invoke, SUB_CASES[case], path, UNAUTHENTICATED, NOT_ENTITLED)


# --- payload structure ----------------------------------------------------------------------------------------------


def _structure(case: str, claims: dict[str, Any]) -> str:
    header = {"alg": "RS256", "kid": tokens.POOL_KID, "typ": "JWT"}
    raw_payloads = {
        "payload-array": tokens.b64url_json([claims]),
        "payload-string": tokens.b64url_json(json.dumps(claims)),
        "payload-number": tokens.b64url_json(4102444800),
        "payload-null": tokens.b64url_json(None),
        "payload-true": tokens.b64url_json(True),
        "payload-not-json": tokens.b64url(b"{sub: alice}"),
        "payload-invalid-utf8": tokens.b64url(b'{"sub":"\xff\xfe"}'),
        "payload-empty": "",
        "payload-not-base64": "!!!!",
        "payload-deeply-nested": tokens.b64url(('{"sub":' + "[" * 5000 + "]" * 5000 + "}").encode()),
    }
    if case == "payload-huge":  # 200 KB before any signature check
        return tokens.build(header, {**claims, "pad": "x" * 200_000}, key=tokens.attacker_key())
    if case in raw_payloads:
        return tokens.build(header, None, raw_payload=raw_payloads[case])
    signing_input = {
        "header-array": f"{tokens.b64url_json([header])}.{tokens.b64url_json(claims)}",
        "header-not-json": f"{tokens.b64url(b'alg:RS256')}.{tokens.b64url_json(claims)}",
        "header-alg-array": f"{tokens.b64url_json({**header, 'alg': ['RS256']})}.{tokens.b64url_json(claims)}",
    }[case]
    signature = tokens.rs256(signing_input.encode("ascii"), tokens.pool_private_key())
    return f"{signing_input}.{tokens.b64url(signature)}"


STRUCTURE_CASES = [
    "payload-array", "payload-string", "payload-number", "payload-null", "payload-true", "payload-not-json",
    "payload-invalid-utf8", "payload-empty", "payload-not-base64", "payload-huge", "payload-deeply-nested",
    "header-array", "header-not-json", "header-alg-array",
]  # fmt: skip


@pytest.mark.parametrize("case", STRUCTURE_CASES)
def test_attack_payload_structure(stack: BrokerStack, invoke: Invoke, case: str) -> None:
    token = _structure(case, stack.claims("alice"))
    result, logs = invoke(stack.bearer_event(token))
    assert_refused(result, UNAUTHENTICATED, sensitive=token_sensitive(token), logs=logs)


# --- the Authorization header ---------------------------------------------------------------------------------------


def _authorization(case: str, valid: str, forged: str) -> dict[str, Any] | list[Any] | None:
    basic = base64.b64encode(b"alice@acme.example:Correct-Horse-9-Battery").decode()
    variants: dict[str, dict[str, Any] | list[Any] | None] = {
        "basic-credentials": {"authorization": f"Basic {basic}"},
        "basic-with-token": {"authorization": f"Basic {valid}"},
        "empty": {"authorization": ""},
        "scheme-only": {"authorization": "Bearer"},
        "scheme-and-space": {"authorization": "Bearer "},
        "lowercase-scheme-forged": {"authorization": f"bearer {forged}"},
        "extra-spaces-forged": {"authorization": f"Bearer    {forged}"},
        "two-tokens-forged-first": {"authorization": f"Bearer {forged} {valid}"},
        "two-tokens-valid-first": {"authorization": f"Bearer {valid} {forged}"},
        "joined-duplicate-header": {"authorization": f"Bearer {forged},Bearer {valid}"},
        "two-headers-forged-first": {"Authorization": f"Bearer {forged}", "authorization": f"Bearer {valid}"},
        "two-headers-valid-first": {"authorization": f"Bearer {valid}", "AUTHORIZATION": f"Bearer {forged}"},
        "other-scheme": {"authorization": f"Token {valid}"},
        "tab-separator": {"authorization": f"Bearer\t{forged}"},
        "quoted-token": {"authorization": f'Bearer "{forged}"'},
        "value-is-list": {"authorization": [f"Bearer {valid}"]},
        "headers-is-list": [["authorization", f"Bearer {valid}"]],
        "headers-is-null": None,
    }
    return variants[case]


AUTHORIZATION_CASES = [
    "basic-credentials", "basic-with-token", "empty", "scheme-only", "scheme-and-space", "lowercase-scheme-forged",
    "extra-spaces-forged", "two-tokens-forged-first", "two-tokens-valid-first", "joined-duplicate-header",
    "two-headers-forged-first", "two-headers-valid-first", "other-scheme", "tab-separator", "quoted-token",
    "value-is-list", "headers-is-list", "headers-is-null",
]  # fmt: skip


@pytest.mark.parametrize("case", AUTHORIZATION_CASES)
def test_attack_authorization_header(stack: BrokerStack, invoke: Invoke, case: str) -> None:
    valid = stack.cognito_tokens("alice")["id_token"]
    forged_claims = {**tokens.claims_of(valid), "sub": stack.users["bob"].sub}
    head, _, signature = tokens.split(valid)
    forged = f"{head}.{tokens.b64url_json(forged_claims)}.{signature}"
    event = stack.bearer_event(None)
    event["headers"] = _authorization(case, valid, forged)
    result, logs = invoke(event)
    assert_refused(result, UNAUTHENTICATED, sensitive=[*token_sensitive(valid), *token_sensitive(forged)], logs=logs)
