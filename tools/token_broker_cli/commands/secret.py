"""``token-broker secret put|show``: the connected-app secret in Secrets Manager. Values are never printed."""

from __future__ import annotations

import argparse
import json
from typing import Any

from tableau_broker.errors import MalformedSecret
from tableau_broker.signing_secret import parse_connected_app_secret, read_connected_app_secret
from token_broker_cli import validation
from token_broker_cli.context import Context
from token_broker_cli.errors import EXIT_FAILURE, EXIT_OK, UsageError
from token_broker_cli.parser import Parents, Subparsers
from token_broker_cli.secret_input import read_secret_value
from token_broker_cli.secret_tags import tag_writer

STAGE_ORDER = {"AWSCURRENT": 0, "AWSPENDING": 1, "AWSPREVIOUS": 2}


def register(commands: Subparsers, parents: Parents) -> None:
    group = commands.add_parser("secret", help="the connected-app secret in Secrets Manager", parents=[parents.aws])
    actions = group.add_subparsers(dest="action", metavar="ACTION", required=True)
    common = [parents.aws, parents.secret]

    put = actions.add_parser(
        "put",
        parents=common,
        help="store new connected-app credentials as AWSCURRENT",
        description="Store {client_id, secret_id, secret_value} as a new AWSCURRENT version. The value is read "
        "from stdin or a file, never from the command line (shell history), and is never printed.",
    )
    put.add_argument("--client-id", required=True, help="the connected app's client ID (JWT iss)")
    put.add_argument("--secret-id", required=True, help="the connected-app secret ID (JWT kid)")
    source = put.add_mutually_exclusive_group(required=True)
    source.add_argument(
        "--secret-value-stdin", action="store_true", help="read the value from stdin (prompts without echo on a TTY)"
    )
    source.add_argument("--secret-value-file", metavar="PATH", help="read the value from a file")
    put.set_defaults(handler=cmd_put)

    show = actions.add_parser("show", parents=common, help="client ID, secret ID and version stages (never the value)")
    show.set_defaults(handler=cmd_show)


def cmd_put(ctx: Context, args: argparse.Namespace) -> int:
    arn = ctx.secret_arn(args)
    client_id = validation.identifier("--client-id", args.client_id)
    secret_id = validation.identifier("--secret-id", args.secret_id)
    value = read_secret_value(
        ctx, path=args.secret_value_file, file_flag="--secret-value-file", what="connected-app secret value"
    )
    try:
        secret = parse_connected_app_secret(
            json.dumps({"client_id": client_id, "secret_id": secret_id, "secret_value": value})
        )
    except MalformedSecret as exc:
        raise UsageError(f"refusing to store the secret: {exc.reason}") from None
    client = ctx.aws.secretsmanager()
    response = client.put_secret_value(SecretId=arn, SecretString=secret.to_json())
    tag_writer(ctx, client, response["ARN"])
    ctx.note(
        f"stored a new AWSCURRENT version of {response['ARN']}; warm brokers switch within their secret cache TTL "
        "(SECRET_CACHE_TTL_SECONDS, default 300 s): keep the previous secret valid in Tableau until then"
    )
    ctx.emit(
        {
            "arn": response["ARN"],
            "version_id": response["VersionId"],
            "version_stages": response.get("VersionStages", []),
            "client_id": secret.client_id,
            "secret_id": secret.secret_id,
        }
    )
    return EXIT_OK


def cmd_show(ctx: Context, args: argparse.Namespace) -> int:
    arn = ctx.secret_arn(args)
    client = ctx.aws.secretsmanager()
    described = client.describe_secret(SecretId=arn)
    staged = [(vid, stages) for vid, stages in described.get("VersionIdsToStages", {}).items() if stages]
    staged.sort(key=lambda entry: (min(STAGE_ORDER.get(s, 9) for s in entry[1]), entry[0]))
    versions: list[dict[str, Any]] = []
    current_ok = False
    for version_id, stages in staged:
        entry: dict[str, Any] = {
            "version_id": version_id,
            "stages": sorted(stages, key=lambda s: STAGE_ORDER.get(s, 9)),
        }
        try:
            secret = read_connected_app_secret(client, arn, stage=stages[0], version_id=version_id)
        except MalformedSecret as exc:
            entry["problem"] = exc.reason
        else:
            ctx.sensitive(secret.secret_value)
            entry.update(client_id=secret.client_id, secret_id=secret.secret_id)
            current_ok = current_ok or "AWSCURRENT" in stages
        versions.append(entry)
    ctx.emit(
        {
            "arn": described.get("ARN"),
            "name": described.get("Name"),
            "rotation_enabled": bool(described.get("RotationEnabled")),
            "last_rotated": described.get("LastRotatedDate"),
            "last_changed": described.get("LastChangedDate"),
            "versions": versions,
        }
    )
    if not current_ok:
        ctx.error("AWSCURRENT is missing or unusable: the broker cannot sign; store credentials with 'secret put'")
        return EXIT_FAILURE
    return EXIT_OK
