"""HTTP-level end to end against the running local stack: Cognito → local HTTP API → broker → Tableau emulator."""

from __future__ import annotations

import base64
import json
import re
from typing import Any

import boto3
import pytest
import requests

from sam_local import aws_resources

pytestmark = pytest.mark.e2e

ROW_TENANT = re.compile(r'<tr[^>]*data-tenant="([^"]*)"')
CONTRACT_KEYS = {
    "api_url", "aws_endpoint_url", "region", "user_pool_id", "app_client_id", "jwks_url", "table_name",
    "secret_arn", "tableau_url", "site", "log_file", "users", "demo_url",
}  # fmt: skip


def user(stack: dict[str, Any], *, tenant: str | None) -> dict[str, Any]:
    found: dict[str, Any] = next(u for u in stack["users"] if u["tenant"] == tenant)
    return found


def cognito_tokens(stack: dict[str, Any], who: dict[str, Any]) -> dict[str, str]:
    client = boto3.session.Session(region_name=stack["region"]).client(
        "cognito-idp", endpoint_url=stack["aws_endpoint_url"]
    )
    return aws_resources.sign_in(client, stack["app_client_id"], who["username"], who["password"])


def request_token(stack: dict[str, Any], bearer: str | None, **kwargs: Any) -> requests.Response:
    headers = {"Origin": stack["demo_url"]}
    if bearer is not None:
        headers["Authorization"] = f"Bearer {bearer}"
    return requests.post(stack["api_url"], headers=headers, json=kwargs.get("body", {}), timeout=10)


def embed_signin(stack: dict[str, Any], token: str, session: requests.Session | None = None) -> requests.Response:
    return (session or requests).post(
        f"{stack['tableau_url']}/vizportal/api/web/v1/auth/embed/signin",
        json={"siteName": stack["site"], "jwt": token},
        headers={"Origin": stack["demo_url"]},
        timeout=10,
    )


def tableau_code(response: requests.Response) -> int:
    code: int = response.json()["result"]["errors"][0]["code"]
    return code


def test_contract_file_describes_the_stack(local_stack: dict[str, Any]) -> None:
    assert set(local_stack) >= CONTRACT_KEYS
    entitled = {u["tenant"] for u in local_stack["users"] if u["entitled"]}
    assert entitled == {"acme", "globex"}
    assert [u for u in local_stack["users"] if not u["entitled"]]
    for key in ("api_url", "aws_endpoint_url", "tableau_url", "demo_url", "jwks_url"):
        assert local_stack[key].startswith("http://127.0.0.1:")


@pytest.mark.parametrize("tenant", ["acme", "globex"])
@pytest.mark.parametrize("kind", ["id_token", "access_token"])
def test_each_tenant_sees_exactly_its_own_rows(local_stack: dict[str, Any], tenant: str, kind: str) -> None:
    who = user(local_stack, tenant=tenant)
    response = request_token(local_stack, cognito_tokens(local_stack, who)[kind])
    assert response.status_code == 200, response.text
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Access-Control-Allow-Origin"] == local_stack["demo_url"]
    body = response.json()

    session = requests.Session()
    assert embed_signin(local_stack, body["token"], session).status_code == 200
    view = session.get(f"{body['tableau']['url']}/t/{body['tableau']['site']}/views/TenantSales/Orders", timeout=10)
    tenants = ROW_TENANT.findall(view.text)
    assert tenants
    assert set(tenants) == {tenant}
    assert who["tableau_username"] in view.text


def test_unentitled_user_gets_403_and_no_token(local_stack: dict[str, Any]) -> None:
    response = request_token(local_stack, cognito_tokens(local_stack, user(local_stack, tenant=None))["id_token"])
    assert response.status_code == 403
    assert response.json() == {"error": {"code": "not_entitled", "message": response.json()["error"]["message"]}}


def test_gateway_authorizer_rejects_missing_and_forged_identities(local_stack: dict[str, Any]) -> None:
    assert request_token(local_stack, None).status_code == 401
    assert request_token(local_stack, None).json() == {"message": "Unauthorized"}
    token = cognito_tokens(local_stack, user(local_stack, tenant="acme"))["id_token"]
    head, payload, signature = token.split(".")
    forged = base64.urlsafe_b64decode(payload + "==")
    claims = json.loads(forged)
    claims["sub"] = "someone-else"
    forged_payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    assert request_token(local_stack, f"{head}.{forged_payload}.{signature}").status_code == 401


def _swap_payload_claim(token: str, name: str, value: Any) -> str:
    head, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims[name] = value
    new_payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"{head}.{new_payload}.{signature}"


def test_tampered_tableau_tokens_are_refused_by_tableau(local_stack: dict[str, Any]) -> None:
    who = user(local_stack, tenant="acme")
    token = request_token(local_stack, cognito_tokens(local_stack, who)["id_token"]).json()["token"]
    # Given a valid token for tenant acme, an attacker rewrites the tenant or the signature
    retenanted = _swap_payload_claim(token, "tenant", "globex")
    flipped = token[:-2] + ("A" if token[-2] != "A" else "B") + token[-1]
    for tampered in (retenanted, flipped):
        response = embed_signin(local_stack, tampered)
        assert response.status_code == 401
        assert tableau_code(response) == 127
    # and the untouched token still works once (a second use is a replay)
    assert embed_signin(local_stack, token).status_code == 200
    assert embed_signin(local_stack, token).status_code == 401


def test_cors_is_owned_by_the_api(local_stack: dict[str, Any]) -> None:
    preflight = {
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization,content-type",
    }
    allowed = requests.options(
        local_stack["api_url"], headers={"Origin": local_stack["demo_url"], **preflight}, timeout=5
    )
    assert allowed.headers["Access-Control-Allow-Origin"] == local_stack["demo_url"]
    other = requests.options(local_stack["api_url"], headers={"Origin": "https://evil.example", **preflight}, timeout=5)
    assert "Access-Control-Allow-Origin" not in other.headers


def test_broker_log_file_has_structured_lines_and_no_credentials(local_stack: dict[str, Any]) -> None:
    who = user(local_stack, tenant="globex")
    tokens = cognito_tokens(local_stack, who)
    issued = request_token(local_stack, tokens["id_token"]).json()["token"]
    with open(local_stack["log_file"], encoding="utf-8") as handle:
        lines = [json.loads(line) for line in handle if line.strip()]
    assert any(line["message"] == "token issued" and line.get("tenant") == "globex" for line in lines)
    text = json.dumps(lines)
    assert issued not in text
    assert tokens["id_token"] not in text
    assert "eyJ" not in text
