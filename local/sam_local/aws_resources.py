"""Creates the AWS side of the product (Cognito pool, entitlements table, connected-app secret) from
``template.yaml``'s definitions - used by the local stack and by the tests, against moto."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sam_local.template import Template
from tableau_broker.config import cognito_issuer
from tableau_broker.entitlements import tenant_key, user_key
from tableau_broker.signing_secret import ConnectedAppSecret

if TYPE_CHECKING:
    from mypy_boto3_cognito_idp import CognitoIdentityProviderClient
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_secretsmanager import SecretsManagerClient


@dataclass(frozen=True)
class UserPool:
    pool_id: str
    client_id: str
    region: str
    issuer_type: str = "ORIGINAL"

    @property
    def issuer(self) -> str:
        return cognito_issuer(self.issuer_type, self.region, self.pool_id)


# Pools (by ID) whose tokens name the UPDATED issuer. moto implements only ORIGINAL, but Cognito's
# IssuerConfiguration (CreateUserPool / AWS::Cognito::UserPool) lets a pool issue
# https://issuer-cognito-idp.<primary region>.amazonaws.com/<pool id>; the emulation below does what AWS documents.
_UPDATED_ISSUER_POOLS: dict[str, str] = {}


def _emulate_updated_issuer() -> None:
    """Wrap moto's token minting (in this process, server mode included) once: UPDATED pools get their issuer."""
    from moto.cognitoidp.models import CognitoIdpUserPool

    original = CognitoIdpUserPool.create_jwt
    if getattr(original, "_updated_issuer", False):
        return

    def create_jwt(self: Any, *args: Any, **kwargs: Any) -> Any:
        issuer = _UPDATED_ISSUER_POOLS.get(self.id)
        if issuer is not None:
            kwargs["extra_data"] = {**(kwargs.get("extra_data") or {}), "iss": issuer}
        return original(self, *args, **kwargs)

    create_jwt._updated_issuer = True  # type: ignore[attr-defined]
    CognitoIdpUserPool.create_jwt = create_jwt  # type: ignore[method-assign]


def create_user_pool(
    cognito: CognitoIdentityProviderClient, name: str, *, region: str, issuer_type: str = "ORIGINAL"
) -> UserPool:
    if issuer_type not in ("ORIGINAL", "UPDATED"):
        raise ValueError("issuer_type must be ORIGINAL or UPDATED")
    pool_id = cognito.create_user_pool(
        PoolName=name,
        AutoVerifiedAttributes=["email"],
        UsernameAttributes=["email"],
        Policies={"PasswordPolicy": {"MinimumLength": 12, "RequireNumbers": True, "RequireSymbols": True}},
    )["UserPool"]["Id"]
    client_id = create_app_client(cognito, pool_id, "spa")
    pool = UserPool(pool_id=pool_id, client_id=client_id, region=region, issuer_type=issuer_type)
    if issuer_type == "UPDATED":
        _emulate_updated_issuer()
        _UPDATED_ISSUER_POOLS[pool_id] = pool.issuer
    return pool


def create_app_client(cognito: CognitoIdentityProviderClient, pool_id: str, name: str) -> str:
    return cognito.create_user_pool_client(
        UserPoolId=pool_id,
        ClientName=name,
        GenerateSecret=False,
        ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
    )["UserPoolClient"]["ClientId"]


def create_cognito_user(cognito: CognitoIdentityProviderClient, pool_id: str, email: str, password: str) -> str:
    """A confirmed user with a permanent password; returns the immutable ``sub``."""
    response = cognito.admin_create_user(
        UserPoolId=pool_id,
        Username=email,
        UserAttributes=[{"Name": "email", "Value": email}, {"Name": "email_verified", "Value": "true"}],
        MessageAction="SUPPRESS",
    )
    cognito.admin_set_user_password(UserPoolId=pool_id, Username=email, Password=password, Permanent=True)
    attributes = {a["Name"]: a["Value"] for a in response["User"].get("Attributes", [])}
    return attributes["sub"]


def sign_in(cognito: CognitoIdentityProviderClient, client_id: str, email: str, password: str) -> dict[str, str]:
    result = cognito.initiate_auth(
        ClientId=client_id,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": email, "PASSWORD": password},
    )["AuthenticationResult"]
    return {"id_token": result["IdToken"], "access_token": result["AccessToken"]}


def create_entitlements_table(template: Template, dynamodb: DynamoDBClient, table_name: str) -> str:
    args = template.dynamodb_create_table_args("EntitlementsTable", table_name)
    dynamodb.create_table(**args)
    props = template.properties("EntitlementsTable")
    if props.get("PointInTimeRecoverySpecification", {}).get("PointInTimeRecoveryEnabled"):
        dynamodb.update_continuous_backups(
            TableName=table_name,
            PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True},
        )
    return table_name


def create_secret_from_template(
    template: Template, secretsmanager: SecretsManagerClient, logical_id: str, name: str, value: str | None
) -> str:
    """A secret as the template creates it (placeholder value), then the operator's real value."""
    props = template.properties(logical_id)
    arn = secretsmanager.create_secret(
        Name=name,
        Description=str(props.get("Description", "")).strip(),
        SecretString=props["SecretString"],
        Tags=template.resolve(props.get("Tags", []), {}),  # a site's tag is !Sub ${Site}, expanded to a literal
    )["ARN"]
    if value is not None:
        secretsmanager.put_secret_value(SecretId=arn, SecretString=value)
    return arn


def create_connected_app_secret(
    template: Template, secretsmanager: SecretsManagerClient, name: str, value: ConnectedAppSecret | None
) -> str:
    return create_secret_from_template(
        template, secretsmanager, "ConnectedAppSecret", name, None if value is None else value.to_json()
    )


def _attr(value: Any) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"BOOL": value}
    if isinstance(value, str):
        return {"S": value}
    if isinstance(value, Mapping):
        return {"M": {k: _attr(v) for k, v in value.items()}}
    if isinstance(value, Iterable):
        return {"L": [_attr(v) for v in value]}
    raise TypeError(f"unsupported value {type(value).__name__}")


def put_tenant(dynamodb: DynamoDBClient, table: str, tenant_id: str, **fields: Any) -> None:
    item = {"pk": {"S": tenant_key(tenant_id)}, "kind": {"S": "tenant"}}
    item.update({k: _attr(v) for k, v in fields.items() if v is not None})
    dynamodb.put_item(TableName=table, Item=item)


def put_user(dynamodb: DynamoDBClient, table: str, sub: str, **fields: Any) -> None:
    item = {"pk": {"S": user_key(sub)}, "kind": {"S": "user"}}
    item.update({k: _attr(v) for k, v in fields.items() if v is not None})
    dynamodb.put_item(TableName=table, Item=item)
