"""What `make demo` prints: every URL and credential, then each user's trip from sign-in to Tableau rows."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path
from typing import Any

import boto3
import requests

from local_stack.stack import StackInfo
from sam_local import aws_resources

ROW_TENANT = re.compile(r'<tr[^>]*data-tenant="([^"]*)"')


def print_summary(info: StackInfo, seconds: float, state_file: Path) -> None:
    lines = [
        f"tableau-token-broker local stack ready in {seconds:.1f} s",
        "",
        f"  Demo page        {info.demo_url}",
        f"  Token API        POST {info.api_url}   (Authorization: Bearer <Cognito ID or access token>)",
        f"  Tableau emulator {info.tableau_url}   site '{info.site}', view {info.view_url}",
        f"  AWS (moto)       {info.aws_endpoint_url}   region {info.region}",
        f"  Cognito          pool {info.user_pool_id}, app client {info.app_client_id}",
        f"  DynamoDB         table {info.table_name}",
        f"  Secrets Manager  {info.secret_arn}",
        f"  Broker log       {info.log_file}",
        f"  Stack contract   {state_file}",
        "",
        "  Users (password)                                   tenant    Tableau user",
    ]
    for user in info.users:
        tenant = user["tenant"] or "-"
        tableau_user = user["tableau_username"] or "(not entitled)"
        lines.append(f"  {user['username']:<22} {user['password']:<27} {tenant:<9} {tableau_user}")
    print("\n".join(lines), flush=True)


def _claims(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    data: dict[str, Any] = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return data


def walk_user(info: StackInfo, user: dict[str, Any]) -> bool:
    """One user's full path. Returns whether the outcome matched what the user is entitled to."""
    name = user["username"]
    cognito = boto3.session.Session(region_name=info.region).client("cognito-idp", endpoint_url=info.aws_endpoint_url)
    tokens = aws_resources.sign_in(cognito, info.app_client_id, name, user["password"])
    print(f"\n{name}\n  1. signed in to Cognito (pool {info.user_pool_id})", flush=True)
    response = requests.post(
        info.api_url,
        headers={"Authorization": f"Bearer {tokens['id_token']}", "Origin": info.demo_url},
        json={},
        timeout=10,
    )
    body = response.json()
    if response.status_code != 200:
        print(f"  2. POST /token -> {response.status_code} {body['error']['code']}: no token, nothing to embed")
        return not user["entitled"] and response.status_code == 403
    claims = _claims(body["token"])
    print(
        f"  2. POST /token -> 200: Tableau user {claims['sub']}, tenant attribute "
        f"{claims.get('tenant')!r}, scopes {claims['scp']}, expires {body['expires_at']}"
    )
    session = requests.Session()
    signin = session.post(
        f"{body['tableau']['url']}/vizportal/api/web/v1/auth/embed/signin",
        json={"siteName": body["tableau"]["site"], "jwt": body["token"]},
        headers={"Origin": info.demo_url},
        timeout=10,
    )
    print(f"  3. Tableau embed sign-in -> {signin.status_code}")
    if signin.status_code != 200:
        return False
    view = session.get(info.view_url, timeout=10)
    tenants = ROW_TENANT.findall(view.text)
    print(f"  4. {info.view_url} -> {len(tenants)} rows, tenants seen: {sorted(set(tenants))}")
    return bool(tenants) and set(tenants) == {user["tenant"]}


def run_walkthrough(info: StackInfo) -> bool:
    print("\nWalkthrough: each user signs in, asks the broker for a token and opens the view.", flush=True)
    results = [walk_user(info, user) for user in info.users]
    verdict = "as expected" if all(results) else "NOT as expected"
    print(f"\nEach user saw only their own tenant's rows; the unentitled user got no token: {verdict}.", flush=True)
    print(f"Open {info.demo_url} in a browser to do the same with the real embedding library.", flush=True)
    return all(results)
