"""``token-broker inspect TOKEN``: decode a Tableau connected-app JWT and explain what Tableau would say.

The rules are ``token_broker_ops.inspection.inspect_token``'s; this command only reads the token, fetches the
secret whenever it can find one (which adds the kid/iss/signature checks) and prints. The signature is never printed.
"""

from __future__ import annotations

import argparse
import json
import math
from datetime import UTC, datetime
from typing import Any

from tableau_broker.errors import MalformedSecret
from tableau_broker.scopes import TABLEAU_MAX_LIFETIME_SECONDS
from tableau_broker.signing_secret import ConnectedAppSecret, read_connected_app_secret
from tableau_broker.tableau_jwt import ALGORITHM
from token_broker_cli.context import SECRET, Context, one_line
from token_broker_cli.errors import EXIT_FINDINGS, EXIT_OK, OperationalError, UsageError
from token_broker_cli.parser import Parents, Subparsers
from token_broker_ops.inspection import TIME_CLAIMS, Finding, decode_unverified, inspect_token, is_numeric_date

STAGES = ("AWSCURRENT", "AWSPREVIOUS", "AWSPENDING")


def register(commands: Subparsers, parents: Parents) -> None:
    parser = commands.add_parser(
        "inspect",
        parents=[parents.aws],
        help="decode a Tableau JWT and list the problems Tableau would reject it for",
        description="Exit 0 when no error-level finding, 3 when there are errors. Whenever the connected-app "
        "secret can be found (--secret-arn, --stack-name, CONNECTED_APP_SECRET_ARN or TOKEN_BROKER_STACK) the kid, "
        "iss and signature are checked against it.",
    )
    parser.add_argument("token", metavar="TOKEN", help="the JWT, or '-' to read it from stdin")
    parser.add_argument(
        "--secret-arn",
        default=argparse.SUPPRESS,
        help="check kid, iss and signature against this connected-app secret, ARN or name "
        "(default: the stack's ConnectedAppSecretArn, else CONNECTED_APP_SECRET_ARN)",
    )
    parser.add_argument("--stage", choices=STAGES, default="AWSCURRENT", help="secret version stage to check with")
    parser.add_argument(
        "--max-lifetime",
        type=int,
        default=TABLEAU_MAX_LIFETIME_SECONDS,
        metavar="SECONDS",
        help="Tableau's maximum token lifetime (Tableau Server can be configured; default %(default)s)",
    )
    parser.set_defaults(handler=cmd_inspect)


def _read_token(ctx: Context, args: argparse.Namespace) -> str:
    token = ctx.stdin.read() if args.token == "-" else args.token  # nosec B105  # '-' means read stdin
    token = token.strip()
    if not token:
        raise UsageError("no token given")
    return token


def _secret(ctx: Context, args: argparse.Namespace, arn: str | None) -> ConnectedAppSecret | None:
    if not arn:
        return None
    try:
        secret = read_connected_app_secret(ctx.aws.secretsmanager(), arn, stage=args.stage)
    except MalformedSecret as exc:
        raise OperationalError(f"the stored secret ({args.stage}) is unusable: {exc.reason}") from None
    ctx.sensitive(secret.secret_value)
    return secret


def _when(value: Any, now: float) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return ""
    if not is_numeric_date(value):
        return "  (not a NumericDate)"
    try:
        stamp = datetime.fromtimestamp(value, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    except (OverflowError, OSError, ValueError):
        return "  (out of range)"
    delta = int(value - now)
    span = f"{abs(delta) // 60}m {abs(delta) % 60:02d}s"
    return f"  ({stamp}, {'in ' + span if delta >= 0 else span + ' ago'})"


def _value(value: Any) -> str:
    # json.dumps escapes control characters: claims are untrusted and must not drive the terminal.
    return json.dumps(value, ensure_ascii=True)


def _strict_json(value: Any) -> Any:
    """NaN and ±Infinity (what 1e400 decodes to) as strings: the report stays strict JSON for jq and friends.

    Recursion is safe: decode_unverified bounds the nesting depth.
    """
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, dict):
        return {name: _strict_json(item) for name, item in value.items()}
    if isinstance(value, list):
        return [_strict_json(item) for item in value]
    return value


def _finding_json(finding: Finding) -> dict[str, Any]:
    return {
        "level": finding.level,
        "rule": finding.rule,
        "message": finding.message,
        "tableau_code": finding.tableau_code,
    }


def cmd_inspect(ctx: Context, args: argparse.Namespace) -> int:
    if args.max_lifetime <= 0:
        raise UsageError("--max-lifetime must be positive")
    token = _read_token(ctx, args)
    secret_arn = ctx.resolve(args, SECRET)
    secret = _secret(ctx, args, secret_arn)
    now = ctx.clock()
    findings = inspect_token(token, now=now, secret=secret, max_lifetime_seconds=args.max_lifetime)
    try:
        header: dict[str, Any] | None
        payload: dict[str, Any] | None
        header, payload = decode_unverified(token)
        malformed = None
    except ValueError as exc:
        header = payload = None
        malformed = str(exc)
    errors = [f for f in findings if f.level == "error"]
    warnings = [f for f in findings if f.level != "error"]
    checked = secret is not None and header is not None and header.get("alg") == ALGORITHM
    verified = checked and not any(f.rule == "signature" for f in findings)
    signature: dict[str, Any] = {"checked": checked, "verified": verified}
    if secret is not None:
        signature.update(secret_arn=secret_arn, stage=args.stage, secret_id=secret.secret_id)

    if ctx.output_format == "json":
        ctx.print_json(
            {
                "header": _strict_json(header),
                "payload": _strict_json(payload),
                "signature": signature,
                "findings": [_finding_json(f) for f in findings],
                "errors": len(errors),
                "warnings": len(warnings),
            }
        )
    else:
        if malformed is not None:
            ctx.print(f"Malformed token: {one_line(malformed)}")
        for title, claims in (("Header", header), ("Payload", payload)):
            if claims is None:
                continue
            ctx.print(f"{title}:")
            for name, value in claims.items():
                extra = _when(value, now) if title == "Payload" and name in TIME_CLAIMS else ""
                ctx.print(f"  {one_line(name)}: {_value(value)}{extra}")
        if header is not None:
            if secret is None:
                ctx.print("Signature: not checked (no secret: pass --secret-arn or --stack-name to check it)")
            elif not checked:
                ctx.print(f"Signature: not checked (alg is not {ALGORITHM})")
            else:
                outcome = "valid" if verified else "INVALID"
                ctx.print(f"Signature: {outcome} for secret ID {_value(secret.secret_id)} ({args.stage})")
        ctx.print("Findings:" if findings else "Findings: none")
        for finding in findings:
            code = f"Tableau error {finding.tableau_code}" if finding.tableau_code else "no Tableau code"
            ctx.print(f"  {finding.level.upper():7} {finding.rule:9} [{code}] {one_line(finding.message)}")
        ctx.print(f"Result: {len(errors)} error(s), {len(warnings)} warning(s)")
    return EXIT_FINDINGS if errors else EXIT_OK
