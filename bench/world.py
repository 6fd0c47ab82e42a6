"""What every measurement shares: the users, tenants and signing secret, the broker's environment as
template.yaml gives it to BrokerFunction, and the HTTP API event a signed-in user's request arrives as."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from bench.aws_stub import AwsStub
from sam_local.process_env import local_aws_environment
from sam_local.template import Template

REGION = "us-east-1"
TABLE = "bench-entitlements"
SECRET_NAME = "tableau-token-broker/connected-app"
USER_POOL_ID = "us-east-1_Bench0001"
APP_CLIENT_ID = "benchappclient000000000001"
ISSUER = f"https://cognito-idp.{REGION}.amazonaws.com/{USER_POOL_ID}"
TABLEAU_URL = "https://tableau.example.com"
SCOPE = "tableau:views:embed"
SECRET_VALUE = "b" * 44  # the length of a Tableau connected-app secret value
SECRET = {"client_id": "bench-client-id", "secret_id": "bench-secret-id", "secret_value": SECRET_VALUE}
TENANT_TTL_VARIABLE = "TENANT_CACHE_TTL_SECONDS"
SECRET_TTL_VARIABLE = "SECRET_CACHE_TTL_SECONDS"


@dataclass(frozen=True)
class User:
    sub: str
    tenant: str
    tableau_username: str


def users(tenants: int = 4, per_tenant: int = 3) -> list[User]:
    return [
        User(f"00000000-0000-4000-8000-{t:06d}{u:06d}", f"tenant-{t}", f"user{u}.tenant{t}@tableau.example")
        for t in range(tenants)
        for u in range(per_tenant)
    ]


def user_item(user: User) -> dict[str, Any]:
    return {
        "pk": {"S": f"USER#{user.sub}"},
        "tableau_username": {"S": user.tableau_username},
        "tenant_id": {"S": user.tenant},
        "enabled": {"BOOL": True},
    }


def tenant_item(tenant: str) -> dict[str, Any]:
    return {
        "pk": {"S": f"TENANT#{tenant}"},
        "enabled": {"BOOL": True},
        "tableau_url": {"S": TABLEAU_URL},
        "site": {"S": "analytics"},
        "scopes": {"L": [{"S": SCOPE}]},
    }


def items(people: list[User]) -> list[dict[str, Any]]:
    return [*(user_item(u) for u in people), *(tenant_item(t) for t in sorted({u.tenant for u in people}))]


def seed(stub: AwsStub, people: list[User]) -> str:
    """The users, their tenants and the signing secret in the stub; returns the secret's ARN."""
    for item in items(people):
        stub.put_item(TABLE, item)
    return stub.put_secret(SECRET_NAME, json.dumps(SECRET), REGION)


def broker_environment(secret_arn: str, endpoint: str) -> dict[str, str]:
    """BrokerFunction's variables from template.yaml (defaults for every parameter not given here), AWS at
    ``endpoint`` with dummy credentials."""
    refs = {
        "AWS::Region": REGION,
        "AWS::AccountId": "123456789012",
        "AWS::URLSuffix": "amazonaws.com",
        "EntitlementsTable": TABLE,
        "ConnectedAppSecret": secret_arn,
        "UserPoolId": USER_POOL_ID,
        "UserPoolClientIds": [APP_CLIENT_ID],
        "AllowedOrigins": ["https://app.example.com"],
    }
    return {**Template().function_environment("BrokerFunction", refs), **local_aws_environment(endpoint, REGION)}


def event(user: User, issued_at: float) -> dict[str, Any]:
    """POST /token as API Gateway's HTTP API hands it over after its JWT authorizer (claims as strings)."""
    claims = {
        "iss": ISSUER,
        "aud": APP_CLIENT_ID,
        "token_use": "id",
        "sub": user.sub,
        "cognito:username": user.tableau_username,
        "exp": str(int(issued_at) + 365 * 86400),
        "iat": str(int(issued_at)),
        "auth_time": str(int(issued_at)),
    }
    return {
        "version": "2.0",
        "routeKey": "POST /token",
        "rawPath": "/token",
        "headers": {"content-type": "application/json", "origin": "https://app.example.com"},
        "requestContext": {
            "http": {"method": "POST", "path": "/token", "sourceIp": "203.0.113.10"},
            "requestId": "bench-request",
            "routeKey": "POST /token",
            "stage": "$default",
            "authorizer": {"jwt": {"claims": claims, "scopes": None}},
        },
        "isBase64Encoded": False,
        "body": json.dumps({"scopes": [SCOPE]}),
    }


@contextmanager
def environment(variables: Mapping[str, str]) -> Iterator[None]:
    """``os.environ`` with ``variables`` for the block (the bench runs one configuration at a time)."""
    saved = dict(os.environ)
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
        os.environ.pop(name, None)
    os.environ.update(variables)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)
