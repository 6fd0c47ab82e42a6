"""`make rotate` (``python -m local_stack.rotate``): one rotation of the running local stack's connected-app
secret, step by step, with the real rotation handler - against the stack's moto server and Tableau emulator.

How rotation is enabled in moto without Docker: moto's RotateSecret invokes the rotation Lambda, and moto runs
Lambda code in Docker. Switched to moto's Docker-free Lambda backend (``POST /moto-api/config``), the invocations
are answered by a stub that does nothing, and RotateSecret does exactly Secrets Manager's own part of a
rotation: it marks rotation enabled, records the rotation function's ARN and labels a new, still empty version
AWSPENDING under a fresh token. The real handler is then called in-process for each step, as Secrets Manager
would call it. (Without a Lambda ARN moto would instead promote the empty version at once.)

Also used by the tests: ``create_admin_secret``, ``install_rotation_lambda_stub``, ``begin_rotation``.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import zipfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
import requests

from sam_local import aws_resources
from sam_local.lambda_runtime import LocalFunction, route_logs_to_file
from sam_local.process_env import configure_process, local_aws_environment
from sam_local.template import REPO_ROOT, Template
from tableau_broker.rotation import (
    AWSCURRENT,
    AWSPENDING,
    AWSPREVIOUS,
    abandon_pending_version,
    describe_rotation,
    iso,
)
from tableau_broker.tableau_rest import DEFAULT_API_VERSION, DEFAULT_PATH_FAMILY
from token_broker_ops.rotation import rotation_status, start_rotation

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager import SecretsManagerClient

ROTATION_FUNCTION = "RotationFunction"
ADMIN_SECRET_NAME = "tableau-token-broker/tableau-admin"  # nosec B105  # a secret's name
STEP_ORDER = ("createSecret", "setSecret", "testSecret", "finishSecret")
STUB_ROLE = "tableau-token-broker-rotation-local"
AUTOMATICALLY_AFTER_DAYS = 30  # moto's stand-in for the template's ScheduleExpression


def admin_secret_json(
    *, pat_name: str, pat_secret: str, site_content_url: str, tableau_url: str, api_version: str = DEFAULT_API_VERSION
) -> str:
    return json.dumps(
        {
            "pat_name": pat_name,
            "pat_secret": pat_secret,
            "site_content_url": site_content_url,
            "tableau_url": tableau_url,
            "api_version": api_version,
        }
    )


def create_admin_secret(template: Template, secretsmanager: SecretsManagerClient, name: str, value: str | None) -> str:
    return aws_resources.create_secret_from_template(template, secretsmanager, "TableauAdminSecret", name, value)


def _stub_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("stub.py", "def handler(event, context):\n    return None\n")
    return buffer.getvalue()


def install_rotation_lambda_stub(moto_url: str, session: boto3.session.Session, name: str = ROTATION_FUNCTION) -> str:
    """A Docker-free stand-in for the rotation function in moto; returns its ARN (idempotent)."""
    requests.post(f"{moto_url}/moto-api/config", json={"lambda": {"use_docker": False}}, timeout=10).raise_for_status()
    iam: Any = session.client("iam", endpoint_url=moto_url)
    lambda_: Any = session.client("lambda", endpoint_url=moto_url)
    try:
        return str(lambda_.get_function(FunctionName=name)["Configuration"]["FunctionArn"])
    except lambda_.exceptions.ResourceNotFoundException:
        pass
    try:
        role = iam.get_role(RoleName=STUB_ROLE)["Role"]["Arn"]
    except iam.exceptions.NoSuchEntityException:
        statement = {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
        trust = {"Version": "2012-10-17", "Statement": [statement]}
        role = iam.create_role(RoleName=STUB_ROLE, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    created = lambda_.create_function(
        FunctionName=name, Runtime="python3.13", Role=role, Handler="stub.handler", Code={"ZipFile": _stub_zip()}
    )
    return str(created["FunctionArn"])


def begin_rotation(secretsmanager: SecretsManagerClient, secret_arn: str, function_arn: str) -> str:
    """What Secrets Manager does before calling the rotation function: returns the new version's token."""
    return start_rotation(
        secretsmanager,
        secret_arn,
        rotation_lambda_arn=function_arn,
        rotation_rules={"AutomaticallyAfterDays": AUTOMATICALLY_AFTER_DAYS},
    )


def rotation_event(step: str, secret_arn: str, token: str) -> dict[str, str]:
    return {"Step": step, "SecretId": secret_arn, "ClientRequestToken": token}


def run_steps(
    invoke: Callable[[dict[str, str]], Any],
    secret_arn: str,
    token: str,
    after_step: Callable[[str], None] | None = None,
) -> None:
    for step in STEP_ORDER:
        invoke(rotation_event(step, secret_arn, token))
        if after_step is not None:
            after_step(step)


# --- `make rotate` -----------------------------------------------------------------------------------------


