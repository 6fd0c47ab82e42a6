"""In-memory stand-ins for the two AWS clients the token path uses (no tests here).

They answer the exact calls the broker makes, in DynamoDB's and Secrets Manager's wire shapes, record every
call, and raise the botocore error they are given: the service and the store are tested through their
constructor seams, without moto. What a real endpoint does on the wire is tested in tests/integration.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from tableau_broker.config import BrokerSettings, settings_from_env
from tableau_broker.entitlements import tenant_key, user_key

TABLE = "entitlements"
SECRET_ARN = "arn:aws:secretsmanager:eu-west-1:111122223333:secret:tableau-a"
OTHER_SECRET_ARN = "arn:aws:secretsmanager:eu-west-1:111122223333:secret:tableau-b"
CLIENT_ID = "client-0a1b2c3d"
SECRET_ID = "kid-4e5f6a7b"
SECRET_VALUE = "Zm9vYmFyLXRhYmxlYXUtc2VjcmV0LXZhbHVlLTQ0Y2g="
TABLEAU_URL = "https://tableau.example.com"


def broker_settings(**env: str) -> BrokerSettings:
    return settings_from_env(
        {
            "COGNITO_USER_POOL_ID": "eu-west-1_AbCdEf123",
            "COGNITO_APP_CLIENT_IDS": "client-a",
            "ENTITLEMENTS_TABLE": TABLE,
            "CONNECTED_APP_SECRET_ARN": SECRET_ARN,
            **env,
        }
    )


def client_error(code: str, status: int, operation: str) -> ClientError:
    response: Any = {"Error": {"Code": code, "Message": "m"}, "ResponseMetadata": {"HTTPStatusCode": status}}
    return ClientError(response, operation)


def user_item(tenant_id: str = "acme", username: str = "alice@example.com", **extra: Any) -> dict[str, Any]:
    return {"tableau_username": {"S": username}, "tenant_id": {"S": tenant_id}, "enabled": {"BOOL": True}, **extra}


def tenant_item(*scopes: str, **extra: Any) -> dict[str, Any]:
    return {
        "enabled": {"BOOL": True},
        "tableau_url": {"S": TABLEAU_URL},
        "site": {"S": "acme-site"},
        "scopes": {"L": [{"S": s} for s in scopes or ("tableau:views:embed",)]},
        **extra,
    }


@dataclass
class FakeDynamoDB:
    """GetItem over ``items`` (key -> low-level item); ``error`` is raised by every call when set."""

    items: dict[str, dict[str, Any]] = field(default_factory=dict)
    error: Exception | None = None
    calls: list[dict[str, Any]] = field(default_factory=list)

    def put_user(self, sub: str, item: dict[str, Any]) -> None:
        self.items[user_key(sub)] = item

    def put_tenant(self, tenant_id: str, item: dict[str, Any]) -> None:
        self.items[tenant_key(tenant_id)] = item

    def get_item(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(kwargs)
        if self.error is not None:
            raise self.error
        item = self.items.get(kwargs["Key"]["pk"]["S"]) if kwargs["TableName"] == TABLE else None
        return {} if item is None else {"Item": {**item, "pk": kwargs["Key"]["pk"]}}


@dataclass
class FakeSecretsManager:
    """GetSecretValue over ``secrets`` (id -> SecretString); ``error`` is raised by every call when set."""

    secrets: dict[str, str] = field(default_factory=dict)
    error: Exception | None = None
    calls: list[dict[str, Any]] = field(default_factory=list)

    def put(
        self, secret_id: str, *, client_id: str = CLIENT_ID, kid: str = SECRET_ID, value: str = SECRET_VALUE
    ) -> None:
        self.secrets[secret_id] = json.dumps({"client_id": client_id, "secret_id": kid, "secret_value": value})

    def get_secret_value(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(kwargs)
        if self.error is not None:
            raise self.error
        if kwargs["SecretId"] not in self.secrets:
            raise client_error("ResourceNotFoundException", 400, "GetSecretValue")
        return {"ARN": kwargs["SecretId"], "SecretString": self.secrets[kwargs["SecretId"]]}


@dataclass
class FakeClock:
    now: float = 1_750_000_000.0

    def __call__(self) -> float:
        return self.now
