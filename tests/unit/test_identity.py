"""Claim checks of both paths and the bearer path's token parsing, against a real RS256 key set."""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from tableau_broker.config import CognitoSettings, cognito_settings_from_env
from tableau_broker.errors import Unauthenticated
from tableau_broker.identity import JwksVerifier, identity_from_claims, numeric_date, resolve_caller

ISSUER = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Pool1"
SETTINGS = cognito_settings_from_env({"COGNITO_USER_POOL_ID": "us-east-1_Pool1", "COGNITO_APP_CLIENT_IDS": "client-1"})
NOW = 1_800_000_000.0
ID_CLAIMS = {
    "iss": ISSUER,
    "aud": "client-1",
    "token_use": "id",
    "sub": "sub-1",
    "exp": str(int(NOW) + 600),
    "iat": str(int(NOW) - 10),
    "cognito:username": "alice",
}


def test_id_and_access_claims() -> None:
    assert identity_from_claims(ID_CLAIMS, SETTINGS, now=NOW).sub == "sub-1"
    access = {**ID_CLAIMS, "token_use": "access", "client_id": "client-1", "aud": None, "username": "alice"}
    identity = identity_from_claims(access, SETTINGS, now=NOW)
    assert (identity.token_use, identity.client_id, identity.username) == ("access", "client-1", "alice")


@pytest.mark.parametrize(
    "change",
    [
        {"iss": "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Other"},
        {"iss": ISSUER + "/"},  # compared exactly, as AWS's verifier and RFC 8725 do
        {"iss": ISSUER + "//"},
        {"iss": ISSUER.upper()},
        {"aud": "client-2"},
        {"token_use": "access"},  # an access token's client is in client_id, which is absent
        {"token_use": None},
        {"token_use": ["id"]},
        {"token_use": {"id": 1}},
        {"exp": str(int(NOW) - 120)},
        {"exp": "soon"},
        {"exp": None},
        {"sub": ""},
        {"sub": " "},
        {"sub": "a#b"},
        {"sub": "TENANT#acme"},
        {"sub": "a\nb"},
        {"sub": "a\x00b"},
        {"sub": "a\u202eb"},
        {"sub": ["a"]},
        {"sub": None},
    ],
)
def test_claims_fail_closed(change: dict[str, Any]) -> None:
    with pytest.raises(Unauthenticated) as caught:
        identity_from_claims({**ID_CLAIMS, **change}, SETTINGS, now=NOW)
    for value in change.values():
        if isinstance(value, str) and len(value.strip()) > 2:
            assert value not in caught.value.reason and value not in caught.value.message


def test_missing_exp_is_refused() -> None:
    claims = {k: v for k, v in ID_CLAIMS.items() if k != "exp"}
    with pytest.raises(Unauthenticated):
        identity_from_claims(claims, SETTINGS, now=NOW)


@pytest.mark.parametrize(
    "value",
    ["nan", "NaN", "inf", "Infinity", "1e400", "1e9", " 1800000000", "1800000000 ", "+1800000000", "-1",
     "1_800_000_000", "\uff11\uff18" + "\uff10" * 8, "true", "1800000000.5", "0x6b49d200",
     "Fri Jan 01 00:00:00 UTC 2100 ",
     "Fri Jan  1 00:00:00 UTC 2100", "fri jan 01 00:00:00 utc 2100", "9" * 40],
)  # fmt: skip
def test_gateway_dates_are_parsed_strictly(value: str) -> None:
    assert numeric_date(value, from_gateway=True) is None
    with pytest.raises(Unauthenticated):
        identity_from_claims({**ID_CLAIMS, "exp": value}, SETTINGS, now=NOW)


@pytest.mark.parametrize(
    "value", [float("nan"), float("inf"), -float("inf"), 10**400, True, False, "1800000600", None, [1], -5]
)
def test_verified_dates_must_be_finite_json_numbers(value: object) -> None:
    assert numeric_date(value, from_gateway=False) is None