def _route_rotation_logs(log_file: Path) -> None:
    """The function's structured log goes to ``log_file``, not the console."""
    from secret_rotation.handler import logger

    route_logs_to_file(logger, log_file)


def describe_state(secretsmanager: SecretsManagerClient, info: Mapping[str, Any], path_family: str) -> str:
    status = rotation_status(secretsmanager, info["secret_arn"], info["admin_secret_arn"], path_family=path_family)
    kid = {
        AWSCURRENT: status.current_secret_id,
        AWSPREVIOUS: status.previous_secret_id or "(none: placeholder or another app)",
        AWSPENDING: status.pending_secret_id or "(no value yet)",
    }
    lines = [f"     rotation enabled: {status.rotation_enabled}; AWSCURRENT since {iso(status.current_since)}"]
    for version, stages in status.stages.versions.items():
        named = [s for s in stages if s in kid and not (s == AWSPENDING and AWSCURRENT in stages)]
        ids = ", ".join(f"{s} -> {kid[s]}" for s in named)
        lines.append(f"     version {version}: {' '.join(stages) or '(no stage)'}{'   ' + ids if ids else ''}")
    held = status.tableau_secret_ids
    lines.append(f"     Tableau holds secret IDs: {', '.join(held) if held is not None else '(not listed)'}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m local_stack.rotate",
        description="Rotate the running local stack's connected-app secret (start it with `make demo`).",
    )
    parser.add_argument("--state-file", type=Path, default=REPO_ROOT / ".local" / "stack.json")
    parser.add_argument("--log-file", type=Path, default=REPO_ROOT / ".local" / "rotation.log")
    args = parser.parse_args(argv)
    if not args.state_file.exists():
        print(f"rotate: {args.state_file} not found; start the local stack first (make demo)", file=sys.stderr)
        return 1
    info: dict[str, Any] = json.loads(args.state_file.read_text(encoding="utf-8"))
    if "admin_secret_arn" not in info:
        print("rotate: stack.json has no admin_secret_arn; restart the stack with this version", file=sys.stderr)
        return 1
    endpoint = info["aws_endpoint_url"]
    try:
        requests.get(f"{endpoint}/moto-api/config", timeout=3).raise_for_status()
    except requests.RequestException:
        print(f"rotate: the stack in {args.state_file} does not answer at {endpoint}; is `make demo` running?")
        return 1

    from secret_rotation.handler import safe_reason

    template = Template()
    refs = {
        "ConnectedAppSecret": info["secret_arn"],
        "TableauAdminSecret": info["admin_secret_arn"],
        "RotationTestUsername": info["rotation_test_username"],
    }
    env = template.function_environment(ROTATION_FUNCTION, refs)
    env["POWERTOOLS_METRICS_DISABLED"] = "true"
    # This process runs only the rotation: configured once, before the first invocation.
    configure_process({**local_aws_environment(endpoint, info["region"]), **env})
    args.log_file.parent.mkdir(parents=True, exist_ok=True)
    _route_rotation_logs(args.log_file)
    path_family = env.get("TABLEAU_CONNECTED_APP_PATH_FAMILY", DEFAULT_PATH_FAMILY)

    session = boto3.session.Session(region_name=info["region"])
    secretsmanager: SecretsManagerClient = session.client("secretsmanager", endpoint_url=endpoint)
    print(f"Rotating {info['secret_arn']}\n  before:\n{describe_state(secretsmanager, info, path_family)}", flush=True)
    function_arn = install_rotation_lambda_stub(endpoint, session)
    _, stages = describe_rotation(secretsmanager, info["secret_arn"])
    stale = stages.pending_version()
    if stale is not None and abandon_pending_version(secretsmanager, info["secret_arn"], stale):
        print(f"  cleared a stale AWSPENDING from version {stale} (a failed or unfinished rotation)", flush=True)
    token = begin_rotation(secretsmanager, info["secret_arn"], function_arn)
    print(f"  RotateSecret: new version {token} labelled AWSPENDING (rotation function {function_arn})", flush=True)

    handler = str(template.properties(ROTATION_FUNCTION)["Handler"])
    function = LocalFunction(ROTATION_FUNCTION, handler)
    for number, step in enumerate(STEP_ORDER, start=1):
        try:
            function.invoke(rotation_event(step, info["secret_arn"], token))
        except Exception as exc:  # noqa: BLE001 - one clear line; the details are in the rotation log
            print(f"  {number}. {step} FAILED: {type(exc).__name__}: {safe_reason(exc)}", file=sys.stderr)
            print(f"{describe_state(secretsmanager, info, path_family)}\n  log: {args.log_file}", file=sys.stderr)
            return 1
        print(f"  {number}. {step} done\n{describe_state(secretsmanager, info, path_family)}", flush=True)
    print(f"Rotation complete. Brokers pick up the new secret within SECRET_CACHE_TTL_SECONDS; log: {args.log_file}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
