"""``token-broker admin-secret put|show``: the Tableau admin credentials the secret rotation signs in with.

The shape is checked by ``tableau_broker.tableau_rest.parse_admin_credentials``, the very function the rotation
reads the secret with, so what this command stores is what the rotation accepts. The PAT secret is read from
stdin or a file, never from the command line, and never printed.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from tableau_broker.tableau_rest import (
    DEFAULT_API_VERSION,
    AdminSecretError,
    TableauAdminCredentials,
    parse_admin_credentials,
)
from token_broker_cli import validation
from token_broker_cli.context import ENV_ADMIN_SECRET_ARN, Context
from token_broker_cli.errors import EXIT_FAILURE, EXIT_OK, UsageError
from token_broker_cli.parser import Parents, Subparsers
from token_broker_cli.secret_input import read_secret_value
from token_broker_cli.secret_tags import tag_writer


def register(commands: Subparsers, parents: Parents) -> None:
    group = commands.add_parser(
        "admin-secret", help="the Tableau admin PAT the secret rotation uses", parents=[parents.aws]
    )
    actions = group.add_subparsers(dest="action", metavar="ACTION", required=True)
    admin = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    admin.add_argument(
        "--admin-secret-arn",
        metavar="ARN",
        default=argparse.SUPPRESS,
        help=f"the admin secret, ARN or name (default: the stack's TableauAdminSecretArn, else {ENV_ADMIN_SECRET_ARN})",
    )
    common = [parents.aws, admin]

    put = actions.add_parser(
        "put",
        parents=common,
        help="store a Tableau site administrator's personal access token for the rotation",
        description="Store {pat_name, pat_secret, site_content_url, tableau_url, api_version} as a new AWSCURRENT "
        "version, checked exactly as the rotation function reads it. The PAT secret is read from stdin or a file, "
        "never from the command line, and is never printed.",
    )
    put.add_argument("--pat-name", required=True, help="the personal access token's name")
    put.add_argument("--tableau-url", required=True, help="Tableau origin, e.g. https://10ax.online.tableau.com")
    put.add_argument("--site", required=True, help="the site's content URL ('' for Tableau Server's default site)")
    put.add_argument("--api-version", default=DEFAULT_API_VERSION, help="Tableau REST API version (%(default)s)")
    source = put.add_mutually_exclusive_group(required=True)
    source.add_argument(
        "--pat-secret-stdin", action="store_true", help="read the PAT secret from stdin (prompts without echo on a TTY)"
    )
    source.add_argument("--pat-secret-file", metavar="PATH", help="read the PAT secret from a file")
    put.set_defaults(handler=cmd_put)

    show = actions.add_parser("show", parents=common, help="the stored PAT's name, site and URL (never its secret)")
    show.set_defaults(handler=cmd_show)


def _public(credentials: TableauAdminCredentials) -> dict[str, Any]:
    return {
        "pat_name": credentials.pat_name,
        "site_content_url": credentials.site_content_url,
        "tableau_url": credentials.tableau_url,
        "api_version": credentials.api_version,
    }


def cmd_put(ctx: Context, args: argparse.Namespace) -> int:
    arn = ctx.admin_secret_arn(args)
    pat_name = validation.identifier("--pat-name", args.pat_name, inner_spaces=True)
    url = validation.tableau_url(args.tableau_url)
    pat_secret = read_secret_value(ctx, path=args.pat_secret_file, file_flag="--pat-secret-file", what="PAT secret")
    document = {
        "pat_name": pat_name,
        "pat_secret": pat_secret,
        "site_content_url": args.site.strip(),
        "tableau_url": url,
        "api_version": args.api_version.strip(),
    }
    try:
        credentials = parse_admin_credentials(json.dumps(document))
    except AdminSecretError as exc:
        raise UsageError(f"refusing to store the admin secret: {exc.reason}") from None
    client = ctx.aws.secretsmanager()
    response = client.put_secret_value(SecretId=arn, SecretString=json.dumps(document))
    tag_writer(ctx, client, response["ARN"])
    ctx.note(f"stored a new AWSCURRENT version of {response['ARN']}; the next rotation signs in with it")
    ctx.emit({"arn": response["ARN"], "version_id": response["VersionId"], **_public(credentials)})
    return EXIT_OK


def cmd_show(ctx: Context, args: argparse.Namespace) -> int:
    arn = ctx.admin_secret_arn(args)
    response = ctx.aws.secretsmanager().get_secret_value(SecretId=arn, VersionStage="AWSCURRENT")
    raw = response.get("SecretString")
    result: dict[str, Any] = {"arn": response.get("ARN"), "version_id": response.get("VersionId")}
    try:
        credentials = parse_admin_credentials(raw)
    except AdminSecretError as exc:
        ctx.emit({**result, "problem": exc.reason})
        ctx.error(f"the admin secret is unusable ({exc.reason}): rotations fail; store it with 'admin-secret put'")
        return EXIT_FAILURE
    ctx.sensitive(credentials.pat_secret)
    ctx.emit({**result, **_public(credentials)})
    return EXIT_OK
