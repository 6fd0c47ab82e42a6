"""boto3 clients built lazily, once per container, with bounded retries and timeouts."""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_secretsmanager import SecretsManagerClient

# A request must fail fast enough to answer 503 well inside API Gateway's 30 s limit.
CLIENT_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 3},
    connect_timeout=2,
    read_timeout=3,
)

# Error codes that mean "try again later" rather than "this request is wrong".
TRANSIENT_ERROR_CODES = frozenset(
    {
        "ThrottlingException",
        "Throttling",
        "ProvisionedThroughputExceededException",
        "RequestLimitExceeded",
        "InternalServerError",
        "InternalFailure",
        "InternalServiceError",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "TransactionConflictException",
    }
)


def _client(service: str) -> Any:
    # AWS_ENDPOINT_URL (honoured by boto3 itself) points every client at moto's server locally.
    return boto3.session.Session().client(service, config=CLIENT_CONFIG)  # type: ignore[call-overload]


@lru_cache(maxsize=1)
def dynamodb_client() -> DynamoDBClient:
    client: DynamoDBClient = _client("dynamodb")
    return client


@lru_cache(maxsize=1)
def secretsmanager_client() -> SecretsManagerClient:
    client: SecretsManagerClient = _client("secretsmanager")
    return client


def reset_clients() -> None:
    """For tests that switch endpoints or credentials."""
    dynamodb_client.cache_clear()
    secretsmanager_client.cache_clear()


def error_code(exc: BaseException) -> str:
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code", "Unknown"))
    return type(exc).__name__


def is_transient(exc: BaseException) -> bool:
    """Network errors, throttling and 5xx answers (after botocore's own retries)."""
    if isinstance(exc, ClientError):
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
        return error_code(exc) in TRANSIENT_ERROR_CODES or status >= 500
    return isinstance(exc, BotoCoreError)
