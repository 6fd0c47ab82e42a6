"""Minting and inspecting Tableau connected-app JWTs (pure logic)."""

from __future__ import annotations

import importlib
import json
import time
from typing import Any

import jwt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tableau_broker import tableau_jwt
from tableau_broker.errors import TokenRuleViolation
from tableau_broker.scopes import REST_SIGN_IN
from tableau_broker.signing_secret import ConnectedAppSecret
from tableau_broker.tableau_jwt import OnDemandAccess, encode_hs256, mint_token
from token_broker_ops.inspection import inspect_token

SECRET = ConnectedAppSecret("client-123", "secret-456", "s" * 32)
NOW = 1_800_000_000.0


def mint(**overrides: Any) -> tableau_jwt.MintedToken:
    args: dict[str, Any] = {
        "username": "alice@example.com",
        "scopes": ["tableau:views:embed"],
        "attributes": {"tenant": "acme"},
        "lifetime_seconds": 300,
        "now": NOW,
    }
    args.update(overrides)
    return mint_token(SECRET, **args)


def claims_of(token: str) -> dict[str, Any]:
    decoded: dict[str, Any] = jwt.decode(
        token,
        SECRET.secret_value,
        algorithms=["HS256"],
        audience="tableau",
        options={"verify_exp": False, "verify_iat": False, "verify_nbf": False},
    )
    return decoded


def codes(findings: list[tableau_jwt.Finding]) -> set[str | None]:
    return {f.tableau_code for f in findings if f.level == "error"}


def test_minted_token_has_every_claim_tableau_requires() -> None:
    minted = mint()
    claims = claims_of(minted.token)
    assert jwt.get_unverified_header(minted.token) == {
        "alg": "HS256",
        "typ": "JWT",
        "kid": "secret-456",
        "iss": "client-123",
    }
    assert claims == {
        "iss": "client-123",
        "sub": "alice@example.com",
        "aud": "tableau",
        "exp": int(NOW) + 300,
        "iat": int(NOW) - 5,
        "nbf": int(NOW) - 5,
        "jti": minted.jti,
        "scp": ["tableau:views:embed"],
        "tenant": "acme",
    }
    assert inspect_token(minted.token, now=NOW, secret=SECRET) == []


def test_scp_is_an_array_even_for_one_scope_and_duplicates_collapse() -> None:
    claims = claims_of(mint(scopes=("tableau:views:embed", "tableau:views:embed")).token)
    assert claims["scp"] == ["tableau:views:embed"]


def test_each_mint_is_fresh_and_nothing_is_built_at_import() -> None:
    importlib.reload(tableau_jwt)
    first, second = mint(now=NOW), mint(now=NOW + 60)
    assert first.jti != second.jti
    assert claims_of(second.token)["exp"] - claims_of(first.token)["exp"] == 60


@pytest.mark.parametrize(
    "name",
    ["sub", "scp", "exp", "aud", "iss", "jti", "kid", "alg", "typ", "SUB", "https://tableau.com/oda", "", " pad"],
)
def test_attribute_may_not_shadow_reserved_claims(name: str) -> None:
    with pytest.raises(TokenRuleViolation):
        mint(attributes={name: "x"})


@pytest.mark.parametrize("value", [1, True, None, {"a": "b"}, ["a", 1], "x" * 2000])
def test_attribute_values_are_strings_or_string_arrays(value: Any) -> None:
    with pytest.raises(TokenRuleViolation):
        mint(attributes={"region": value})


def test_attribute_arrays_and_sets_become_json_arrays() -> None:
    claims = claims_of(mint(attributes={"tenant": "acme", "region": {"us", "eu"}}).token)
    assert claims["region"] == ["eu", "us"]


@pytest.mark.parametrize("scope", ["tableau:content:read", "tableau:workbooks:*", "openid", "tableau:metrics:embed2"])
def test_rest_and_unknown_scopes_are_never_minted_for_browsers(scope: str) -> None:
    with pytest.raises(TokenRuleViolation):
        mint(scopes=["tableau:views:embed", scope])


def test_rest_scopes_only_when_explicitly_allowed() -> None:
    claims = claims_of(mint(scopes=["tableau:content:read"], kind=REST_SIGN_IN, attributes={}).token)
    assert claims["scp"] == ["tableau:content:read"]


@pytest.mark.parametrize(("lifetime", "skew"), [(600, 5), (0, 5), (601, 0)])
def test_lifetime_beyond_ten_minutes_is_refused(lifetime: int, skew: int) -> None:
    with pytest.raises(TokenRuleViolation):
        mint(lifetime_seconds=lifetime, clock_skew_seconds=skew)


def test_on_demand_access_claims() -> None:
    claims = claims_of(mint(on_demand_access=OnDemandAccess(groups=("Viewers",))).token)
    assert claims["https://tableau.com/oda"] == "true"
    assert claims["https://tableau.com/groups"] == ["Viewers"]
    with pytest.raises(TokenRuleViolation):
        mint(on_demand_access=OnDemandAccess(groups=()), scopes=["tableau:insights:embed"])


