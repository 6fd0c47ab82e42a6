"""A broker deployment in moto's server: Cognito pool, table and secret built from template.yaml,
two tenants with one user each, plus the edge cases (unentitled, disabled user, disabled tenant)."""

from __future__ import annotations

import copy
import json
import secrets
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import jwt
import pytest

from local_stack.api_gateway import gateway_claim_value
from sam_local import aws_resources
from sam_local.lambda_runtime import LocalLambdaContext
from sam_local.template import Template
from tableau_broker.signing_secret import ConnectedAppSecret
from tests.support.moto_server import reset_moto

EVENTS_DIR = Path(__file__).resolve().parents[2] / "events" / "token_broker"
PASSWORD = "Correct-Horse-9-Battery"
TABLEAU_URL = "https://tableau.example.com"


@dataclass(frozen=True)
class TestUser:
    email: str
    sub: str
    tenant: str | None
    tableau_username: str | None


@dataclass
class BrokerStack:
    moto_url: str
    pool: aws_resources.UserPool
    other_client_id: str
    table: str
    secret_arn: str
    secret: ConnectedAppSecret
    users: dict[str, TestUser]
    env: dict[str, str]
    cognito: Any
    dynamodb: Any
    secretsmanager: Any
    responses: list[dict[str, Any]] = field(default_factory=list)

    # --- identities -------------------------------------------------------------------------------------
    def cognito_tokens(self, name: str, client_id: str | None = None) -> dict[str, str]:
        return aws_resources.sign_in(self.cognito, client_id or self.pool.client_id, self.users[name].email, PASSWORD)

    def claims(self, name: str, kind: str = "id") -> dict[str, Any]:
        token = self.cognito_tokens(name)[f"{kind}_token"]
        claims: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
        return claims

    # --- events -----------------------------------------------------------------------------------------
    @staticmethod
    def event(name: str) -> dict[str, Any]:
        data: dict[str, Any] = json.loads((EVENTS_DIR / name).read_text())
        return data

    def http_event(self, claims: Mapping[str, Any] | None, body: Any = None) -> dict[str, Any]:
        """An HTTP API payload v2 event as API Gateway builds it: claims become strings."""
        event = copy.deepcopy(self.event("http_api_valid.json"))
        if claims is None:
            event["requestContext"].pop("authorizer", None)
        else:
            strings = {k: gateway_claim_value(v) for k, v in claims.items()}
            event["requestContext"]["authorizer"]["jwt"]["claims"] = strings
        event["body"] = "" if body is None else (body if isinstance(body, str) else json.dumps(body))
        return event

    def rest_event(self, claims: Mapping[str, Any], body: Any = None) -> dict[str, Any]:
        event = copy.deepcopy(self.event("rest_api_valid.json"))
        rest_claims = {k: gateway_claim_value(v) for k, v in claims.items()}
        for time_claim in ("exp", "iat"):
            if time_claim in claims:
                rest_claims[time_claim] = _rest_date(int(claims[time_claim]))
        event["requestContext"]["authorizer"]["claims"] = rest_claims
        event["body"] = None if body is None else json.dumps(body)
        return event

    def bearer_event(self, token: str | None, body: Any = None, scheme: str = "Bearer") -> dict[str, Any]:
        event = self.http_event(None, body)
        if token is not None:
            event["headers"]["authorization"] = f"{scheme} {token}"
        return event

    # --- invocation -------------------------------------------------------------------------------------
    def invoke(self, event: dict[str, Any]) -> tuple[int, dict[str, str], dict[str, Any]]:
        from token_broker.handler import lambda_handler

        response = lambda_handler(event, LocalLambdaContext(function_name="BrokerFunction"))
        self.responses.append(response)
        return response["statusCode"], response["headers"], json.loads(response["body"])


def _rest_date(epoch: int) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(epoch, tz=UTC).strftime("%a %b %d %H:%M:%S UTC %Y")


def new_connected_app_secret() -> ConnectedAppSecret:
    return ConnectedAppSecret(
        client_id=str(uuid.uuid4()), secret_id=str(uuid.uuid4()), secret_value=secrets.token_urlsafe(32)
    )


def build_broker_stack(
    moto_url: str, monkeypatch: pytest.MonkeyPatch, parameters: Mapping[str, str] | None = None
) -> BrokerStack:
    """``parameters``: template parameter values (e.g. ``AdditionalTableauSites``) the broker's environment uses."""
    from token_broker import handler

    reset_moto(moto_url)
    region = "us-east-1"
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_url)
    session = boto3.session.Session(region_name=region)
    cognito = session.client("cognito-idp", endpoint_url=moto_url)
    dynamodb = session.client("dynamodb", endpoint_url=moto_url)
    secretsmanager = session.client("secretsmanager", endpoint_url=moto_url)
    template = Template(parameters=parameters)

    pool = aws_resources.create_user_pool(cognito, "broker-test", region=region)
    other_client = aws_resources.create_app_client(cognito, pool.pool_id, "not-allowed")
    table = aws_resources.create_entitlements_table(template, dynamodb, "entitlements-test")
    secret = new_connected_app_secret()
    secret_arn = aws_resources.create_connected_app_secret(template, secretsmanager, "tableau/connected-app", secret)

    aws_resources.put_tenant(
        dynamodb, table, "acme", enabled=True, tableau_url=TABLEAU_URL, site="acme-site",
        scopes=["tableau:views:embed", "tableau:views:embed_authoring"], attributes={"region": ["eu", "us"]},
    )  # fmt: skip
    aws_resources.put_tenant(
        dynamodb, table, "globex", enabled=True, tableau_url=TABLEAU_URL, site="globex-site",
        scopes=["tableau:views:embed"],
    )  # fmt: skip
    aws_resources.put_tenant(
        dynamodb, table, "initech", enabled=False, tableau_url=TABLEAU_URL, site="initech-site",
        scopes=["tableau:views:embed"],
    )  # fmt: skip

    users: dict[str, TestUser] = {}
    plan = {
        "alice": ("alice@acme.example", "acme", "alice.acme@tableau.example", True),
        "bob": ("bob@globex.example", "globex", "bob.globex@tableau.example", True),
        "carol": ("carol@nowhere.example", None, None, True),
        "dave": ("dave@acme.example", "acme", "dave.acme@tableau.example", False),
        "erin": ("erin@initech.example", "initech", "erin.initech@tableau.example", True),
    }
    for name, (email, tenant, tableau_username, enabled) in plan.items():
        sub = aws_resources.create_cognito_user(cognito, pool.pool_id, email, PASSWORD)
        if tenant is not None:
            aws_resources.put_user(
                dynamodb, table, sub, tableau_username=tableau_username, tenant_id=tenant, enabled=enabled
            )
        users[name] = TestUser(email=email, sub=sub, tenant=tenant, tableau_username=tableau_username)

    env = template.function_environment(
        "BrokerFunction",
        {
            "EntitlementsTable": table,
            "ConnectedAppSecret": secret_arn,
            "UserPoolId": pool.pool_id,
            "UserPoolClientIds": [pool.client_id],
            "AllowedOrigins": ["http://127.0.0.1"],
        },
    )
    env["COGNITO_JWKS_URL"] = f"{moto_url}/{pool.pool_id}/.well-known/jwks.json"
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    handler.reset_runtime()
    return BrokerStack(
        moto_url=moto_url,
        pool=pool,
        other_client_id=other_client,
        table=table,
        secret_arn=secret_arn,
        secret=secret,
        users=users,
        env=env,
        cognito=cognito,
        dynamodb=dynamodb,
        secretsmanager=secretsmanager,
    )
