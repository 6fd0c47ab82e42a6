"""The real entry point (`python -m token_broker_cli`) in a subprocess against moto's server.

Proves what in-process mocks cannot: endpoint handling through AWS_ENDPOINT_URL and --endpoint-url, the
package running from a source checkout (PYTHONPATH, no install), exit codes and streams of a real process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import boto3

from tableau_broker.signing_secret import ConnectedAppSecret
from tableau_broker.tableau_jwt import mint_token
from tests.support.cli import NEW_SECRET_VALUE, REGION, SECRET_VALUE, TABLE, create_resources
from tests.support.moto_server import reset_moto

REPO = Path(__file__).resolve().parents[2]
SUB = "5f0c6a1e-8d4b-4f63-9a4e-3c2b1a0d9e8f"  # shaped like a Cognito sub: no pool is named here to check it


def run(env: dict[str, str], *argv: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "-m", "token_broker_cli", *argv],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=60,
        check=False,
    )
    assert "Traceback" not in result.stderr, result.stderr
    for value in (SECRET_VALUE, NEW_SECRET_VALUE):
        assert value not in result.stdout
        assert value not in result.stderr
    return result


def test_console_entry_point_against_moto_server(moto_server_url: str, tmp_path: Path) -> None:
    reset_moto(moto_server_url)
    credentials = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing", "region_name": REGION}
    dynamodb = boto3.client("dynamodb", endpoint_url=moto_server_url, **credentials)
    secrets = boto3.client("secretsmanager", endpoint_url=moto_server_url, **credentials)
    secret_arn = create_resources(dynamodb, secrets)
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path),
        "PYTHONPATH": os.pathsep.join([str(REPO / "layers" / "shared"), str(REPO / "tools")]),
        "AWS_CONFIG_FILE": str(tmp_path / "aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "aws-credentials"),
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_REGION": REGION,  # botocore itself ignores AWS_REGION: the CLI must honour it
        "AWS_ENDPOINT_URL": moto_server_url,
        "ENTITLEMENTS_TABLE": TABLE,
        "CONNECTED_APP_SECRET_ARN": secret_arn,
    }

    created = run(env, "tenant", "put", "acme", "--tableau-url", "https://tableau.example.com", "--site", "acme")
    assert created.returncode == 0, created.stderr
    item = dynamodb.get_item(TableName=TABLE, Key={"pk": {"S": "TENANT#acme"}}, ConsistentRead=True)["Item"]
    assert item["enabled"] == {"BOOL": True}

    # The same endpoint given as a flag instead of the environment.
    flag_env = {k: v for k, v in env.items() if k != "AWS_ENDPOINT_URL"}
    granted = run(
        flag_env, "user", "grant", SUB, "--tenant", "acme", "--tableau-username", "alice@example.com",
        "--endpoint-url", moto_server_url, "--output", "json",
    )  # fmt: skip
    assert granted.returncode == 0, granted.stderr
    assert json.loads(granted.stdout)["tenant_id"] == "acme"
    assert "Item" in dynamodb.get_item(TableName=TABLE, Key={"pk": {"S": f"USER#{SUB}"}})

    stored = run(
        env, "secret", "put", "--client-id", "client-2", "--secret-id", "kid-2", "--secret-value-stdin",
        "--output", "json", stdin=NEW_SECRET_VALUE,
    )  # fmt: skip
    assert stored.returncode == 0, stored.stderr
    version_id = json.loads(stored.stdout)["version_id"]
    current = secrets.get_secret_value(SecretId=secret_arn, VersionStage="AWSCURRENT")
    assert current["VersionId"] == version_id

    token = mint_token(
        ConnectedAppSecret("client-2", "kid-2", NEW_SECRET_VALUE),
        username="alice@example.com",
        scopes=["tableau:views:embed"],
        attributes={"tenant": "acme"},
        lifetime_seconds=300,
        now=time.time(),
    ).token
    inspected = run(env, "inspect", "-", "--secret-arn", secret_arn, stdin=token)
    assert inspected.returncode == 0, inspected.stdout + inspected.stderr
    assert "Signature: valid" in inspected.stdout

    refused = run(
        env,
        "user",
        "grant",
        "0d6c1a8e-3b7f-4c2d-9e5a-8f1b2c3d4e5f",
        "--tenant",
        "nope",
        "--tableau-username",
        "bob@example.com",
    )
    assert refused.returncode == 2
    assert refused.stderr.splitlines()[-1] == "token-broker: error: no such tenant 'nope'; create it with " + (
        "'token-broker tenant put' first"
    )
