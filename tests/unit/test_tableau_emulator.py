"""The Tableau emulator's embed sign-in, views, admin API and state API.

Tokens are minted here with PyJWT directly: the emulator is the independent judge of the product's tokens,
so these tests must not use the product's minting code either.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jwt
import pytest
import requests
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tableau_emulator import (
    EMBED_SIGNIN_PATH,
    ERROR_TABLE,
    RULES,
    SESSION_COOKIE,
    ConnectedAppInfo,
    DemoRow,
    EmulatorError,
    EmulatorState,
    InvalidDomainAllowlistError,
    NotFoundError,
    SecretLimitExceededError,
    create_app,
    load_seed_file,
    seed_demo,
    user_attribute_includes,
)

NOW = 1_900_000_000.0
ORIGIN = "http://127.0.0.1:5173"
SITE = "acme"
OTHER_SITE = "globex-site"
VIEW_URL = f"/t/{SITE}/views/TenantSales/Orders"
ALICE = "alice@acme.test"
ODA_CLAIM = "https://tableau.com/oda"
GROUPS_CLAIM = "https://tableau.com/groups"


@dataclass
class World:
    state: EmulatorState
    client: FlaskClient
    app: ConnectedAppInfo
    disabled_app: ConnectedAppInfo
    other_app: ConnectedAppInfo
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def secret_id(self) -> str:
        return self.app.secrets[0].id

    @property
    def secret_value(self) -> str:
        return self.app.secrets[0].value

    def claims(self, **overrides: Any) -> dict[str, Any]:
        base: dict[str, Any] = {
            "iss": self.app.client_id,
            "sub": ALICE,
            "aud": "tableau",
            "exp": NOW + 300,
            "iat": NOW - 5,
            "nbf": NOW - 5,
            "jti": str(uuid.uuid4()),
            "scp": ["tableau:views:embed"],
            "tenant": "acme",
        }
        base.update(overrides)
        return {k: v for k, v in base.items() if v is not DROP}

    def mint(
        self,
        claims: dict[str, Any] | None = None,
        *,
        kid: str | None = None,
        header_iss: str | None = None,
        key: str | None = None,
        alg: str = "HS256",
        drop_header: tuple[str, ...] = (),
    ) -> str:
        payload = claims if claims is not None else self.claims()
        headers: dict[str, Any] = {"kid": kid or self.secret_id, "iss": header_iss or self.app.client_id}
        for name in drop_header:
            headers.pop(name)
        if alg == "none":
            return jwt.encode(payload, "", algorithm="none", headers=headers)
        return jwt.encode(payload, key or self.secret_value, algorithm=alg, headers=headers)

    def signin(self, token: str, *, site: str = SITE, origin: str | None = ORIGIN) -> TestResponse:
        headers = {"Origin": origin} if origin else {}
        return self.client.post(EMBED_SIGNIN_PATH, json={"siteName": site, "jwt": token}, headers=headers)


DROP = object()


def build_world() -> World:
    state = EmulatorState(clock=lambda: NOW)
    state.add_site(SITE)
    state.add_user(SITE, ALICE)
    state.add_user(SITE, "bob@globex.test")
    state.add_user(SITE, "admin@acme.test", "SiteAdministratorCreator")
    app = state.add_connected_app(SITE, "token-broker", domain_allowlist=["127.0.0.1", "*.example.com"])
    disabled = state.add_connected_app(SITE, "disabled", enabled=False)
    state.add_site(OTHER_SITE)
    state.add_user(OTHER_SITE, ALICE)
    other = state.add_connected_app(OTHER_SITE, "other-broker")
    client = create_app(state).test_client()
    return World(state=state, client=client, app=app, disabled_app=disabled, other_app=other)


@pytest.fixture
def world() -> World:
    return build_world()


def errors_of(resp: TestResponse) -> list[dict[str, Any]]:
    body = resp.get_json()
    assert isinstance(body, dict)
    return list(body["result"]["errors"])


def row_tenants(html: str) -> list[str]:
    return re.findall(r'<tr data-tenant="([^"]*)"', html)


def row_count(html: str) -> int:
    m = re.search(r'<span id="row-count">(\d+)</span>', html)
    assert m is not None
    return int(m.group(1))


# ------------------------------------------------------------------ table-driven rejection cases

# A case builds (token, siteName, Origin) for a world; it may act on the world first (e.g. redeem a jti).
Case = Callable[[World], tuple[str, str, str | None]]


def _replayed(w: World) -> tuple[str, str, str | None]:
    token = w.mint()
    assert w.signin(token).status_code == 200
    return token, SITE, ORIGIN


def _max_five_minutes(w: World) -> tuple[str, str, str | None]:
    w.state.configure_site(SITE, max_jwt_lifetime_minutes=5)
    return w.mint(w.claims(iat=NOW, exp=NOW + 301)), SITE, ORIGIN


def _oda_unlicensed(w: World) -> tuple[str, str, str | None]:
    claims = w.claims(sub="guest@partner.test", **{ODA_CLAIM: "true", GROUPS_CLAIM: ["partners"]})
    return w.mint(claims), SITE, ORIGIN


def _oda_known_user_unlicensed(w: World) -> tuple[str, str, str | None]:
    return w.mint(w.claims(**{ODA_CLAIM: "true"})), SITE, ORIGIN


def ok(token_fn: Callable[[World], str], site: str = SITE, origin: str | None = ORIGIN) -> Case:
    return lambda w: (token_fn(w), site, origin)


EMBED_CASES: list[tuple[str, str, Case]] = [
    ("malformed_token", "three-garbage-parts", ok(lambda w: "abc.def.ghi")),
    ("malformed_token", "not-a-jws", ok(lambda w: "not-a-token")),
    ("kid_missing", "no-kid", ok(lambda w: w.mint(drop_header=("kid",)))),
    (
        "iss_missing",
        "no-iss-anywhere",
        ok(lambda w: w.mint(w.claims(iss=DROP), drop_header=("iss",))),
    ),
    ("issuer_mismatch", "header-vs-payload", ok(lambda w: w.mint(w.claims(iss=w.other_app.client_id)))),
    ("alg_not_hs256", "alg-none", ok(lambda w: w.mint(alg="none"))),
    ("alg_not_hs256", "alg-hs512", ok(lambda w: w.mint(alg="HS512", key=w.secret_value * 2))),
    ("site_unknown", "unknown-site", ok(lambda w: w.mint(), site="no-such-site")),
    (
        "app_unknown",
        "unknown-client-id",
        ok(lambda w: w.mint(w.claims(iss=(cid := str(uuid.uuid4()))), header_iss=cid)),
    ),
    (
        "app_unknown",
        "app-of-another-site",
        ok(
            lambda w: w.mint(
                w.claims(iss=w.other_app.client_id),
                header_iss=w.other_app.client_id,
                kid=w.other_app.secrets[0].id,
                key=w.other_app.secrets[0].value,
            )
        ),
    ),
    (
        "app_disabled",
        "disabled-app",
        ok(
            lambda w: w.mint(
                w.claims(iss=w.disabled_app.client_id),
                header_iss=w.disabled_app.client_id,
                kid=w.disabled_app.secrets[0].id,
                key=w.disabled_app.secrets[0].value,
            )
        ),
    ),
    ("kid_unknown", "unknown-kid", ok(lambda w: w.mint(kid=str(uuid.uuid4())))),
    ("signature_invalid", "signed-with-another-key", ok(lambda w: w.mint(key="x" * 44))),
    ("aud_invalid", "aud-missing", ok(lambda w: w.mint(w.claims(aud=DROP)))),
    ("aud_invalid", "aud-wrong-case", ok(lambda w: w.mint(w.claims(aud="Tableau")))),
    ("aud_invalid", "aud-array", ok(lambda w: w.mint(w.claims(aud=["tableau"])))),
    ("sub_missing", "sub-missing", ok(lambda w: w.mint(w.claims(sub=DROP)))),
    ("sub_missing", "sub-empty", ok(lambda w: w.mint(w.claims(sub="")))),
    ("exp_missing", "exp-missing", ok(lambda w: w.mint(w.claims(exp=DROP)))),
    ("exp_missing", "exp-string", ok(lambda w: w.mint(w.claims(exp=str(NOW + 300))))),
    ("time_claim_not_number", "iat-string", ok(lambda w: w.mint(w.claims(iat="now")))),
    ("time_claim_not_number", "nbf-bool", ok(lambda w: w.mint(w.claims(nbf=True)))),
    ("jti_missing", "jti-missing", ok(lambda w: w.mint(w.claims(jti=DROP)))),
    ("scp_invalid", "scp-bare-string", ok(lambda w: w.mint(w.claims(scp="tableau:views:embed")))),
    ("scp_invalid", "scp-missing", ok(lambda w: w.mint(w.claims(scp=DROP)))),
    ("scp_invalid", "scp-empty", ok(lambda w: w.mint(w.claims(scp=[])))),
    ("scp_invalid", "scp-non-string", ok(lambda w: w.mint(w.claims(scp=["tableau:views:embed", 7])))),
    ("scp_no_embed_scope", "rest-scope-only", ok(lambda w: w.mint(w.claims(scp=["tableau:content:read"])))),
    ("scp_no_embed_scope", "retired-metrics", ok(lambda w: w.mint(w.claims(scp=["tableau:metrics:embed"])))),
    ("groups_invalid", "groups-string", ok(lambda w: w.mint(w.claims(**{GROUPS_CLAIM: "partners"})))),
    ("exp_beyond_max", "exp-iat-601s", ok(lambda w: w.mint(w.claims(iat=NOW, exp=NOW + 601)))),
    ("exp_beyond_max", "no-iat-exp-601s", ok(lambda w: w.mint(w.claims(iat=DROP, exp=NOW + 601)))),
    ("exp_beyond_max", "backdated-iat", ok(lambda w: w.mint(w.claims(iat=NOW - 3600, exp=NOW + 60)))),
    ("exp_beyond_max", "site-max-5-min", _max_five_minutes),
    ("expired", "expired-1s-ago", ok(lambda w: w.mint(w.claims(iat=NOW - 60, nbf=DROP, exp=NOW - 1)))),
    ("expired", "exp-equals-now", ok(lambda w: w.mint(w.claims(iat=NOW - 60, nbf=DROP, exp=NOW)))),
    ("nbf_in_future", "nbf-6s-ahead", ok(lambda w: w.mint(w.claims(nbf=NOW + 6)))),
    ("iat_in_future", "clock-ahead-6s", ok(lambda w: w.mint(w.claims(iat=NOW + 6, nbf=DROP, exp=NOW + 300)))),
    ("origin_not_allowed", "foreign-origin", ok(lambda w: w.mint(), origin="http://evil.test")),
    ("origin_not_allowed", "bare-parent-of-wildcard", ok(lambda w: w.mint(), origin="https://example.com")),
    ("origin_not_allowed", "no-origin-header", ok(lambda w: w.mint(), origin=None)),
    ("oda_not_licensed", "oda-unknown-user", _oda_unlicensed),
    ("oda_not_licensed", "oda-known-user", _oda_known_user_unlicensed),
    ("user_unknown", "unknown-user", ok(lambda w: w.mint(w.claims(sub="mallory@evil.test")))),
    ("user_unknown", "username-case-differs", ok(lambda w: w.mint(w.claims(sub=ALICE.upper())))),
    ("user_unknown", "oda-claim-not-exactly-true", ok(lambda w: w.mint(w.claims(sub="x@y.test", **{ODA_CLAIM: True})))),
    ("jti_replayed", "replayed-jti", _replayed),
]


def test_every_embed_rule_of_the_table_has_a_case() -> None:
    covered = {rule for rule, _, _ in EMBED_CASES}
    expected = {r.name for r in ERROR_TABLE if r.applies_to in ("embed", "both")}
    assert covered == expected


def test_error_table_codes_are_tableau_codes() -> None:
    documented = {5, 16, 67, 126, 127, 128, 133, 10083, 10084, 10085, 10087, 10089, 10090, 10096}
    assert {r.code for r in ERROR_TABLE} <= documented
    assert len(RULES) == len(ERROR_TABLE)  # rule names are unique


@pytest.mark.parametrize(
    ("rule", "case"), [(r, c) for r, _, c in EMBED_CASES], ids=[f"{r}:{i}" for r, i, _ in EMBED_CASES]
)
def test_embed_signin_rejects(world: World, rule: str, case: Case) -> None:
    token, site, origin = case(world)
    resp = world.signin(token, site=site, origin=origin)
    assert resp.status_code == 401
    [error] = errors_of(resp)
    assert error["code"] == RULES[rule].code
    assert error["emulatorRule"] == rule
    assert SESSION_COOKIE not in resp.headers.get("Set-Cookie", "")
    assert token not in resp.get_data(as_text=True)


# ------------------------------------------------------------------------------ acceptance edges


@pytest.mark.parametrize(
    "claims",
    [
        pytest.param({"iat": NOW, "nbf": NOW, "exp": NOW + 600}, id="exactly-10-minutes"),
        pytest.param({"iat": NOW + 5, "nbf": NOW + 5, "exp": NOW + 300}, id="clock-ahead-within-leeway"),
        pytest.param({"iat": DROP, "nbf": DROP, "exp": NOW + 540}, id="no-iat-no-nbf"),
        pytest.param({"scp": ["tableau:views:embed_authoring"]}, id="authoring-scope"),
        pytest.param({"scp": ["tableau:insights:embed"]}, id="pulse-scope"),
        pytest.param({"scp": ["tableau:content:read", "tableau:views:embed"]}, id="embed-among-others"),
        pytest.param({"iss": DROP}, id="iss-in-header-only"),
    ],
)
def test_embed_signin_accepts_edges(world: World, claims: dict[str, Any]) -> None:
    assert world.signin(world.mint(world.claims(**claims))).status_code == 200


def test_iss_in_payload_only_is_accepted(world: World) -> None:
    assert world.signin(world.mint(drop_header=("iss",))).status_code == 200


def test_retired_metrics_scope_is_accepted_when_the_site_opts_in(world: World) -> None:
    world.state.configure_site(SITE, accept_metrics_embed_scope=True)
    assert world.signin(world.mint(world.claims(scp=["tableau:metrics:embed"]))).status_code == 200


@pytest.mark.parametrize("origin", ["http://127.0.0.1:8000", "https://app.example.com", "https://a.b.example.com"])
def test_allowlisted_origins_are_accepted(world: World, origin: str) -> None:
    assert world.signin(world.mint(), origin=origin).status_code == 200


def test_app_without_allowlist_accepts_any_origin(world: World) -> None:
    world.state.set_domain_allowlist(SITE, world.app.client_id, None)
    assert world.signin(world.mint(), origin="https://anywhere.test").status_code == 200
    assert world.signin(world.mint(), origin=None).status_code == 200


def test_secret_rotation_overlap_both_secrets_work_until_one_is_deleted(world: World) -> None:
    second = world.state.add_secret(SITE, world.app.client_id)
    assert world.signin(world.mint()).status_code == 200
    assert world.signin(world.mint(kid=second.id, key=second.value)).status_code == 200
    world.state.delete_secret(SITE, world.app.client_id, world.secret_id)
    [error] = errors_of(world.signin(world.mint()))
    assert error["code"] == 10085
    assert world.signin(world.mint(kid=second.id, key=second.value)).status_code == 200


# ---------------------------------------------------------------------------------- success path


def test_success_sets_session_cookie_and_cors(world: World) -> None:
    resp = world.signin(world.mint())
    assert resp.status_code == 200
    body = resp.get_json()
    assert body["result"]["user"]["name"] == ALICE
    assert body["result"]["site"]["contentUrl"] == SITE
    cookie = resp.headers["Set-Cookie"]
    assert cookie.startswith(f"{SESSION_COOKIE}=")
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    assert "Path=/" in cookie
    assert resp.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert resp.headers["Access-Control-Allow-Credentials"] == "true"


def test_failure_is_readable_cross_origin(world: World) -> None:
    resp = world.signin(world.mint(key="y" * 44))
    assert resp.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert resp.headers["Access-Control-Allow-Credentials"] == "true"


def test_cors_preflight(world: World) -> None:
    resp = world.client.options(
        EMBED_SIGNIN_PATH,
        headers={
            "Origin": ORIGIN,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
    )
    assert resp.status_code == 204
    assert resp.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert resp.headers["Access-Control-Allow-Credentials"] == "true"
    assert "Content-Type" in resp.headers["Access-Control-Allow-Headers"]
    assert "POST" in resp.headers["Access-Control-Allow-Methods"]


def test_signin_records_attributes_without_registered_or_tableau_claims(world: World) -> None:
    token = world.mint(world.claims(tenant=["acme", "globex"], region="emea"))
    assert world.signin(token).status_code == 200
    [record] = world.state.signins()
    assert record.kind == "embed"
    assert record.username == ALICE
    assert dict(record.attributes) == {"tenant": ["acme", "globex"], "region": "emea"}
    assert record.kid == world.secret_id
    assert record.client_id == world.app.client_id
    assert record.origin == ORIGIN
    signins = world.client.get("/_emulator/signins").get_json()["signins"]
    assert signins[0]["attributes"] == {"tenant": ["acme", "globex"], "region": "emea"}
    assert signins[0]["jti"] == record.jti


def test_oda_licensed_accepts_ad_hoc_user_and_records_groups(world: World) -> None:
    world.state.configure_site(SITE, on_demand_access=True)
    claims = world.claims(sub="guest@partner.test", **{ODA_CLAIM: "true", GROUPS_CLAIM: ["partners", "emea"]})
    resp = world.signin(world.mint(claims))
    assert resp.status_code == 200
    assert resp.get_json()["result"]["user"]["onDemandAccess"] is True
    [record] = world.state.signins()
    assert record.username == "guest@partner.test"
    assert record.on_demand_access is True
    assert record.groups == ("partners", "emea")
    assert ODA_CLAIM not in record.attributes
    assert GROUPS_CLAIM not in record.attributes
    page = world.client.get(VIEW_URL)
    assert row_tenants(page.get_data(as_text=True)) == ["acme"] * 3


# ------------------------------------------------------------------------------------------ views


def _view_after_signin(world: World, **claims: Any) -> TestResponse:
    assert world.signin(world.mint(world.claims(**claims))).status_code == 200
    return world.client.get(f"{VIEW_URL}?:embed=y&:toolbar=n&:apiID=embhost0")


def test_view_shows_only_the_string_attribute_tenant(world: World) -> None:
    resp = _view_after_signin(world, tenant="acme")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200
    assert row_tenants(html) == ["acme", "acme", "acme"]
    assert row_count(html) == 3
    assert f'<span id="user">{ALICE}</span>' in html
    assert "X-Frame-Options" not in resp.headers


def test_view_shows_every_tenant_of_an_array_attribute(world: World) -> None:
    html = _view_after_signin(world, tenant=["globex", "initech"]).get_data(as_text=True)
    assert sorted(set(row_tenants(html))) == ["globex", "initech"]
    assert row_count(html) == 6


@pytest.mark.parametrize(
    "tenant",
    [
        pytest.param(DROP, id="no-attribute"),
        pytest.param("", id="empty-string"),
        pytest.param([], id="empty-array"),
        pytest.param("ACME", id="wrong-case"),
        pytest.param(42, id="number"),
        pytest.param("acme,globex", id="comma-joined-string"),
    ],
)
def test_view_fails_closed(world: World, tenant: Any) -> None:
    html = _view_after_signin(world, tenant=tenant).get_data(as_text=True)
    assert row_tenants(html) == []
    assert row_count(html) == 0


def test_view_without_attribute_says_so(world: World) -> None:
    html = _view_after_signin(world, tenant=DROP).get_data(as_text=True)
    assert "fail closed" in html


def test_view_attribute_name_is_configurable(world: World) -> None:
    world.state.configure_site(SITE, tenant_attribute="org")
    html = _view_after_signin(world, tenant="acme", org="globex").get_data(as_text=True)
    assert row_tenants(html) == ["globex", "globex"]


def test_view_with_user_attributes_disabled_on_site_shows_nothing(world: World) -> None:
    world.state.configure_site(SITE, user_attributes_enabled=False)
    html = _view_after_signin(world, tenant="acme").get_data(as_text=True)
    assert row_count(html) == 0


def test_view_without_cookie_is_401_without_data(world: World) -> None:
    resp = world.client.get(VIEW_URL)
    html = resp.get_data(as_text=True)
    assert resp.status_code == 401
    assert "Not signed in" in html
    assert 'id="rows"' not in html
    assert "Anvil" not in html


def test_view_with_bogus_cookie_is_401(world: World) -> None:
    world.client.set_cookie(SESSION_COOKIE, "forged", domain="localhost")
    assert world.client.get(VIEW_URL).status_code == 401


def test_cookie_of_one_site_does_not_open_another(world: World) -> None:
    assert world.signin(world.mint()).status_code == 200
    assert world.client.get(VIEW_URL).status_code == 200
    resp = world.client.get(f"/t/{OTHER_SITE}/views/TenantSales/Orders")
    assert resp.status_code == 401
    assert "Anvil" not in resp.get_data(as_text=True)


def test_unknown_view_is_404(world: World) -> None:
    assert world.signin(world.mint()).status_code == 200
    assert world.client.get(f"/t/{SITE}/views/TenantSales/Nope").status_code == 404
    assert world.client.get(f"/t/{SITE}/views/Nope/Orders").status_code == 404


def test_view_csp_frame_ancestors_follow_the_allowlist(world: World) -> None:
    csp = _view_after_signin(world).headers["Content-Security-Policy"]
    assert csp == "frame-ancestors 'self' 127.0.0.1:* *.example.com:*"


def test_default_site_views_live_at_the_root(world: World) -> None:
    state = world.state
    state.add_site("")
    state.add_user("", "carol")
    app = state.add_connected_app("", "default-site-app")
    claims = world.claims(iss=app.client_id, sub="carol", tenant="initech")
    token = world.mint(claims, kid=app.secrets[0].id, key=app.secrets[0].value, header_iss=app.client_id)
    assert world.signin(token, site="").status_code == 200
    html = world.client.get("/views/TenantSales/Orders").get_data(as_text=True)
    assert row_count(html) == 4


# ---------------------------------------------------------------------- iframe-auth (token in URL)


def test_iframe_auth_target_signs_in_and_redirects(world: World) -> None:
    resp = world.client.get(
        "/vizportal/api/web/v1/auth/embed/target",
        query_string={"token": world.mint(), "target": f"{VIEW_URL}?:embed=y"},
        headers={"Referer": f"{ORIGIN}/dashboard"},
    )
    assert resp.status_code == 302
    assert resp.headers["Location"] == f"{VIEW_URL}?:embed=y"
    assert SESSION_COOKIE in resp.headers["Set-Cookie"]
    assert world.client.get(VIEW_URL).status_code == 200


@pytest.mark.parametrize("target", ["https://evil.test/", "//evil.test/x", "views/x"])
def test_iframe_auth_target_refuses_off_site_redirects(world: World, target: str) -> None:
    resp = world.client.get(
        "/vizportal/api/web/v1/auth/embed/target", query_string={"token": world.mint(), "target": target}
    )
    assert resp.status_code == 400


def test_iframe_auth_target_rejection_shows_code(world: World) -> None:
    resp = world.client.get(
        "/vizportal/api/web/v1/auth/embed/target",
        query_string={"token": world.mint(kid=str(uuid.uuid4())), "target": VIEW_URL},
        headers={"Referer": f"{ORIGIN}/"},
    )
    assert resp.status_code == 401
    assert '<span id="error-code">10085</span>' in resp.get_data(as_text=True)


# ------------------------------------------------------------------------------------ admin API


def test_state_endpoint_never_shows_secret_values(world: World) -> None:
    pat = world.state.add_pat(SITE, "admin@acme.test", "rotation")
    text = world.client.get("/_emulator/state").get_data(as_text=True)
    snapshot = json.loads(text)
    site = next(s for s in snapshot["sites"] if s["contentUrl"] == SITE)
    app = next(a for a in site["connectedApps"] if a["clientId"] == world.app.client_id)
    assert [s["id"] for s in app["secrets"]] == [world.secret_id]
    assert set(app["secrets"][0]) == {"id", "createdAt"}
    assert world.secret_value not in text
    assert pat not in text


def test_errors_endpoint_lists_the_table(world: World) -> None:
    listed = world.client.get("/_emulator/errors").get_json()["errors"]
    assert [(e["rule"], e["code"]) for e in listed] == [(r.name, r.code) for r in ERROR_TABLE]


def test_fault_injection_over_http_then_recovery(world: World) -> None:
    resp = world.client.post("/_emulator/faults", json={"embed_signin": "unavailable", "count": 2})
    assert resp.status_code == 200
    assert world.client.get("/_emulator/faults").get_json()["faults"] == {
        "embed_signin": {"kind": "unavailable", "remaining": 2}
    }
    assert world.signin(world.mint()).status_code == 503
    assert world.signin(world.mint()).status_code == 503
    assert world.signin(world.mint()).status_code == 200


def test_fault_until_cleared(world: World) -> None:
    world.client.post("/_emulator/faults", json={"view": "server_error", "count": None})
    assert world.signin(world.mint()).status_code == 200
    for _ in range(3):
        assert world.client.get(VIEW_URL).status_code == 500
    assert world.client.delete("/_emulator/faults").status_code == 204
    assert world.client.get(VIEW_URL).status_code == 200


@pytest.mark.parametrize(
    "body",
    [{"nope": "unavailable"}, {"embed_signin": "melted"}, {"count": 1}, {"embed_signin": "unavailable", "count": 0}],
)
def test_bad_fault_requests_are_400(world: World, body: dict[str, Any]) -> None:
    assert world.client.post("/_emulator/faults", json=body).status_code == 400
    assert world.state.faults() == {}


def test_health(world: World) -> None:
    assert world.client.get("/_emulator/health").get_json() == {"ok": True}


# ------------------------------------------------------------------------------------- state API


def test_third_secret_is_refused_with_128(world: World) -> None:
    world.state.add_secret(SITE, world.app.client_id)
    with pytest.raises(SecretLimitExceededError) as err:
        world.state.add_secret(SITE, world.app.client_id)
    assert err.value.code == 128
    assert len(world.state.secret_ids(SITE, world.app.client_id)) == 2


def test_secret_values_are_random_and_url_safe(world: World) -> None:
    second = world.state.add_secret(SITE, world.app.client_id)
    assert second.value != world.secret_value
    assert re.fullmatch(r"[A-Za-z0-9_-]{44}", second.value)
    assert uuid.UUID(second.id)


@pytest.mark.parametrize("pattern", ["exa mple.com", "https://x.test/path", "*.*.test", "a;b", "*"])
def test_invalid_allowlist_is_133(world: World, pattern: str) -> None:
    with pytest.raises(InvalidDomainAllowlistError) as err:
        world.state.add_connected_app(SITE, "bad", domain_allowlist=[pattern])
    assert err.value.code == 133


def test_state_api_errors(world: World) -> None:
    with pytest.raises(NotFoundError):
        world.state.delete_secret(SITE, world.app.client_id, str(uuid.uuid4()))
    with pytest.raises(NotFoundError):
        world.state.add_user("no-site", "x")
    with pytest.raises(EmulatorError):
        world.state.add_site(SITE)
    with pytest.raises(EmulatorError):
        world.state.inject_fault("rest_signin", "melted")


def test_explicit_secrets_and_seeded_rows(world: World) -> None:
    sid = world.state.add_site("custom", rows=[DemoRow("X-1", "acme", "Widget", 1.0)])
    app = world.state.add_connected_app(
        "custom", "seeded", secrets=[("11111111-1111-4111-8111-111111111111", "s" * 44)]
    )
    assert [s.id for s in app.secrets] == ["11111111-1111-4111-8111-111111111111"]
    assert world.state.site_view(sid).rows == (DemoRow("X-1", "acme", "Widget", 1.0),)
    empty = world.state.add_connected_app("custom", "no-secrets", secrets=[])
    assert empty.secrets == ()


def test_user_attribute_includes_semantics() -> None:
    assert user_attribute_includes({"t": "a"}, "t", "a")
    assert user_attribute_includes({"t": ["b", "a"]}, "t", "a")
    assert not user_attribute_includes({"t": ["b"]}, "t", "a")
    assert not user_attribute_includes({}, "t", "a")
    assert not user_attribute_includes({"t": None}, "t", "a")


def test_load_seed_file(tmp_path: Path) -> None:
    seed = {
        "sites": [
            {
                "contentUrl": "seeded",
                "onDemandAccess": True,
                "users": [{"name": "u1", "siteRole": "SiteAdministratorCreator"}],
                "personalAccessTokens": [{"name": "pat", "secret": "pat-secret", "user": "u1"}],
                "connectedApps": [
                    {"name": "a", "domainAllowlist": ["localhost"], "secrets": [{"id": "sec-1", "value": "v" * 44}]}
                ],
                "rows": [{"orderId": "1", "tenant": "acme", "product": "p", "amount": 2}],
            }
        ]
    }
    path = tmp_path / "seed.json"
    path.write_text(json.dumps(seed))
    state = EmulatorState()
    created = load_seed_file(state, path)
    [site] = created["sites"]
    assert site["connectedApps"][0]["secrets"][0]["id"] == "sec-1"
    view = state.site_view("seeded")
    assert view.on_demand_access is True
    assert len(view.rows) == 1
    assert state.check_pat("seeded", "pat", "pat-secret") is not None
    assert state.check_pat("seeded", "pat", "wrong") is None


def test_seed_demo_is_usable() -> None:
    state = EmulatorState()
    created = seed_demo(state)
    [site] = created["sites"]
    assert site["connectedApps"][0]["secrets"][0]["value"]
    assert state.user(site["contentUrl"], "alice@acme.test") is not None
    assert created["personalAccessToken"]["name"] == "rotation"


def test_cli_runs_standalone(tmp_path: Path) -> None:
    seed = {"sites": [{"contentUrl": "cli", "users": [{"name": "u"}], "connectedApps": [{"name": "a"}]}]}
    (tmp_path / "seed.json").write_text(json.dumps(seed))
    src = Path(__file__).resolve().parents[2] / "local"
    proc = subprocess.Popen(
        [sys.executable, "-m", "tableau_emulator", "--port", "0", "--seed", str(tmp_path / "seed.json")],
        stdout=subprocess.PIPE,
        text=True,
        env={"PYTHONPATH": str(src), "PATH": "/usr/bin:/bin"},
    )
    try:
        assert proc.stdout is not None
        started = json.loads(proc.stdout.readline())
        url = started["url"]
        assert url.startswith("http://127.0.0.1:")
        assert requests.get(f"{url}/_emulator/health", timeout=5).json() == {"ok": True}
        snapshot = requests.get(f"{url}/_emulator/state", timeout=5).json()
        assert [s["contentUrl"] for s in snapshot["sites"]] == ["cli"]
    finally:
        proc.terminate()
        assert proc.wait(timeout=10) == 0
