"""template.yaml's authorizer and the broker's issuer settings accept the tokens of a real (moto) Cognito pool."""

from __future__ import annotations

import boto3
import jwt
import pytest

from local_stack.api_gateway import LocalHttpApi, gateway_claim_value
from sam_local import aws_resources
from sam_local.template import Template
from tableau_broker.config import cognito_settings_from_env
from tableau_broker.identity import identity_from_claims


@pytest.fixture(scope="module")
def template() -> Template:
    return Template()


@pytest.mark.parametrize("issuer_type", ["ORIGINAL", "UPDATED"])
def test_local_authorizer_and_broker_accept_both_issuer_kinds(
    template: Template, moto_server_url: str, issuer_type: str
) -> None:
    cognito = boto3.session.Session(region_name="us-east-1").client("cognito-idp", endpoint_url=moto_server_url)
    pool = aws_resources.create_user_pool(cognito, f"issuer-{issuer_type}", region="us-east-1", issuer_type=issuer_type)
    aws_resources.create_cognito_user(cognito, pool.pool_id, "kim@example.com", "Correct-Horse-9-Battery")
    token = aws_resources.sign_in(cognito, pool.client_id, "kim@example.com", "Correct-Horse-9-Battery")["id_token"]
    host = "issuer-cognito-idp" if issuer_type == "UPDATED" else "cognito-idp"
    assert jwt.decode(token, options={"verify_signature": False})["iss"] == (
        f"https://{host}.us-east-1.amazonaws.com/{pool.pool_id}"
    )

    refs = {
        "AWS::Region": "us-east-1",
        "EntitlementsTable": "table",
        "ConnectedAppSecret": "arn:aws:secretsmanager:us-east-1:1:secret:x",
        "UserPoolId": pool.pool_id,
        "UserPoolClientIds": [pool.client_id],
        "UserPoolIssuerType": issuer_type,
        "AllowedOrigins": ["http://127.0.0.1"],
        "ApiAccessLogGroup.Arn": "arn:aws:logs:us-east-1:1:log-group:x",
    }
    api = LocalHttpApi(template, refs, jwks_url=f"{moto_server_url}/{pool.pool_id}/.well-known/jwks.json")
    authorizer = api.routes["POST /token"].authorizer
    assert authorizer is not None and authorizer.issuer == pool.issuer
    claims = api.authorize(authorizer, f"Bearer {token}")
    assert claims is not None
    settings = cognito_settings_from_env(template.function_environment("BrokerFunction", refs))
    stringified = {k: gateway_claim_value(v) for k, v in claims.items()}
    assert identity_from_claims(stringified, settings, now=float(claims["iat"])).sub == claims["sub"]
