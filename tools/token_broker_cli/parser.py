"""argparse plumbing shared by the command modules."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NoReturn

from token_broker_cli.errors import UsageError

OUTPUT_FORMATS = ("json", "text")

if TYPE_CHECKING:
    from token_broker_cli.context import Context

Handler = Callable[["Context", argparse.Namespace], int]
if TYPE_CHECKING:
    Subparsers = argparse._SubParsersAction[Any]
else:
    Subparsers = argparse._SubParsersAction


class CliParser(argparse.ArgumentParser):
    """Errors become a ``UsageError`` (one line, exit 2) instead of usage text and ``sys.exit``."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        kwargs.setdefault("allow_abbrev", False)  # no surprising prefixes (e.g. --secret-value)
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see '{self.prog} --help')")


@dataclass(frozen=True)
class Parents:
    """Option groups added to every parser that needs them.

    Defaults are ``argparse.SUPPRESS`` so an option given before the subcommand is not reset by the
    subcommand's own copy; commands read them with ``context.option``.
    """

    aws: argparse.ArgumentParser
    table: argparse.ArgumentParser
    secret: argparse.ArgumentParser
    tenant_attribute: argparse.ArgumentParser
    user_pool: argparse.ArgumentParser


def build_parents() -> Parents:
    aws = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    group = aws.add_argument_group("AWS")
    group.add_argument("--profile", default=argparse.SUPPRESS, help="AWS profile (default: AWS_PROFILE)")
    group.add_argument(
        "--region", default=argparse.SUPPRESS, help="AWS region (default: AWS_REGION, then AWS_DEFAULT_REGION)"
    )
    group.add_argument(
        "--endpoint-url",
        default=argparse.SUPPRESS,
        help="AWS endpoint, e.g. a moto server (default: AWS_ENDPOINT_URL as boto3 resolves it)",
    )
    group.add_argument(
        "--stack-name",
        default=argparse.SUPPRESS,
        help="the deployed stack: table, secrets and user pool come from its outputs and parameters "
        "(default: TOKEN_BROKER_STACK; explicit flags win)",
    )
    out = aws.add_argument_group("output")
    out.add_argument(
        "--output",
        choices=OUTPUT_FORMATS,
        default=argparse.SUPPRESS,
        help="text (lists with a header row) or json (default: TOKEN_BROKER_OUTPUT, else text)",
    )

    table = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    table.add_argument(
        "--table",
        default=argparse.SUPPRESS,
        help="entitlements DynamoDB table (default: the stack's EntitlementsTableName, else ENTITLEMENTS_TABLE)",
    )

    secret = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    secret.add_argument(
        "--secret-arn",
        default=argparse.SUPPRESS,
        help="connected-app secret, ARN or name (default: the stack's ConnectedAppSecretArn, else "
        "CONNECTED_APP_SECRET_ARN)",
    )

    tenant_attribute = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    tenant_attribute.add_argument(
        "--tenant-attribute",
        default=argparse.SUPPRESS,
        help="the broker's tenant attribute claim, refused as a stored attribute "
        "(default: TENANT_ATTRIBUTE_NAME, else 'tenant')",
    )
    user_pool = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    user_pool.add_argument(
        "--user-pool-id",
        default=argparse.SUPPRESS,
        help="the Cognito user pool (default: the stack's UserPoolId parameter, else COGNITO_USER_POOL_ID)",
    )
    return Parents(aws=aws, table=table, secret=secret, tenant_attribute=tenant_attribute, user_pool=user_pool)


def describe_unrecognized(extras: Sequence[str]) -> str:
    """Name unknown options but never echo values: one of them may be a secret pasted on the command line."""
    shown = [arg.split("=", 1)[0] + ("=…" if "=" in arg else "") for arg in extras if arg.startswith("-")]
    hidden = len(extras) - len(shown)
    parts = [" ".join(shown)] if shown else []
    if hidden:
        parts.append(f"{hidden} further argument(s) not shown")
    message = f"unrecognized arguments: {'; '.join(parts)}"
    if any(arg.startswith("--secret-value") for arg in shown):
        message += "; pass the secret value with --secret-value-stdin or --secret-value-file, never as an argument"
    return message
