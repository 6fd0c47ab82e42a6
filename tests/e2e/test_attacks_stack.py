"""The attack catalogue through the running local stack: HTTP → local HTTP API (JWT authorizer) → broker.

The HTTP-reachable classes only; each case is refused (by the gateway's authorizer or by the broker), no token
comes back, and neither the response nor the broker's log file carries the presented token, the connected-app
secret or the hostile claim value. Hostile-but-signed tokens use moto's fixed pool key (see tests/attacks/tokens.py):
the stack's moto signs its pool's tokens with it too.
"""

from __future__ import annotations

import base64
import http.client
import json
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import boto3
import pytest
import requests

from sam_local import aws_resources
from tests.attacks import tokens
from tests.attacks.cases import AUDIENCE_CASES, ISSUER_CASES, SUB_CASES, TIME_CASES, TOKEN_USE_CASES, Mutation, Pool
from tests.attacks.tally import attack_tally  # noqa: F401 - autouse: counts every catalogue case
from tests.attacks.verdicts import leaks, token_sensitive

pytestmark = [pytest.mark.e2e, pytest.mark.attack]


@dataclass
class Target:
    stack: dict[str, Any]
    pool: Pool
    secret_value: str
    tokens: dict[str, str]
    origin: str

    def claims(self) -> dict[str, Any]:
        return tokens.claims_of(self.tokens["id_token"])


@pytest.fixture(scope="module")
def target(local_stack: dict[str, Any]) -> Target:
    """The stack under attack; its own user's real token is answered with a token (the control for every case)."""
    session = boto3.session.Session(region_name=local_stack["region"])
    endpoint = local_stack["aws_endpoint_url"]
    cognito = session.client("cognito-idp", endpoint_url=endpoint)
    secrets = session.client("secretsmanager", endpoint_url=endpoint)
    acme = next(u for u in local_stack["users"] if u["tenant"] == "acme")
    pool_id = local_stack["user_pool_id"]
    found = Target(
        stack=local_stack,
        pool=Pool(
            issuer=f"https://cognito-idp.{local_stack['region']}.amazonaws.com/{pool_id}",
            client_id=local_stack["app_client_id"],
            other_client_id=aws_resources.create_app_client(cognito, pool_id, "attack-other-client"),
            region=local_stack["region"],
            pool_id=pool_id,
        ),
        secret_value=json.loads(secrets.get_secret_value(SecretId=local_stack["secret_arn"])["SecretString"])[
            "secret_value"
        ],
        tokens=aws_resources.sign_in(cognito, local_stack["app_client_id"], acme["username"], acme["password"]),
        origin=local_stack["demo_url"],
    )
    control = requests.post(
        local_stack["api_url"],
        headers={"Origin": found.origin, "Authorization": f"Bearer {found.tokens['id_token']}"},
        json={},
        timeout=10,
    )
    assert control.status_code == 200 and "token" in control.json(), control.text
    return found


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    text: str
    logs: str


class Pace:
    """Stay under the route's throttling (template: 25 requests/s, burst 50) so the cases, and the e2e tests after
    them on the same stack, are answered rather than throttled; a 429 that still happens is waited out."""

    def __init__(self, per_second: float) -> None:
        self.interval = 1.0 / per_second
        self.last = 0.0

    def wait(self) -> None:
        delay = self.last + self.interval - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        self.last = time.monotonic()


PACE = Pace(per_second=15)


def post(target: Target, headers: list[tuple[str, str]], body: bytes = b"{}") -> Answer:
    """A raw POST (repeated headers and any bytes allowed); returns the answer and the broker log it produced."""
    for _ in range(20):
        PACE.wait()
        answer = _post_once(target, headers, body)
        if answer.status != 429:
            return answer
    raise AssertionError("the stack kept throttling")


def _post_once(target: Target, headers: list[tuple[str, str]], body: bytes) -> Answer:
    log_file = target.stack["log_file"]
    with open(log_file, "rb") as handle:
        offset = handle.seek(0, 2)
    url = urlsplit(target.stack["api_url"])
    connection = http.client.HTTPConnection(url.hostname or "127.0.0.1", url.port, timeout=10)
    try:
        connection.putrequest("POST", url.path or "/")
        for name, value in [("Origin", target.origin), ("Content-Type", "application/json"), *headers]:
            connection.putheader(name, value)
        connection.putheader("Content-Length", str(len(body)))
        connection.endheaders(body)
        response = connection.getresponse()
        answer = Answer(
            status=response.status,
            headers={k.lower(): v for k, v in response.getheaders()},
            text=response.read().decode("utf-8", "replace"),
            logs="",
        )
    finally:
        connection.close()
    with open(log_file, "rb") as handle:
        handle.seek(offset)
        answer.logs = handle.read().decode("utf-8", "replace")
    return answer