def test_date_formats_from_both_gateway_kinds() -> None:
    assert numeric_date("1800000000", from_gateway=True) == 1_800_000_000
    assert numeric_date(1_800_000_000, from_gateway=False) == 1_800_000_000
    assert numeric_date(1_800_000_000.5, from_gateway=False) == 1_800_000_000.5
    assert numeric_date("Fri Jan 15 08:00:00 UTC 2027", from_gateway=True) == 1_800_000_000
    assert numeric_date("Fri Jan 15 08:00:00 UTC 2027", from_gateway=False) is None


def _verdict(settings: CognitoSettings, **times: str) -> bool:
    try:
        identity_from_claims({**ID_CLAIMS, **times}, settings, now=NOW)
    except Unauthenticated:
        return False
    return True


def test_one_tolerance_applies_to_every_time_claim() -> None:
    tol = SETTINGS.clock_tolerance_seconds
    assert tol == 5
    # exp: accepted while now < exp + tolerance
    assert _verdict(SETTINGS, exp=str(int(NOW) - tol + 1))
    assert not _verdict(SETTINGS, exp=str(int(NOW) - tol))
    assert not _verdict(SETTINGS, exp=str(int(NOW) - 30))  # no undocumented 30 s grace
    # nbf and iat: refused when later than now + tolerance
    for claim in ("nbf", "iat"):
        assert _verdict(SETTINGS, **{claim: str(int(NOW) + tol)})
        assert not _verdict(SETTINGS, **{claim: str(int(NOW) + tol + 1)})
        assert not _verdict(SETTINGS, **{claim: "soon"})


def test_tolerance_is_configurable() -> None:
    env = {"COGNITO_USER_POOL_ID": "us-east-1_Pool1", "COGNITO_APP_CLIENT_IDS": "client-1"}
    wide = cognito_settings_from_env({**env, "COGNITO_CLOCK_TOLERANCE_SECONDS": "60"})
    assert _verdict(wide, exp=str(int(NOW) - 59), iat=str(int(NOW) + 60))
    strict = cognito_settings_from_env({**env, "COGNITO_CLOCK_TOLERANCE_SECONDS": "0"})
    assert not _verdict(strict, exp=str(int(NOW)))
    assert not _verdict(strict, iat=str(int(NOW) + 1))


# --- the bearer path, against a real key set served over HTTP ----------------------------------------------

SIGNER = rsa.generate_private_key(public_exponent=65537, key_size=2048)
EC_SIGNER = ec.generate_private_key(ec.SECP256R1())


def _jwk(key: Any, kid: str, **extra: str) -> dict[str, Any]:
    if isinstance(key, rsa.RSAPublicKey):
        jwk: dict[str, Any] = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key))
    else:
        jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(key))
    return {**jwk, "kid": kid, **extra}


@pytest.fixture(scope="module")
def jwks_url() -> Iterator[str]:
    body = json.dumps(
        {
            "keys": [
                _jwk(SIGNER.public_key(), "rsa-1", alg="RS256", use="sig"),
                _jwk(EC_SIGNER.public_key(), "ec-1"),
                _jwk(SIGNER.public_key(), "rsa-enc", use="enc"),
                _jwk(SIGNER.public_key(), "rsa-512", alg="RS512"),
            ]
        }
    ).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/.well-known/jwks.json"
    server.shutdown()
    server.server_close()


@pytest.fixture
def verifier(jwks_url: str) -> tuple[JwksVerifier, CognitoSettings]:
    settings = cognito_settings_from_env(
        {"COGNITO_USER_POOL_ID": "us-east-1_Pool1", "COGNITO_APP_CLIENT_IDS": "client-1", "COGNITO_JWKS_URL": jwks_url}
    )
    return JwksVerifier(settings), settings


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _signed_raw(payload: bytes, kid: str = "rsa-1") -> str:
    header = _b64(json.dumps({"alg": "RS256", "kid": kid, "typ": "JWT"}).encode())
    body = _b64(payload)
    signer = jwt.algorithms.RSAAlgorithm(jwt.algorithms.RSAAlgorithm.SHA256)
    return f"{header}.{body}.{_b64(signer.sign(f'{header}.{body}'.encode(), SIGNER))}"


