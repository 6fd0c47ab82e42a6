"""The Tableau emulator's REST subset, fault injection, real-HTTP serving and the Embedding API bundle."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
import pytest
import requests
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tableau_emulator import (
    BUNDLE_ROUTE,
    EMBED_SIGNIN_PATH,
    ERROR_TABLE,
    RULES,
    SESSION_COOKIE,
    BundleBuildError,
    ConnectedAppInfo,
    EmulatorState,
    create_app,
    ensure_embedding_bundle,
    serve,
)

SITE = "acme"
OTHER_SITE = "other"
ADMIN = "admin@acme.test"
VIEWER = "viewer@acme.test"
API = "/api/3.21"
FAMILIES = ["connected-applications", "connected-apps/direct-trust"]
ORIGIN = "http://127.0.0.1:5173"


@dataclass
class Rest:
    state: EmulatorState
    client: FlaskClient
    site_id: str
    other_site_id: str
    app: ConnectedAppInfo
    admin_pat: str
    viewer_pat: str
    other_admin_pat: str

    def pat_signin(self, name: str = "rotation", secret: str | None = None, site: str = SITE) -> TestResponse:
        creds = {
            "personalAccessTokenName": name,
            "personalAccessTokenSecret": self.admin_pat if secret is None else secret,
            "site": {"contentUrl": site},
        }
        return self.client.post(f"{API}/auth/signin", json={"credentials": creds})

    def admin_token(self) -> str:
        resp = self.pat_signin()
        assert resp.status_code == 200, resp.get_json()
        return str(resp.get_json()["credentials"]["token"])

    def jwt_signin(self, token: str, site: str = SITE) -> TestResponse:
        return self.client.post(
            f"{API}/auth/signin", json={"credentials": {"jwt": token, "site": {"contentUrl": site}}}
        )

    def mint(
        self, *, scp: Any = None, sub: str = ADMIN, kid: str | None = None, key: str | None = None, **extra: Any
    ) -> str:
        now = time.time()
        claims = {
            "iss": self.app.client_id,
            "sub": sub,
            "aud": "tableau",
            "exp": now + 300,
            "iat": now - 5,
            "jti": str(uuid.uuid4()),
            "scp": scp if scp is not None else ["tableau:connected_apps:*"],
            **extra,
        }
        headers = {"kid": kid or self.app.secrets[0].id, "iss": self.app.client_id}
        return jwt.encode(claims, key or self.app.secrets[0].value, algorithm="HS256", headers=headers)

    def app_url(self, family: str, site_id: str | None = None, client_id: str | None = None) -> str:
        return f"{API}/sites/{site_id or self.site_id}/{family}/{client_id or self.app.client_id}"


def build_rest() -> Rest:
    state = EmulatorState()
    site_id = state.add_site(SITE)
    state.add_user(SITE, ADMIN, "SiteAdministratorCreator")
    state.add_user(SITE, VIEWER, "Viewer")
    admin_pat = state.add_pat(SITE, ADMIN, "rotation")
    viewer_pat = state.add_pat(SITE, VIEWER, "viewer-pat")
    app = state.add_connected_app(SITE, "token-broker", domain_allowlist=["127.0.0.1"])
    other_site_id = state.add_site(OTHER_SITE)
    state.add_user(OTHER_SITE, "root@other.test", "SiteAdministratorExplorer")
    other_admin_pat = state.add_pat(OTHER_SITE, "root@other.test", "other-rotation")
    return Rest(
        state=state,
        client=create_app(state).test_client(),
        site_id=site_id,
        other_site_id=other_site_id,
        app=app,
        admin_pat=admin_pat,
        viewer_pat=viewer_pat,
        other_admin_pat=other_admin_pat,
    )


@pytest.fixture
def rest() -> Rest:
    return build_rest()


def rest_error(resp: TestResponse) -> dict[str, Any]:
    body = resp.get_json()
    assert isinstance(body, dict)
    return dict(body["error"])


def auth(token: str) -> dict[str, str]:
    return {"X-Tableau-Auth": token, "Accept": "application/json"}


# ------------------------------------------------------------------------------------------ sign-in


def test_pat_signin(rest: Rest) -> None:
    resp = rest.pat_signin()
    assert resp.status_code == 200
    creds = resp.get_json()["credentials"]
    assert creds["site"] == {"id": rest.site_id, "contentUrl": SITE}
    assert creds["user"]["id"] == rest.state.user(SITE, ADMIN).id  # type: ignore[union-attr]
    assert len(creds["token"]) >= 32
    [record] = rest.state.signins()
    assert (record.kind, record.username) == ("rest-pat", ADMIN)


@pytest.mark.parametrize(
    ("name", "secret", "site"),
    [
        pytest.param("rotation", "wrong-secret-value", SITE, id="wrong-secret"),
        pytest.param("nope", None, SITE, id="unknown-pat"),
        pytest.param("rotation", None, OTHER_SITE, id="pat-of-another-site"),
        pytest.param("rotation", None, "no-such-site", id="unknown-site"),
    ],
)
def test_pat_signin_failures_are_401001_without_echo(rest: Rest, name: str, secret: str | None, site: str) -> None:
    resp = rest.pat_signin(name, secret, site)
    assert resp.status_code == 401
    error = rest_error(resp)
    assert error["code"] == "401001"
    assert error["summary"] == "Signin Error"
    text = resp.get_data(as_text=True)
    assert rest.admin_pat not in text
    assert "wrong-secret-value" not in text


def test_second_pat_signin_ends_the_first_session(rest: Rest) -> None:
    first = rest.admin_token()
    second = rest.admin_token()
    assert rest.client.get(rest.app_url(FAMILIES[0]), headers=auth(first)).status_code == 401
    assert rest.client.get(rest.app_url(FAMILIES[0]), headers=auth(second)).status_code == 200


def test_jwt_signin_with_rest_scope(rest: Rest) -> None:
    resp = rest.jwt_signin(rest.mint())
    assert resp.status_code == 200
    token = resp.get_json()["credentials"]["token"]
    assert rest.client.get(rest.app_url(FAMILIES[0]), headers=auth(token)).status_code == 200
    [record] = rest.state.signins()
    assert record.kind == "rest-jwt"
    assert record.scopes == ("tableau:connected_apps:*",)


@pytest.mark.parametrize(
    "scp", [["tableau:views:embed"], ["tableau:views:embed", "tableau:insights:embed"], ["not-a-scope"]]
)
def test_jwt_signin_refuses_embed_only_scopes(rest: Rest, scp: list[str]) -> None:
    resp = rest.jwt_signin(rest.mint(scp=scp))
    assert resp.status_code == 401
    error = rest_error(resp)
    assert error["code"] == "401001"
    assert "scp_no_rest_scope" in error["detail"]


REST_JWT_CASES: list[tuple[str, dict[str, Any]]] = [
    ("scp_no_rest_scope", {"scp": ["tableau:views:embed"]}),
    ("scp_invalid", {"scp": "tableau:content:read"}),
    ("signature_invalid", {"key": "k" * 44}),
    ("kid_unknown", {"kid": str(uuid.uuid4())}),
    ("user_unknown", {"sub": "ghost@acme.test"}),
]


def test_every_rest_only_rule_has_a_case() -> None:
    rest_only = {r.name for r in ERROR_TABLE if r.applies_to == "rest"}
    assert rest_only <= {rule for rule, _ in REST_JWT_CASES}


@pytest.mark.parametrize(("rule", "kwargs"), REST_JWT_CASES, ids=[r for r, _ in REST_JWT_CASES])
def test_jwt_signin_rejections_name_the_rule(rest: Rest, rule: str, kwargs: dict[str, Any]) -> None:
    resp = rest.jwt_signin(rest.mint(**kwargs))
    assert resp.status_code == 401
    detail = rest_error(resp)["detail"]
    assert f"error {RULES[rule].code} " in detail
    assert f"({rule})" in detail


def test_jwt_signin_jti_is_one_shot(rest: Rest) -> None:
    token = rest.mint()
    assert rest.jwt_signin(token).status_code == 200
    assert "(jti_replayed)" in rest_error(rest.jwt_signin(token))["detail"]


def test_signout_invalidates_token(rest: Rest) -> None:
    token = rest.admin_token()
    assert rest.client.post(f"{API}/auth/signout", headers=auth(token)).status_code == 204
    resp = rest.client.get(rest.app_url(FAMILIES[0]), headers=auth(token))
    assert resp.status_code == 401
    assert rest_error(resp)["code"] == "401002"
    assert rest.client.post(f"{API}/auth/signout", headers=auth(token)).status_code == 401


def test_bad_signin_body_is_400(rest: Rest) -> None:
    assert rest.client.post(f"{API}/auth/signin", json={"nope": 1}).status_code == 400


def test_unknown_api_version_is_404(rest: Rest) -> None:
    assert rest.client.post("/api/latest/auth/signin", json={}).status_code == 404


# ----------------------------------------------------------------------------- connected-app secrets


@pytest.mark.parametrize("family", FAMILIES)
def test_secret_lifecycle(rest: Rest, family: str) -> None:
    token = rest.admin_token()
    url = rest.app_url(family)

    got = rest.client.get(url, headers=auth(token))
    assert got.status_code == 200
    app = got.get_json()["connectedApplication"]
    assert app["clientId"] == rest.app.client_id
    assert app["name"] == "token-broker"
    assert app["enabled"] is True
    assert app["secrets"] == [{"id": rest.app.secrets[0].id, "createdAt": rest.app.secrets[0].created_at}]
    assert rest.app.secrets[0].value not in got.get_data(as_text=True)

    created = rest.client.post(f"{url}/secrets", headers=auth(token))
    assert created.status_code == 200
    secret = created.get_json()["connectedApplicationSecret"]
    assert set(secret) == {"id", "value", "createdAt"}
    assert len(secret["value"]) >= 40

    one = rest.client.get(f"{url}/secrets/{secret['id']}", headers=auth(token))
    assert one.status_code == 200
    assert one.get_json() == {"connectedApplicationSecret": {"id": secret["id"], "createdAt": secret["createdAt"]}}
    listed = rest.client.get(url, headers=auth(token)).get_json()["connectedApplication"]["secrets"]
    assert [s["id"] for s in listed] == [rest.app.secrets[0].id, secret["id"]]

    third = rest.client.post(f"{url}/secrets", headers=auth(token))
    assert third.status_code == 400
    assert rest_error(third) == {
        "code": "128",
        "summary": "Connected app secret limit exceeded",
        "detail": "Connected app already has the maximum of two secrets",
    }

    assert rest.client.delete(f"{url}/secrets/{rest.app.secrets[0].id}", headers=auth(token)).status_code == 204
    gone = rest.client.delete(f"{url}/secrets/{rest.app.secrets[0].id}", headers=auth(token))
    assert gone.status_code == 404
    assert rest_error(gone)["code"] == "404127"
    assert rest.client.get(f"{url}/secrets/{rest.app.secrets[0].id}", headers=auth(token)).status_code == 404
    assert rest.state.secret_ids(SITE, rest.app.client_id) == [secret["id"]]


def test_rotated_secret_signs_embed_tokens_and_the_deleted_one_stops(rest: Rest) -> None:
    rest.state.add_user(SITE, "alice@acme.test")
    token = rest.admin_token()
    url = rest.app_url(FAMILIES[1])
    new = rest.client.post(f"{url}/secrets", headers=auth(token)).get_json()["connectedApplicationSecret"]
    assert rest.client.delete(f"{url}/secrets/{rest.app.secrets[0].id}", headers=auth(token)).status_code == 204

    def embed(kid: str, key: str) -> TestResponse:
        jwt_ = rest.mint(scp=["tableau:views:embed"], sub="alice@acme.test", kid=kid, key=key)
        return rest.client.post(EMBED_SIGNIN_PATH, json={"siteName": SITE, "jwt": jwt_}, headers={"Origin": ORIGIN})

    assert embed(new["id"], new["value"]).status_code == 200
    old = embed(rest.app.secrets[0].id, rest.app.secrets[0].value)
    assert old.status_code == 401
    assert old.get_json()["result"]["errors"][0]["code"] == 10085


@pytest.mark.parametrize("family", FAMILIES)
def test_unknown_app_and_secret_are_404(rest: Rest, family: str) -> None:
    token = rest.admin_token()
    missing_app = rest.client.get(rest.app_url(family, client_id=str(uuid.uuid4())), headers=auth(token))
    assert missing_app.status_code == 404
    assert rest_error(missing_app)["code"] == "404126"
    resp = rest.client.get(f"{rest.app_url(family)}/secrets/{uuid.uuid4()}", headers=auth(token))
    assert resp.status_code == 404
    assert rest_error(resp)["code"] == "404127"


@pytest.mark.parametrize("family", FAMILIES)
def test_non_admin_is_403(rest: Rest, family: str) -> None:
    token = rest.pat_signin("viewer-pat", rest.viewer_pat).get_json()["credentials"]["token"]
    for method, suffix in [("GET", ""), ("POST", "/secrets"), ("DELETE", f"/secrets/{rest.app.secrets[0].id}")]:
        resp = rest.client.open(rest.app_url(family) + suffix, method=method, headers=auth(token))
        assert resp.status_code == 403, (method, suffix)
    assert rest.state.secret_ids(SITE, rest.app.client_id) == [rest.app.secrets[0].id]


def test_demoted_admin_loses_access_at_once(rest: Rest) -> None:
    token = rest.admin_token()
    admin = rest.state.user(SITE, ADMIN)
    assert admin is not None
    rest.state.remove_user(SITE, ADMIN)
    rest.state.add_user(SITE, ADMIN, "Viewer", user_id=admin.id)
    assert rest.client.get(rest.app_url(FAMILIES[0]), headers=auth(token)).status_code == 403


def test_token_of_another_site_is_403(rest: Rest) -> None:
    other = rest.pat_signin("other-rotation", rest.other_admin_pat, OTHER_SITE).get_json()["credentials"]["token"]
    assert rest.client.get(rest.app_url(FAMILIES[0]), headers=auth(other)).status_code == 403


def test_missing_token_is_401_and_unknown_site_is_404(rest: Rest) -> None:
    resp = rest.client.post(f"{rest.app_url(FAMILIES[0])}/secrets")
    assert resp.status_code == 401
    assert rest_error(resp)["code"] == "401002"
    token = rest.admin_token()
    assert rest.client.get(rest.app_url(FAMILIES[0], site_id=str(uuid.uuid4())), headers=auth(token)).status_code == 404


def test_list_apps(rest: Rest) -> None:
    token = rest.admin_token()
    for family in FAMILIES:
        resp = rest.client.get(f"{API}/sites/{rest.site_id}/{family}", headers=auth(token))
        assert [a["clientId"] for a in resp.get_json()["connectedApplications"]] == [rest.app.client_id]


# ------------------------------------------------------------------------------------------- faults


@pytest.mark.parametrize(("kind", "status"), [("unavailable", 503), ("server_error", 500), ("rate_limited", 429)])
def test_rest_signin_fault_then_recovery(rest: Rest, kind: str, status: int) -> None:
    rest.state.inject_fault("rest_signin", kind)
    assert rest.pat_signin().status_code == status
    assert rest.pat_signin().status_code == 200


def test_rest_signin_unauthorized_fault_looks_like_a_signin_error(rest: Rest) -> None:
    rest.client.post("/_emulator/faults", json={"rest_signin": "unauthorized", "count": 1})
    resp = rest.pat_signin()
    assert resp.status_code == 401
    assert rest_error(resp)["code"] == "401001"
    assert rest.pat_signin().status_code == 200


def test_create_secret_server_error_creates_nothing(rest: Rest) -> None:
    token = rest.admin_token()
    rest.client.post("/_emulator/faults", json={"create_secret": "server_error", "count": 1})
    assert rest.client.post(f"{rest.app_url(FAMILIES[0])}/secrets", headers=auth(token)).status_code == 500
    assert len(rest.state.secret_ids(SITE, rest.app.client_id)) == 1
    assert rest.client.post(f"{rest.app_url(FAMILIES[0])}/secrets", headers=auth(token)).status_code == 200


def test_create_secret_error_after_commit_creates_a_secret_nobody_saw(rest: Rest) -> None:
    token = rest.admin_token()
    rest.state.inject_fault("create_secret", "server_error_after_commit")
    resp = rest.client.post(f"{rest.app_url(FAMILIES[0])}/secrets", headers=auth(token))
    assert resp.status_code == 500
    assert "value" not in resp.get_data(as_text=True)
    assert len(rest.state.secret_ids(SITE, rest.app.client_id)) == 2


def test_delete_secret_fault(rest: Rest) -> None:
    token = rest.admin_token()
    url = f"{rest.app_url(FAMILIES[0])}/secrets/{rest.app.secrets[0].id}"
    rest.state.inject_fault("delete_secret", "unavailable", count=None)
    assert rest.client.delete(url, headers=auth(token)).status_code == 503
    assert rest.client.delete(url, headers=auth(token)).status_code == 503
    rest.state.clear_faults()
    assert rest.client.delete(url, headers=auth(token)).status_code == 204


# ------------------------------------------------------------------------------------ real HTTP


@pytest.fixture
def served() -> Iterator[tuple[Rest, str]]:
    world = build_rest()
    world.state.add_user(SITE, "alice@acme.test")
    server = serve(world.state)
    try:
        yield world, server.url
    finally:
        server.shutdown()


def test_over_real_http(served: tuple[Rest, str]) -> None:
    world, url = served
    assert url.startswith("http://127.0.0.1:")
    browser = requests.Session()
    pre = browser.options(
        url + EMBED_SIGNIN_PATH,
        headers={"Origin": ORIGIN, "Access-Control-Request-Method": "POST"},
        timeout=5,
    )
    assert pre.status_code == 204
    token = world.mint(scp=["tableau:views:embed"], sub="alice@acme.test", tenant="acme")
    signed_in = browser.post(
        url + EMBED_SIGNIN_PATH, json={"siteName": SITE, "jwt": token}, headers={"Origin": ORIGIN}, timeout=5
    )
    assert signed_in.status_code == 200, signed_in.text
    assert SESSION_COOKIE in browser.cookies
    page = browser.get(f"{url}/t/{SITE}/views/TenantSales/Orders?:embed=y", timeout=5)
    assert page.status_code == 200
    assert page.text.count('data-tenant="acme"') == 3
    assert 'data-tenant="globex"' not in page.text
    assert requests.get(f"{url}/t/{SITE}/views/TenantSales/Orders", timeout=5).status_code == 401

    creds = {
        "personalAccessTokenName": "rotation",
        "personalAccessTokenSecret": world.admin_pat,
        "site": {"contentUrl": SITE},
    }
    rest_token = requests.post(f"{url}{API}/auth/signin", json={"credentials": creds}, timeout=5).json()["credentials"][
        "token"
    ]
    new = requests.post(f"{url}{world.app_url(FAMILIES[1])}/secrets", headers=auth(rest_token), timeout=5)
    assert new.status_code == 200
    state = requests.get(f"{url}/_emulator/state", timeout=5)
    assert new.json()["connectedApplicationSecret"]["id"] in state.text
    assert new.json()["connectedApplicationSecret"]["value"] not in state.text
    faults = requests.post(f"{url}/_emulator/faults", json={"rest_signin": "unavailable"}, timeout=5)
    assert faults.status_code == 200
    assert requests.post(f"{url}{API}/auth/signin", json={"credentials": creds}, timeout=5).status_code == 503


def test_serve_refuses_non_loopback() -> None:
    with pytest.raises(ValueError, match="loopback"):
        serve(EmulatorState(), host="0.0.0.0")  # noqa: S104 - the point of the test


def test_shutdown_releases_the_port() -> None:
    server = serve(EmulatorState())
    url = server.url
    assert requests.get(f"{url}/_emulator/health", timeout=5).ok
    server.shutdown()
    server.shutdown()  # idempotent
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{url}/_emulator/health", timeout=2)


# ----------------------------------------------------------------------------------------- bundle


def test_bundle_route_serves_the_real_embedding_api_with_cors() -> None:
    path = ensure_embedding_bundle()  # builds with npm + esbuild on first use; npm missing = failure
    assert path.name == "tableau.embedding.3.latest.min.js"
    mtime = path.stat().st_mtime
    assert ensure_embedding_bundle() == path
    assert path.stat().st_mtime == mtime  # up to date: not rebuilt
    with serve(EmulatorState()) as server:
        resp = requests.get(server.url + BUNDLE_ROUTE, headers={"Origin": ORIGIN}, timeout=30)
    assert resp.status_code == 200
    assert resp.headers["Content-Type"].startswith("text/javascript")
    assert resp.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert '"tableau-viz"' in resp.text
    assert "/vizportal/api/web/v1/auth/embed/signin" in resp.text
    assert "TableauViz" in resp.text
    assert "export{" in resp.text


def test_bundle_route_is_503_when_it_cannot_be_built() -> None:
    def broken() -> Path:
        raise BundleBuildError("npm is not on PATH")

    client = create_app(EmulatorState(), bundle_builder=broken).test_client()
    resp = client.get(BUNDLE_ROUTE, headers={"Origin": ORIGIN})
    assert resp.status_code == 503
    assert "npm is not on PATH" in resp.get_data(as_text=True)
    assert client.get("/_emulator/health").status_code == 200


def test_concurrent_replays_of_one_token_admit_exactly_one(served: tuple[Rest, str]) -> None:
    world, url = served
    token = world.mint(scp=["tableau:views:embed"], sub="alice@acme.test", tenant="acme")
    results: list[int] = []

    def attempt() -> None:
        resp = requests.post(
            url + EMBED_SIGNIN_PATH, json={"siteName": SITE, "jwt": token}, headers={"Origin": ORIGIN}, timeout=10
        )
        results.append(resp.status_code)

    threads = [threading.Thread(target=attempt) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [200] + [401] * 7
