"""`make invoke` (``python -m local_stack.invoke FUNCTION EVENT``): a Docker-free ``sam local invoke`` of the
built function against the running local stack (``make demo``).

The function runs as it ships (see :mod:`sam_local.built_function`): the host-architecture twin of `sam build`
(:mod:`sam_local.host_build`), in a fresh python3.13 through ``awslambdaric``. Its environment is the template's,
resolved against the stack's resources (``.local/stack.json``). The sample events name placeholder resources,
so they are pointed at the stack first, keeping their intent (see :func:`retarget`).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3

from local_stack.rotate import begin_rotation, install_rotation_lambda_stub
from sam_local.built_function import BuiltFunction, FunctionSpec
from sam_local.host_build import HostBuild, build_for_host, runtime_python
from sam_local.process_env import local_aws_environment
from sam_local.template import REPO_ROOT, Template
from tableau_broker.rotation import describe_rotation

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager import SecretsManagerClient

SAMPLE_APP_CLIENT = "exampleappclientid0000000001"


def function_environment(template: Template, logical_id: str, info: Mapping[str, Any]) -> dict[str, str]:
    """The function's variables from template.yaml for the stack in ``info``, plus the stack's AWS endpoint."""
    issuer_type = "UPDATED" if "://issuer-cognito-idp." in info["issuer"] else "ORIGINAL"
    refs = {
        "AWS::Region": info["region"],
        "AWS::AccountId": "123456789012",
        "AWS::URLSuffix": "amazonaws.com",
        "EntitlementsTable": info["table_name"],
        "ConnectedAppSecret": info["secret_arn"],
        "TableauAdminSecret": info["admin_secret_arn"],
        "RotationTestUsername": info["rotation_test_username"],
        "UserPoolId": info["user_pool_id"],
        "UserPoolIssuerType": issuer_type,
        "UserPoolClientIds": [info["app_client_id"]],
        "AllowedOrigins": [info["demo_url"]],
        "ApiAccessLogGroup.Arn": "arn:aws:logs:us-east-1:123456789012:log-group:local",
    }
    env = template.function_environment(logical_id, refs)
    env.update(local_aws_environment(info["aws_endpoint_url"], info["region"]))
    env["COGNITO_JWKS_URL"] = info["jwks_url"]
    return env


def function_spec(template: Template, build: HostBuild, logical_id: str, info: Mapping[str, Any]) -> FunctionSpec:
    props = {**template.doc.get("Globals", {}).get("Function", {}), **template.properties(logical_id)}
    return FunctionSpec(
        logical_id=logical_id,
        handler=str(props["Handler"]),
        function_dir=build.function_dir(logical_id),
        layer_dirs=(build.layer_python_dir,),
        runtime_dir=build.runtime_dir,
        environment=function_environment(template, logical_id, info),
        memory_mb=int(props.get("MemorySize", 128)),
        timeout_seconds=float(props.get("Timeout", 3)),
        region=info["region"],
    )


def retarget(function: str, event: dict[str, Any], info: Mapping[str, Any]) -> dict[str, Any]:
    """Point a sample event at the stack: its pool, app client and users (by e-mail), or its secret and the
    rotation in progress (one is started, as Secrets Manager does, when none is)."""
    if function == "RotationFunction":
        return {**event, "SecretId": info["secret_arn"], "ClientRequestToken": pending_rotation_token(info)}
    authorizer = event.get("requestContext", {}).get("authorizer")
    if not authorizer:
        return event
    claims = authorizer["jwt"]["claims"] if "jwt" in authorizer else authorizer["claims"]
    claims["iss"] = info["issuer"]
    if claims.get("aud") == SAMPLE_APP_CLIENT:
        claims["aud"] = info["app_client_id"]
    subs = {user["username"]: user["sub"] for user in info["users"]}
    claims["sub"] = subs.get(claims.get("email", ""), claims["sub"])
    return event


def pending_rotation_token(info: Mapping[str, Any]) -> str:
    keys = local_aws_environment(info["aws_endpoint_url"], info["region"])  # moto's dummy keys
    session = boto3.session.Session(
        region_name=info["region"],
        aws_access_key_id=keys["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=keys["AWS_SECRET_ACCESS_KEY"],
    )
    secretsmanager: SecretsManagerClient = session.client("secretsmanager", endpoint_url=info["aws_endpoint_url"])
    _, stages = describe_rotation(secretsmanager, info["secret_arn"])
    pending = stages.pending_version()
    if pending is not None:
        return pending
    function_arn = install_rotation_lambda_stub(info["aws_endpoint_url"], session)
    return begin_rotation(secretsmanager, info["secret_arn"], function_arn)


def printable(payload: Any, *, show_token: bool = False) -> Any:
    """The function's answer as `make invoke` prints it: the minted Tableau JWT is a credential, so a terminal
    (and a pasted bug report) shows its length only, unless ``--show-token`` asks for it."""
    if show_token or not isinstance(payload, dict) or not isinstance(payload.get("body"), str):
        return payload
    try:
        body = json.loads(payload["body"])
    except ValueError:
        return payload
    if not isinstance(body, dict) or not isinstance(body.get("token"), str):
        return payload
    body["token"] = f"<redacted: {len(body['token'])} characters; --show-token prints it>"
    return {**payload, "body": json.dumps(body)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local_stack.invoke", description=__doc__.split("\n\n")[0])
    parser.add_argument("function", choices=["BrokerFunction", "RotationFunction"])
    parser.add_argument("event", type=Path, help="a JSON event file, e.g. events/token_broker/http_api_valid.json")
    parser.add_argument("--state-file", type=Path, default=REPO_ROOT / ".local" / "stack.json")
    parser.add_argument("--log-dir", type=Path, default=REPO_ROOT / ".local" / "invoke")
    parser.add_argument("--show-token", action="store_true", help="print the minted Tableau JWT in full")
    args = parser.parse_args(argv)
    if not args.state_file.exists():
        print(f"invoke: {args.state_file} not found; start the local stack first (make demo)", file=sys.stderr)
        return 2
    info: dict[str, Any] = json.loads(args.state_file.read_text(encoding="utf-8"))
    try:
        build = build_for_host()
        python = runtime_python()
    except RuntimeError as exc:
        print(f"invoke: {exc}", file=sys.stderr)
        return 2
    template = Template()
    spec = function_spec(template, build, args.function, info)
    event = retarget(args.function, json.loads(args.event.read_text(encoding="utf-8")), info)
    with BuiltFunction(spec, python, args.log_dir) as function:
        outcome = function.invoke(event)
        import_seconds = function.handler_import_seconds()
    report = {
        "function": args.function,
        "architecture": build.architecture,
        "handler_import_ms": round(import_seconds * 1000, 1),
        "error_type": outcome.error_type,
        "payload": printable(outcome.payload, show_token=args.show_token),
        "log": str(function.stdout_path),
    }
    print(json.dumps(report, indent=2))
    return 0 if outcome.ok else 1


if __name__ == "__main__":
    sys.exit(main())