def assert_stack_refused(answer: Answer, statuses: set[int], sensitive: list[str]) -> None:
    assert answer.status in statuses, (answer.status, answer.text)
    body = json.loads(answer.text)
    assert isinstance(body, dict) and "token" not in body, answer.text
    if "error" in body:  # the broker answered: its error shape exactly
        assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}, body
    sensitive = [s for s in sensitive if s]
    assert not leaks(answer.text, sensitive), "the response carries a credential or claim value"
    assert not leaks(answer.logs, sensitive), f"the broker log carries {leaks(answer.logs, sensitive)}"
    if answer.status == 401:
        assert answer.headers.get("www-authenticate", "").startswith("Bearer"), "401 without a Bearer challenge"


def bearer(token: str) -> list[tuple[str, str]]:
    return [("Authorization", f"Bearer {token}")]


def refused_token(target: Target, token: str, statuses: set[int] | None = None, extra: list[str] | None = None) -> None:
    answer = post(target, bearer(token))
    assert_stack_refused(answer, statuses or {401}, [target.secret_value, *token_sensitive(token), *(extra or [])])


# --- token forgeries ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("alg", ["none", "None", "NONE", "nOnE"])
@pytest.mark.parametrize("signature", ["", "c2lnbmF0dXJl"], ids=["empty-sig", "junk-sig"])
def test_stack_attack_alg_none(target: Target, alg: str, signature: str) -> None:
    refused_token(target, tokens.unsigned(target.claims(), alg, signature))


@pytest.mark.parametrize("alg", ["HS256", "HS384", "HS512"])
@pytest.mark.parametrize("form", ["pem", "der", "jwk"])
def test_stack_attack_key_confusion(target: Target, alg: str, form: str) -> None:
    refused_token(target, tokens.hmac_signed(target.claims(), alg, tokens.pool_public_forms()[form]))


@pytest.mark.parametrize(
    "header",
    [
        {"kid": "attacker"},
        {"kid": "../../../../dev/null"},
        {"kid": tokens.POOL_KID, "jku": "http://127.0.0.1:9/jwks.json"},
        {"kid": tokens.POOL_KID, "x5u": "http://127.0.0.1:9/cert.pem"},
        {"kid": tokens.POOL_KID, "jwk": {"kty": "RSA", "n": "AQAB", "e": "AQAB"}},
    ],
    ids=["kid-unknown", "kid-traversal", "jku", "x5u", "jwk"],
)
def test_stack_attack_header_injection(target: Target, header: dict[str, Any]) -> None:
    token = tokens.build({"alg": "RS256", **header}, target.claims(), key=tokens.attacker_key())
    refused_token(target, token)


@pytest.mark.parametrize("case", ["flip", "stripped", "two-segments", "payload-edited", "resigned-by-attacker"])
def test_stack_attack_signature_tampering(target: Target, case: str) -> None:
    head, payload, signature = tokens.split(target.tokens["id_token"])
    claims = {**target.claims(), "sub": "someone-else"}
    token = {
        "flip": f"{head}.{payload}.{signature[:-2]}{'A' if signature[-2] != 'A' else 'B'}{signature[-1]}",
        "stripped": f"{head}.{payload}.",
        "two-segments": f"{head}.{payload}",
        "payload-edited": f"{head}.{tokens.b64url_json(claims)}.{signature}",
        "resigned-by-attacker": tokens.build(
            {"alg": "RS256", "kid": tokens.POOL_KID}, claims, key=tokens.attacker_key()
        ),
    }[case]
    refused_token(target, token, extra=token_sensitive(target.tokens["id_token"]))


@pytest.mark.parametrize("case", ["payload-array", "payload-null", "payload-not-json", "payload-deeply-nested"])
def test_stack_attack_payload_structure(target: Target, case: str) -> None:
    raw = {
        "payload-array": tokens.b64url_json([target.claims()]),
        "payload-null": tokens.b64url_json(None),
        "payload-not-json": tokens.b64url(b"{sub: alice}"),
        "payload-deeply-nested": tokens.b64url(('{"sub":' + "[" * 5000 + "]" * 5000 + "}").encode()),
    }[case]
    refused_token(target, tokens.build({"alg": "RS256", "kid": tokens.POOL_KID}, None, raw_payload=raw))


# --- claims in tokens the pool's key signed --------------------------------------------------------------------------