def test_oversized_token_is_refused() -> None:
    with pytest.raises(TokenRuleViolation):
        mint(attributes={f"a{i}": "x" * 1000 for i in range(5)})


# --- inspect_token: one case per rule ---------------------------------------------------------------------


def forge(
    header: dict[str, Any] | None = None, payload: dict[str, Any] | None = None, drop: tuple[str, ...] = ()
) -> str:
    base_header = {"kid": SECRET.secret_id, "iss": SECRET.client_id, "typ": "JWT"}
    base_payload = claims_of(mint().token)
    base_header.update(header or {})
    base_payload.update(payload or {})
    for name in drop:
        base_header.pop(name, None)
        base_payload.pop(name, None)
    return jwt.encode(base_payload, SECRET.secret_value, algorithm="HS256", headers=base_header)


@pytest.mark.parametrize(
    ("token_factory", "code"),
    [
        (lambda: forge(payload={"scp": "tableau:views:embed"}), "10084"),
        (lambda: forge(payload={"aud": "tableau-server"}), "10084"),
        (lambda: forge(drop=("sub",)), "10084"),
        (lambda: forge(drop=("jti",)), "10084"),
        (lambda: forge(drop=("kid",)), "10083"),
        (lambda: forge(drop=("iss",)), "10083"),
        (lambda: forge(payload={"exp": int(NOW) + 3600}), "10096"),
        (lambda: forge(payload={"exp": int(NOW) - 10}), "16"),
        (lambda: forge(payload={"iat": int(NOW) + 120, "nbf": int(NOW) + 120, "exp": int(NOW) + 300}), "16"),
        (lambda: forge(payload={"kid": "x"}), "10084"),
        (lambda: forge(payload={"https://tableau.com/admin": "true"}), "10084"),
        (lambda: jwt.encode({"sub": "a"}, key=None, algorithm="none", headers={"kid": "k"}), "10087"),
        (lambda: "not.a.jwt", "10084"),
        (lambda: mint().token[:-4] + "AAAA", "127"),
        (lambda: forge(header={"kid": "another-secret"}), "10085"),
        (lambda: forge(header={"iss": "other"}, payload={"iss": "other"}), "10089"),
        (lambda: forge(payload={"https://tableau.com/oda": "true", "scp": ["tableau:insights:embed"]}), "10084"),
        (lambda: forge(header={"iss": 7}), "10084"),
    ],
    ids=[
        "scp-string", "aud", "no-sub", "no-jti", "no-kid", "no-iss", "exp-too-long", "expired", "clock-ahead",
        "header-claim-in-payload", "tableau-namespace", "alg-none", "garbage", "bad-signature", "unknown-kid",
        "wrong-client", "oda-scope", "iss-not-string",
    ],
)  # fmt: skip
def test_inspect_reports_the_tableau_error_code(token_factory: Any, code: str) -> None:
    assert code in codes(inspect_token(token_factory(), now=NOW, secret=SECRET))


def test_inspect_warns_about_rest_scopes_in_a_browser_token() -> None:
    token = mint(scopes=["tableau:content:read"], kind=REST_SIGN_IN, attributes={}).token
    findings = inspect_token(token, now=NOW)
    assert [f.rule for f in findings if f.level == "warning"] == ["scp"]
    assert not codes(findings)


def test_inspect_never_needs_the_secret_to_decode() -> None:
    payload = json.dumps(claims_of(mint().token))
    assert "tenant" in payload
    assert inspect_token(mint().token, now=time.time() + 10_000) != []


# --- The HS256 encoder is PyJWT's output, byte for byte ---------------------------------------------------------

_claim_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(max_size=40),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=10,
)


@settings(max_examples=300, deadline=None)
@given(
    claims=st.dictionaries(st.text(min_size=1, max_size=20), _claim_values, max_size=12),
    client_id=st.text(min_size=1, max_size=40),
    secret_id=st.text(min_size=1, max_size=40),
    value=st.text(min_size=32, max_size=80),  # PyJWT warns below 32 bytes
)
def test_encode_hs256_is_pyjwt_encode_byte_for_byte(
    claims: dict[str, object], client_id: str, secret_id: str, value: str
) -> None:
    secret = ConnectedAppSecret(client_id=client_id, secret_id=secret_id, secret_value=value)
    expected = jwt.encode(claims, value, algorithm="HS256", headers={"kid": secret_id, "iss": client_id, "typ": "JWT"})
    assert encode_hs256(claims, secret) == expected


def test_new_jti_is_a_random_version_4_uuid() -> None:
    import uuid

    jtis = [tableau_jwt.new_jti() for _ in range(2000)]
    assert len(set(jtis)) == len(jtis)
    for jti in jtis:
        parsed = uuid.UUID(jti)
        assert str(parsed) == jti and parsed.version == 4 and parsed.variant == uuid.RFC_4122
    # every variant nibble (8, 9, a, b) and every hex digit elsewhere turns up: no bit is stuck
    assert {jti[19] for jti in jtis} == set("89ab")
    assert {c for jti in jtis for c in jti.replace("-", "")} == set("0123456789abcdef")
