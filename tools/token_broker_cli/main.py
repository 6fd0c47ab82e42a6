"""Entry point of ``token-broker``: parse, dispatch, and turn every failure into one line and an exit code.

Exit codes: 0 success, 1 AWS/operational failure, 2 usage or validation error (including "no such tenant/
user"), 3 ``inspect`` found error-level problems, 130 interrupted. No traceback reaches the operator.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
)

from tableau_broker.aws import error_code
from tableau_broker.errors import BrokerError
from token_broker_cli.commands import register_all
from token_broker_cli.context import AwsContext, Context
from token_broker_cli.errors import EXIT_FAILURE, EXIT_INTERRUPTED, EXIT_USAGE, CliError, UsageError
from token_broker_cli.parser import CliParser, build_parents, describe_unrecognized
from token_broker_cli.version import version

PROG = "token-broker"


def build_parser() -> CliParser:
    parents = build_parents()
    parser = CliParser(
        prog=PROG,
        description="Operate the Tableau token broker: tenants, users, the connected-app secret, token checks.",
        parents=[parents.aws],
        epilog="Exit codes: 0 ok, 1 AWS/operational failure, 2 usage/validation error, 3 inspect found errors.",
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {version()}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    register_all(commands, parents)
    return parser


def parse_args(parser: argparse.ArgumentParser, argv: Sequence[str] | None) -> argparse.Namespace:
    args, extras = parser.parse_known_args(argv)
    if extras:
        raise UsageError(describe_unrecognized(extras))
    return args


def describe_aws_error(exc: BaseException, aws: AwsContext) -> str:
    if isinstance(exc, NoCredentialsError | PartialCredentialsError):
        return "no usable AWS credentials: set AWS_PROFILE (or pass --profile) or the AWS_* credential variables"
    if isinstance(exc, NoRegionError):
        return "no AWS region: pass --region or set AWS_REGION / AWS_DEFAULT_REGION"
    if isinstance(exc, EndpointConnectionError):
        return f"cannot reach AWS: {exc}"
    if isinstance(exc, ClientError):
        code = error_code(exc)
        message = str(exc.response.get("Error", {}).get("Message", "")).strip()
        text = f"AWS {exc.operation_name} failed: {code}" + (f": {message}" if message else "")
        if code == "ResourceNotFoundException":
            text += f" (region {aws.region_name}; check the table name / secret ARN, --region and --profile)"
        return text
    return f"AWS error: {type(exc).__name__}: {exc}"


def main(argv: Sequence[str] | None = None) -> int:
    ctx = Context.from_process()
    try:
        args = parse_args(build_parser(), argv)
        ctx.aws = AwsContext.from_args(args, ctx.env)
        ctx.choose_output(args)
        code: int = args.handler(ctx, args)
        return code
    except SystemExit as exc:  # --help and --version
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    except CliError as exc:
        ctx.error(exc.message)
        return exc.exit_code
    except (ClientError, BotoCoreError) as exc:
        ctx.error(describe_aws_error(exc, ctx.aws))
        return EXIT_FAILURE
    except BrokerError as exc:  # a layer rule the command did not map (its reason never holds a secret)
        ctx.error(exc.reason)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        ctx.error("interrupted")
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return EXIT_FAILURE
    except Exception as exc:  # noqa: BLE001 - an operator tool prints one line, never a traceback
        ctx.error(f"unexpected {type(exc).__name__}: {exc}")
        return EXIT_FAILURE
