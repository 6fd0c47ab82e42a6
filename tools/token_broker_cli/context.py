"""What every command gets: lazily built AWS clients, settings from flags/environment, and output helpers."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import TYPE_CHECKING, Any, TextIO

import boto3
import botocore.session
from botocore.config import Config
from botocore.exceptions import NoRegionError, ProfileNotFound
from botocore.loaders import Loader, create_loader

from tableau_broker.clock import Clock, system_clock
from token_broker_cli import stack
from token_broker_cli.errors import UsageError
from token_broker_cli.parser import OUTPUT_FORMATS
from token_broker_cli.stack import StackValues, describe_stack

if TYPE_CHECKING:
    from mypy_boto3_cognito_idp import CognitoIdentityProviderClient
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_secretsmanager import SecretsManagerClient

ENV_TABLE = "ENTITLEMENTS_TABLE"
ENV_SECRET_ARN = "CONNECTED_APP_SECRET_ARN"  # nosec B105  # an environment variable's name
ENV_ADMIN_SECRET_ARN = "TABLEAU_ADMIN_SECRET_ARN"  # nosec B105  # an environment variable's name
ENV_USER_POOL = "COGNITO_USER_POOL_ID"
ENV_STACK = "TOKEN_BROKER_STACK"
ENV_OUTPUT = "TOKEN_BROKER_OUTPUT"
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


@dataclass(frozen=True)
class Setting:
    """A resource the CLI needs, and where it may come from.

    Precedence: the command line beats the environment, and within each the resource's own value beats the
    stack's: ``--table``, then ``--stack-name``'s output, then ``ENTITLEMENTS_TABLE``, then ``TOKEN_BROKER_STACK``'s.
    """

    what: str
    dest: str  # the flag's argparse dest
    flag: str
    env: str
    stack_output: str | None = None
    stack_parameter: str | None = None

    def from_stack(self, values: StackValues) -> str:
        if self.stack_output is not None:
            return values.output(self.stack_output)
        if self.stack_parameter is None:
            raise RuntimeError("a stack-backed setting names neither an output nor a parameter")
        return values.parameter(self.stack_parameter)


TABLE = Setting("entitlements table", "table", "--table", ENV_TABLE, stack_output=stack.OUTPUT_TABLE)
SECRET = Setting("connected-app secret", "secret_arn", "--secret-arn", ENV_SECRET_ARN, stack_output=stack.OUTPUT_SECRET)
ADMIN_SECRET = Setting(
    "Tableau admin secret",
    "admin_secret_arn",
    "--admin-secret-arn",
    ENV_ADMIN_SECRET_ARN,
    stack_output=stack.OUTPUT_ADMIN_SECRET,
)
TENANT_ATTRIBUTE = Setting(
    "tenant attribute",
    "tenant_attribute",
    "--tenant-attribute",
    ENV_TENANT_ATTRIBUTE,
    stack_parameter=stack.PARAMETER_TENANT_ATTRIBUTE,
)
USER_POOL = Setting(
    "Cognito user pool", "user_pool_id", "--user-pool-id", ENV_USER_POOL, stack_parameter=stack.PARAMETER_USER_POOL
)


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
    _clients: dict[tuple[str, str | None], Any] = field(default_factory=dict, init=False, repr=False)

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

    def _client(self, service: str, region: str | None = None) -> Any:
        if (service, region) not in self._clients:
            kwargs: dict[str, Any] = {"config": CLIENT_CONFIG}
            if self.endpoint_url:
                kwargs["endpoint_url"] = self.endpoint_url
            if region:
                kwargs["region_name"] = region
            try:
                self._clients[service, region] = self.session().client(service, **kwargs)  # type: ignore[call-overload]
            except ProfileNotFound as exc:
                raise UsageError(f"{exc} (check --profile / AWS_PROFILE)") from None
            except NoRegionError:
                raise UsageError("no AWS region: pass --region or set AWS_REGION / AWS_DEFAULT_REGION") from None
            except ValueError as exc:  # botocore rejects a malformed endpoint URL with a ValueError
                raise UsageError(f"invalid --endpoint-url: {exc}") from None
        return self._clients[service, region]

    def dynamodb(self) -> DynamoDBClient:
        client: DynamoDBClient = self._client("dynamodb")
        return client

    def secretsmanager(self) -> SecretsManagerClient:
        client: SecretsManagerClient = self._client("secretsmanager")
        return client

    def cognito(self, user_pool_id: str) -> CognitoIdentityProviderClient:
        """A client in the pool's own region (the prefix of its ID), which may differ from the CLI's region."""
        region = user_pool_id.split("_", 1)[0] if "_" in user_pool_id else None
        client: CognitoIdentityProviderClient = self._client("cognito-idp", region)
        return client

    def cloudformation(self) -> Any:
        return self._client("cloudformation")

    def sts(self) -> Any:
        return self._client("sts")


@dataclass
class Context:
    aws: AwsContext
    env: Mapping[str, str]
    stdin: TextIO
    stdout: TextIO
    stderr: TextIO
    clock: Clock = system_clock
    output_format: str = "text"
    _sensitive: list[str] = field(default_factory=list, repr=False)
    _stacks: dict[str, StackValues] = field(default_factory=dict, repr=False)
    _actor: str | None = field(default=None, repr=False)

    @classmethod
    def from_process(cls) -> Context:
        # Read the streams at call time (not import time) so tests and pipes see the real ones.
        return cls(aws=AwsContext(), env=dict(os.environ), stdin=sys.stdin, stdout=sys.stdout, stderr=sys.stderr)

    # --- settings ----------------------------------------------------------------------------------------

    def stack(self, name: str) -> StackValues:
        name = _stack_name(name)
        if name not in self._stacks:
            self._stacks[name] = describe_stack(self.aws.cloudformation(), name, region=self.aws.region_name)
        return self._stacks[name]

    def resolve(self, args: argparse.Namespace, setting: Setting) -> str | None:
        """The setting's value by ``Setting``'s precedence, or ``None`` when nothing names it."""
        flag = option(args, setting.dest)
        if flag:
            return str(flag)
        stack_flag = option(args, "stack_name")
        if stack_flag:
            return setting.from_stack(self.stack(stack_flag))
        env = self.env.get(setting.env, "").strip()
        if env:
            return env
        stack_env = self.env.get(ENV_STACK, "").strip()
        if stack_env:
            return setting.from_stack(self.stack(stack_env))
        return None

    def require(self, args: argparse.Namespace, setting: Setting) -> str:
        value = self.resolve(args, setting)
        if value is None:
            raise UsageError(
                f"no {setting.what}: pass {setting.flag} or --stack-name, or set {setting.env} or {ENV_STACK}"
            )
        return value

    def table(self, args: argparse.Namespace) -> str:
        return self.require(args, TABLE)

    def secret_arn(self, args: argparse.Namespace) -> str:
        return self.require(args, SECRET)

    def admin_secret_arn(self, args: argparse.Namespace) -> str:
        return self.require(args, ADMIN_SECRET)

    # --- who writes ----------------------------------------------------------------------------------------

    def actor(self) -> str:
        """The caller's identity as STS reports it (the ARN of the user or assumed role), asked once."""
        if self._actor is None:
            self._actor = str(self.aws.sts().get_caller_identity()["Arn"])
        return self._actor

    def now_iso(self) -> str:
        return datetime.fromtimestamp(self.clock(), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    def stamp(self, action: str) -> dict[str, str]:
        """``{<action>_at, <action>_by}``: when and by whom, for every record the CLI writes."""
        return {f"{action}_at": self.now_iso(), f"{action}_by": self.actor()}

    def choose_output(self, args: argparse.Namespace) -> None:
        chosen = option(args, "output") or self.env.get(ENV_OUTPUT, "").strip() or "text"
        if chosen not in OUTPUT_FORMATS:
            raise UsageError(f"{ENV_OUTPUT} must be one of {', '.join(OUTPUT_FORMATS)}")
        self.output_format = chosen

    def tenant_attribute(self, args: argparse.Namespace) -> str:
        # Same default as the broker (TENANT_ATTRIBUTE_NAME, else "tenant"); validated by the caller.
        return self.resolve(args, TENANT_ATTRIBUTE) or DEFAULT_TENANT_ATTRIBUTE

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

    def emit(self, value: Mapping[str, Any] | list[dict[str, Any]], *, columns: Sequence[str] | None = None) -> None:
        """A command's result in the chosen ``--output``: JSON, or text (see ``render_text``)."""
        if self.output_format == "json":
            self.print_json(value)
            return
        for line in render_text(value, columns=columns):
            self.print(line)

    def warn(self, message: str) -> None:
        print(self.redact(f"token-broker: warning: {one_line(message)}"), file=self.stderr)

    def note(self, message: str) -> None:
        print(self.redact(f"token-broker: {one_line(message)}"), file=self.stderr)

    def error(self, message: str) -> None:
        print(self.redact(f"token-broker: error: {one_line(message)}"), file=self.stderr)


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return ",".join(value) or "-"
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True, ensure_ascii=True, separators=(",", ":"), default=_json_default)
    return one_line(str(value)) or "-"


