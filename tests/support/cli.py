"""Shared helpers for the ``token-broker`` CLI tests (no tests here; imported by the test_cli_* modules).

Every CLI call made through ``Cli`` also asserts the invariants that hold for any command: no traceback, the
stored secret value never on stdout or stderr, and stderr made of one-line ``token-broker:`` messages.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import json
import sys
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import pytest
from moto import mock_aws

from sam_local.template import Template
from token_broker_cli.context import REDACTED, AwsContext
from token_broker_cli.main import main

REGION = "eu-west-1"
TABLE = "entitlements-cli-test"
SECRET_NAME = "tableau-connected-app-cli-test"
CLIENT_ID = "client-0a1b2c3d"
SECRET_ID = "kid-4e5f6a7b"
SECRET_VALUE = "Zm9vYmFyLXRhYmxlYXUtc2VjcmV0LXZhbHVlLTQ0Y2g="  # what must never be printed
NEW_SECRET_VALUE = "bmV3LXNlY3JldC12YWx1ZS1mb3Itcm90YXRpb24tdGVzdA"

CLEARED_ENV = (
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_REGION",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_DYNAMODB",
    "AWS_ENDPOINT_URL_SECRETS_MANAGER",
    "AWS_SESSION_TOKEN",
    "ENTITLEMENTS_TABLE",
    "CONNECTED_APP_SECRET_ARN",
    "TENANT_ATTRIBUTE_NAME",
)


@dataclass(frozen=True)
class Aws:
    dynamodb: Any
    secretsmanager: Any
    secret_arn: str

    def item(self, key: str) -> dict[str, Any] | None:
        item: dict[str, Any] | None = self.dynamodb.get_item(
            TableName=TABLE, Key={"pk": {"S": key}}, ConsistentRead=True
        ).get("Item")
        return item

    def current_secret(self) -> dict[str, Any]:
        value = self.secretsmanager.get_secret_value(SecretId=self.secret_arn, VersionStage="AWSCURRENT")
        data: dict[str, Any] = json.loads(value["SecretString"])
        return data


def isolate_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    for name in CLEARED_ENV:
        monkeypatch.delenv(name, raising=False)
    # No host profile, config or credentials file may leak into a test.
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "aws-credentials"))
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


@lru_cache(maxsize=1)
def _table_args() -> str:
    return json.dumps(Template().dynamodb_create_table_args("EntitlementsTable", TABLE))


def create_resources(dynamodb: Any, secretsmanager: Any) -> str:
    """The table exactly as template.yaml defines it, and a secret holding valid credentials."""
    dynamodb.create_table(**json.loads(_table_args()))
    arn: str = secretsmanager.create_secret(
        Name=SECRET_NAME,
        SecretString=json.dumps({"client_id": CLIENT_ID, "secret_id": SECRET_ID, "secret_value": SECRET_VALUE}),
    )["ARN"]
    return arn


@contextmanager
def aws_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> Iterator[Aws]:
    isolate_environment(monkeypatch, tmp_path)
    with mock_aws():
        # Built through the CLI's own context: it shares one botocore model loader, so setup stays fast.
        clients = AwsContext(region=REGION)
        dynamodb, secretsmanager = clients.dynamodb(), clients.secretsmanager()
        arn = create_resources(dynamodb, secretsmanager)
        monkeypatch.setenv("ENTITLEMENTS_TABLE", TABLE)
        monkeypatch.setenv("CONNECTED_APP_SECRET_ARN", arn)
        yield Aws(dynamodb, secretsmanager, arn)


@dataclass(frozen=True)
class Result:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


class Cli:
    """Runs ``token_broker_cli.main.main`` in-process and checks the invariants of every command."""

    def __init__(self, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
        self.capsys = capsys
        self.monkeypatch = monkeypatch
        self.never_printed = [SECRET_VALUE]

    def __call__(self, *argv: str, stdin: str = "") -> Result:
        self.capsys.readouterr()
        self.monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
        code = main(list(argv))
        out, err = self.capsys.readouterr()
        assert isinstance(code, int)
        assert "Traceback" not in err and "Traceback" not in out
        for value in self.never_printed:
            assert value not in out
            assert value not in err
        # Redaction is the last line of defence: if it ever fires, a command tried to print a secret.
        assert REDACTED not in out + err
        for line in err.splitlines():
            assert line.startswith("token-broker: "), f"stderr line is not a one-line CLI message: {line!r}"
        if code not in (0, 3):
            assert "error:" in err, "a failing command must say why on stderr"
        return Result(code, out, err)


# --- tokens for `inspect` -------------------------------------------------------------------------------


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def sign(header: Mapping[str, Any], payload: Mapping[str, Any], key: str) -> str:
    """HS256 by hand, so a test can build any header (PyJWT always adds alg/typ)."""
    head = b64url(json.dumps(header, separators=(",", ":")).encode())
    body = b64url(json.dumps(payload, separators=(",", ":")).encode())
    signature = hmac.new(key.encode(), f"{head}.{body}".encode("ascii"), hashlib.sha256).digest()
    return f"{head}.{body}.{b64url(signature)}"


def make_token(
    *,
    key: str = SECRET_VALUE,
    claims: Mapping[str, Any] | None = None,
    drop_claims: tuple[str, ...] = (),
    headers: Mapping[str, Any] | None = None,
    drop_headers: tuple[str, ...] = (),
    now: float | None = None,
) -> str:
    """A Tableau connected-app JWT shaped as the broker mints it, with chosen claims/headers changed or removed."""
    issued = int(time.time() if now is None else now) - 5
    payload: dict[str, Any] = {
        "iss": CLIENT_ID,
        "sub": "alice@example.com",
        "aud": "tableau",
        "exp": issued + 305,
        "iat": issued,
        "nbf": issued,
        "jti": str(uuid.uuid4()),
        "scp": ["tableau:views:embed"],
        "tenant": "acme",
    }
    payload.update(claims or {})
    header: dict[str, Any] = {"alg": "HS256", "typ": "JWT", "kid": SECRET_ID, "iss": CLIENT_ID}
    header.update(headers or {})
    for name in drop_claims:
        payload.pop(name, None)
    for name in drop_headers:
        header.pop(name, None)
    return sign(header, payload, key)