def signed_case(target: Target, mutation: Mutation, statuses: set[int]) -> None:
    original = target.claims()
    claims = mutation(original, time.time(), target.pool)
    hostile = [
        v if isinstance(v, str) else json.dumps(v, allow_nan=True)
        for k, v in claims.items()
        if k != "sub" and original.get(k) != v
    ]
    refused_token(target, tokens.signed(claims), statuses, [h for h in hostile if len(h.strip()) >= 8])


# Through the gateway the broker sees claims as strings: the type cases belong to the broker's own bearer path.
STACK_TIME_CASES = sorted(n for n, (_, paths) in TIME_CASES.items() if "gateway" in paths or n.endswith("-future"))


@pytest.mark.parametrize("case", STACK_TIME_CASES)
def test_stack_attack_time_claims(target: Target, case: str) -> None:
    signed_case(target, TIME_CASES[case][0], {401})


@pytest.mark.parametrize("case", sorted(ISSUER_CASES))
def test_stack_attack_issuer(target: Target, case: str) -> None:
    signed_case(target, ISSUER_CASES[case], {401})


@pytest.mark.parametrize("case", sorted(AUDIENCE_CASES))
def test_stack_attack_audience_client(target: Target, case: str) -> None:
    signed_case(target, AUDIENCE_CASES[case], {401})


@pytest.mark.parametrize("case", sorted(TOKEN_USE_CASES))
def test_stack_attack_token_use(target: Target, case: str) -> None:
    signed_case(target, TOKEN_USE_CASES[case], {401})


@pytest.mark.parametrize("case", sorted(SUB_CASES))
def test_stack_attack_sub(target: Target, case: str) -> None:
    signed_case(target, SUB_CASES[case], {401, 403})


# --- the Authorization header --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "case",
    [
        "basic", "basic-with-token", "empty", "scheme-only", "two-tokens", "joined-values", "two-headers",
        "two-headers-valid-first", "other-scheme", "lowercase-scheme-forged",
    ],
)  # fmt: skip
def test_stack_attack_authorization_header(target: Target, case: str) -> None:
    valid = target.tokens["id_token"]
    head, _, signature = tokens.split(valid)
    forged = f"{head}.{tokens.b64url_json({**target.claims(), 'sub': 'someone-else'})}.{signature}"
    basic = base64.b64encode(b"alice@acme.example:password").decode()
    headers = {
        "basic": [("Authorization", f"Basic {basic}")],
        "basic-with-token": [("Authorization", f"Basic {valid}")],
        "empty": [("Authorization", "")],
        "scheme-only": [("Authorization", "Bearer")],
        "two-tokens": [("Authorization", f"Bearer {forged} {valid}")],
        "joined-values": [("Authorization", f"Bearer {forged},Bearer {valid}")],
        "two-headers": [("Authorization", f"Bearer {forged}"), ("Authorization", f"Bearer {valid}")],
        "two-headers-valid-first": [("Authorization", f"Bearer {valid}"), ("authorization", f"Bearer {forged}")],
        "other-scheme": [("Authorization", f"Token {valid}")],
        "lowercase-scheme-forged": [("Authorization", f"bearer {forged}")],
    }[case]
    answer = post(target, headers)
    assert_stack_refused(answer, {401}, [target.secret_value, *token_sensitive(valid), *token_sensitive(forged)])


# --- the body ------------------------------------------------------------------------------------------------------

NESTED = b"[" * 2048 + b"]" * 2048


@pytest.mark.parametrize("caller", ["alice", "anonymous"])
@pytest.mark.parametrize(
    "case",
    ["too-large", "nested-4kb", "invalid-utf8", "lone-surrogate-bytes", "escaped-surrogate", "not-json", "array"],
)
def test_stack_attack_body(target: Target, case: str, caller: str) -> None:
    body = {
        "too-large": json.dumps({"scopes": ["x" * 5000]}).encode(),
        "nested-4kb": NESTED,
        "invalid-utf8": b'{"scopes":["\xff\xfe"]}',
        "lone-surrogate-bytes": b'{"scopes":["\xed\xa0\x80"]}',  # UTF-8-style encoding of U+D800: not UTF-8
        "escaped-surrogate": b'{"scopes":["\\ud800"]}',
        "not-json": b"{scopes",
        "array": b"[]",
    }[case]
    token = target.tokens["id_token"]
    answer = post(target, bearer(token) if caller == "alice" else [], body)
    # Without a token the gateway's authorizer answers 401 before the body is looked at.
    statuses = {401} if caller == "anonymous" else ({400, 403} if case == "escaped-surrogate" else {400})
    assert_stack_refused(answer, statuses, [target.secret_value, *token_sensitive(token)])