def render_table(rows: Sequence[Mapping[str, Any]], columns: Sequence[str] | None = None) -> list[str]:
    """A header row of the column names in capitals, then one tab-separated line per row."""
    names = list(columns) if columns is not None else list(dict.fromkeys(key for row in rows for key in row))
    lines = ["\t".join(name.upper() for name in names)]
    lines.extend("\t".join(_cell(row.get(name)) for name in names) for row in rows)
    return lines


def render_text(value: Mapping[str, Any] | list[dict[str, Any]], *, columns: Sequence[str] | None = None) -> list[str]:
    """Lists are tables with a header row. A record is ``FIELD<TAB>VALUE`` lines under a header row; a field
    that holds a list of records follows as its own table after a blank line and its name."""
    if isinstance(value, list):
        return render_table(value, columns)
    nested = {k: v for k, v in value.items() if isinstance(v, list) and v and all(isinstance(i, dict) for i in v)}
    lines = ["FIELD\tVALUE"]
    lines.extend(f"{one_line(name)}\t{_cell(item)}" for name, item in sorted(value.items()) if name not in nested)
    for name, rows in nested.items():
        lines.extend(["", f"{one_line(name)}:", *render_table(rows)])
    return lines


def _stack_name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > 2048 or any(ch.isspace() or not ch.isprintable() for ch in name):
        raise UsageError("--stack-name must be a stack name or ID without whitespace")
    return name


def _json_default(value: object) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def one_line(text: str) -> str:
    """Collapse whitespace and escape control characters (token claims are untrusted input)."""
    flat = " ".join(text.split())
    return "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii") for ch in flat)
