"""What every command gets: lazily built AWS clients, settings from flags/environment, and output helpers."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import TYPE_CHECKING, Any, TextIO

import boto3
import botocore.session
from botocore.config import Config
from botocore.exceptions import NoRegionError, ProfileNotFound
from botocore.loaders import Loader, create_loader

from tableau_broker.clock import Clock, system_clock
from token_broker_cli.errors import UsageError

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_secretsmanager import SecretsManagerClient

ENV_TABLE = "ENTITLEMENTS_TABLE"
ENV_SECRET_ARN = "CONNECTED_APP_SECRET_ARN"  # nosec B105  # an environment variable's name
ENV_TENANT_ATTRIBUTE = "TENANT_ATTRIBUTE_NAME"
DEFAULT_TENANT_ATTRIBUTE = "tenant"
REDACTED = "<redacted>"
# An operator waits at a terminal, not inside a Lambda deadline: botocore's own bounded retries suffice.
CLIENT_CONFIG = Config(retries={"mode": "standard", "max_attempts": 3}, connect_timeout=2, read_timeout=5)
SESSION_NOTE = "open Tableau sessions are not ended; they last until Tableau expires them"


@lru_cache(maxsize=1)
def _model_loader() -> Loader:
    return create_loader()


def _botocore_session() -> botocore.session.Session:
    """A fresh botocore session sharing one model loader per process (service JSON is parsed only once)."""
    session = botocore.session.Session()
    session.register_component("data_loader", _model_loader())
    return session


def option(args: argparse.Namespace, name: str) -> Any:
    """Options shared by several parsers default to ``argparse.SUPPRESS``: absent means not given anywhere."""
    return getattr(args, name, None)


@dataclass
class AwsContext:
    """Profile, region and endpoint as the operator gave them; the session and clients are built on first use.

    Region: ``--region``, else ``AWS_REGION``, else ``AWS_DEFAULT_REGION``/the profile (botocore itself reads
    only the latter). Endpoint: ``--endpoint-url``, else whatever boto3 resolves (``AWS_ENDPOINT_URL`` and
    friends), so the same commands work against moto's server and a real account.
    """

    profile: str | None = None
    region: str | None = None
    endpoint_url: str | None = None
    _session: boto3.session.Session | None = field(default=None, init=False, repr=False)
    _clients: dict[str, Any] = field(default_factory=dict, init=False, repr=False)

    @classmethod
    def from_args(cls, args: argparse.Namespace, env: Mapping[str, str]) -> AwsContext:
        return cls(
            profile=option(args, "profile") or None,
            region=option(args, "region") or env.get("AWS_REGION") or None,
            endpoint_url=option(args, "endpoint_url") or None,
        )

    def session(self) -> boto3.session.Session:
        if self._session is None:
            try:
                self._session = boto3.session.Session(
                    botocore_session=_botocore_session(), profile_name=self.profile, region_name=self.region
                )
            except ProfileNotFound as exc:
                raise UsageError(f"{exc} (check --profile / AWS_PROFILE)") from None
        return self._session

    @property
    def region_name(self) -> str | None:
        """The effective region; never raises (it is also used while reporting errors)."""
        if self._session is None:
            try:
                self.session()
            except UsageError:
                return self.region
        return self._session.region_name if self._session is not None else self.region

    def _client(self, service: str) -> Any:
        if service not in self._clients:
            kwargs: dict[str, Any] = {"config": CLIENT_CONFIG}
            if self.endpoint_url:
                kwargs["endpoint_url"] = self.endpoint_url
            try:
                self._clients[service] = self.session().client(service, **kwargs)  # type: ignore[call-overload]
            except ProfileNotFound as exc:
                raise UsageError(f"{exc} (check --profile / AWS_PROFILE)") from None
            except NoRegionError:
                raise UsageError("no AWS region: pass --region or set AWS_REGION / AWS_DEFAULT_REGION") from None
            except ValueError as exc:  # botocore rejects a malformed endpoint URL with a ValueError
                raise UsageError(f"invalid --endpoint-url: {exc}") from None
        return self._clients[service]

    def dynamodb(self) -> DynamoDBClient:
        client: DynamoDBClient = self._client("dynamodb")
        return client

    def secretsmanager(self) -> SecretsManagerClient:
        client: SecretsManagerClient = self._client("secretsmanager")
        return client


@dataclass
class Context:
    aws: AwsContext
    env: Mapping[str, str]
    stdin: TextIO
    stdout: TextIO
    stderr: TextIO
    clock: Clock = system_clock
    _sensitive: list[str] = field(default_factory=list, repr=False)

    @classmethod
    def from_process(cls) -> Context:
        # Read the streams at call time (not import time) so tests and pipes see the real ones.
        return cls(aws=AwsContext(), env=dict(os.environ), stdin=sys.stdin, stdout=sys.stdout, stderr=sys.stderr)

    # --- settings ----------------------------------------------------------------------------------------

    def table(self, args: argparse.Namespace) -> str:
        name = option(args, "table") or self.env.get(ENV_TABLE, "").strip()
        if not name:
            raise UsageError(f"no entitlements table: pass --table or set {ENV_TABLE}")
        return str(name)

    def secret_arn(self, args: argparse.Namespace) -> str:
        arn = option(args, "secret_arn") or self.env.get(ENV_SECRET_ARN, "").strip()
        if not arn:
            raise UsageError(f"no connected-app secret: pass --secret-arn or set {ENV_SECRET_ARN}")
        return str(arn)

    def tenant_attribute(self, args: argparse.Namespace) -> str:
        # Same default as the broker (TENANT_ATTRIBUTE_NAME, else "tenant"); validated by the caller.
        name = option(args, "tenant_attribute") or self.env.get(ENV_TENANT_ATTRIBUTE, "").strip()
        return str(name or DEFAULT_TENANT_ATTRIBUTE)

    # --- output ------------------------------------------------------------------------------------------

    def sensitive(self, value: str) -> None:
        """Register a value (a secret) that must never reach the terminal, even inside an error message."""
        if value:
            self._sensitive.append(value)

    def redact(self, text: str) -> str:
        for value in self._sensitive:
            text = text.replace(value, REDACTED)
        return text

    def print(self, text: str) -> None:
        print(self.redact(text), file=self.stdout)

    def print_json(self, value: Any) -> None:
        self.print(json.dumps(value, indent=2, sort_keys=True, ensure_ascii=True, default=_json_default))

    def warn(self, message: str) -> None:
        print(self.redact(f"token-broker: warning: {one_line(message)}"), file=self.stderr)

    def note(self, message: str) -> None:
        print(self.redact(f"token-broker: {one_line(message)}"), file=self.stderr)

    def error(self, message: str) -> None:
        print(self.redact(f"token-broker: error: {one_line(message)}"), file=self.stderr)


def _json_default(value: object) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def one_line(text: str) -> str:
    """Collapse whitespace and escape control characters (token claims are untrusted input)."""
    flat = " ".join(text.split())
    return "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii") for ch in flat)