def _bearer_claims(now: float) -> dict[str, Any]:
    return {**ID_CLAIMS, "exp": int(now) + 600, "iat": int(now) - 5}


def _bearer(token: str) -> dict[str, Any]:
    return {"headers": {"authorization": f"Bearer {token}"}, "requestContext": {}}


def test_a_valid_bearer_token_is_accepted(verifier: tuple[JwksVerifier, CognitoSettings]) -> None:
    v, settings = verifier
    now = time.time()
    token = _signed_raw(json.dumps(_bearer_claims(now)).encode())
    assert resolve_caller(_bearer(token), settings, v, now=now).sub == "sub-1"
    tampered = token.rsplit(".", 1)[0] + "." + _b64(b"\x00" * 256)
    with pytest.raises(Unauthenticated):
        resolve_caller(_bearer(tampered), settings, v, now=now)


@pytest.mark.parametrize(
    "payload",
    [b"not json", b"null", b"[1, 2]", b'"a string"', b"42", b"\xff\xfe\x00", b'{"exp": NaN}', b"[" * 5000],
    ids=["not-json", "null", "array", "string", "number", "not-utf8", "nan-constant", "deeply-nested"],
)
def test_a_signed_payload_that_is_not_a_json_object_is_401(
    verifier: tuple[JwksVerifier, CognitoSettings], payload: bytes
) -> None:
    v, settings = verifier
    with pytest.raises(Unauthenticated):
        resolve_caller(_bearer(_signed_raw(payload)), settings, v, now=time.time())


@pytest.mark.parametrize(
    ("claim", "value"),
    [
        ("token_use", ["id"]),
        ("token_use", {"id": True}),
        ("exp", "NUMBER_PLUS_600"),  # a string: only gateway-stringified claims may be strings
        ("exp", True),
        ("iat", "NUMBER"),
        ("iat", False),
        ("nbf", "NUMBER"),
        ("sub", "x#y"),
        ("sub", 5),
    ],
)
def test_signed_claims_of_the_wrong_type_are_401(
    verifier: tuple[JwksVerifier, CognitoSettings], claim: str, value: object
) -> None:
    v, settings = verifier
    now = time.time()
    if value == "NUMBER_PLUS_600":
        value = str(int(now) + 600)
    elif value == "NUMBER":
        value = str(int(now))
    token = _signed_raw(json.dumps({**_bearer_claims(now), claim: value}).encode())
    with pytest.raises(Unauthenticated):
        resolve_caller(_bearer(token), settings, v, now=now)


@pytest.mark.parametrize("exp", ["NaN", "Infinity", "-Infinity", "1e400"])
def test_non_finite_exp_in_a_signed_token_is_401(verifier: tuple[JwksVerifier, CognitoSettings], exp: str) -> None:
    v, settings = verifier
    now = time.time()
    claims = json.dumps({**_bearer_claims(now), "exp": 0}).replace('"exp": 0', f'"exp": {exp}')
    with pytest.raises(Unauthenticated):
        resolve_caller(_bearer(_signed_raw(claims.encode())), settings, v, now=now)


@pytest.mark.parametrize("kid", ["ec-1", "rsa-enc", "rsa-512", "no-such-key"])
def test_keys_that_are_not_rs256_signing_keys_are_401(verifier: tuple[JwksVerifier, CognitoSettings], kid: str) -> None:
    v, settings = verifier
    now = time.time()
    token = _signed_raw(json.dumps(_bearer_claims(now)).encode(), kid=kid)
    with pytest.raises(Unauthenticated):
        resolve_caller(_bearer(token), settings, v, now=now)


def test_duplicate_claims_are_401(verifier: tuple[JwksVerifier, CognitoSettings]) -> None:
    v, settings = verifier
    now = time.time()
    body = json.dumps(_bearer_claims(now))[:-1] + ', "sub": "someone-else"}'
    with pytest.raises(Unauthenticated):
        resolve_caller(_bearer(_signed_raw(body.encode())), settings, v, now=now)
