"""The CLI with no ARNs: --stack-name / TOKEN_BROKER_STACK, users by e-mail or username, the admin secret,
the output convention, --version and partial tenant updates (moto in-process; the subprocess test is below)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from importlib import metadata
from pathlib import Path

import boto3
import pytest

from tableau_broker.tableau_rest import parse_admin_credentials
from tests.cli.stack import ALICE_EMAIL, ALICE_USERNAME, MOTO_CALLER, STACK_NAME, Stack, deploy_stack
from tests.support.cli import REGION, SECRET_VALUE, TABLE, Aws, Cli, create_resources, make_token
from tests.support.moto_server import reset_moto
from token_broker_cli.context import AwsContext
from token_broker_cli.store import ConcurrentChange, EntitlementAdmin

REPO = Path(__file__).resolve().parents[2]
URL = "https://10ax.online.tableau.com"
PAT_SECRET = "pAt5eCr3t==:Qm9ndXMtUEFULXNlY3JldC12YWx1ZQ"  # what must never be printed


@pytest.fixture
def deployed(aws: Aws, monkeypatch: pytest.MonkeyPatch) -> Stack:
    clients = AwsContext(region=REGION)
    for name in ("ENTITLEMENTS_TABLE", "CONNECTED_APP_SECRET_ARN"):
        monkeypatch.delenv(name)  # only the stack names the resources
    return deploy_stack(
        clients._client("cloudformation"), clients.cognito(f"{REGION}_x"), aws.secretsmanager, secret_arn=aws.secret_arn
    )


@pytest.fixture
def cli(deployed: Stack, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Cli:
    cli = Cli(capsys, monkeypatch)
    cli.never_printed.append(PAT_SECRET)
    return cli


def item(aws: Aws, table: str, key: str) -> dict[str, object] | None:
    found: dict[str, object] | None = aws.dynamodb.get_item(TableName=table, Key={"pk": {"S": key}}).get("Item")
    return found


def test_stack_name_resolves_the_table_and_the_flag_still_wins(cli: Cli, aws: Aws, deployed: Stack) -> None:
    created = cli("--stack-name", STACK_NAME, "tenant", "put", "acme", "--tableau-url", URL, "--site", "acme")

    assert created.code == 0, created.err
    assert item(aws, deployed.table, "TENANT#acme") is not None
    assert item(aws, TABLE, "TENANT#acme") is None
    # --table beats the stack: the fixture's other table gets the record.
    explicit = cli("tenant", "put", "acme", "--tableau-url", URL, "--site", "acme", "--stack-name", STACK_NAME,
                   "--table", TABLE)  # fmt: skip
    assert explicit.code == 0, explicit.err
    assert item(aws, TABLE, "TENANT#acme") is not None


def test_the_environment_names_the_stack(cli: Cli, aws: Aws, deployed: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOKEN_BROKER_STACK", STACK_NAME)

    assert cli("tenant", "put", "acme", "--tableau-url", URL, "--site", "acme").code == 0
    assert item(aws, deployed.table, "TENANT#acme") is not None
    shown = cli("secret", "show")
    assert shown.code == 0, shown.err
    assert shown.json()["arn"] == deployed.secret_arn


def test_an_unknown_stack_is_a_usage_error(cli: Cli) -> None:
    result = cli("--stack-name", "no-such-stack", "tenant", "list")

    assert result.code == 2
    assert "no stack 'no-such-stack'" in result.err
    assert REGION in result.err


def test_grant_by_email_and_by_username_finds_the_cognito_sub(cli: Cli, aws: Aws, deployed: Stack) -> None:
    assert cli("--stack-name", STACK_NAME, "tenant", "put", "acme", "--tableau-url", URL, "--site", "acme").code == 0

    by_email = cli("--stack-name", STACK_NAME, "user", "grant", "--email", ALICE_EMAIL, "--tenant", "acme",
                   "--tableau-username", "alice@example.com")  # fmt: skip
    by_username = cli("--stack-name", STACK_NAME, "user", "show", "--username", ALICE_USERNAME)

    assert by_email.code == 0, by_email.err
    assert by_email.json()["sub"] == deployed.alice_sub
    assert item(aws, deployed.table, f"USER#{deployed.alice_sub}") is not None
    assert by_username.code == 0, by_username.err
    assert by_username.json()["sub"] == deployed.alice_sub


@pytest.mark.parametrize(
    ("who", "expected"),
    [
        (("--email", "bob@example.com"), "no user with e-mail address 'bob@example.com'"),
        (("--username", "bob"), "no user 'bob'"),
        (("5f0c6a1e-8d4b-4f63-9a4e-3c2b1a0d9e8f",), "is not the sub of any user in pool"),
        (("alice",), "is not the sub of any user in pool"),
        (("--email", 'x" or email ^= "'), "without quotes"),
    ],
)
def test_grant_refuses_who_is_not_a_user_of_the_pool(
    cli: Cli, aws: Aws, deployed: Stack, who: tuple[str, ...], expected: str
) -> None:
    assert cli("--stack-name", STACK_NAME, "tenant", "put", "acme", "--tableau-url", URL, "--site", "acme").code == 0

    result = cli("--stack-name", STACK_NAME, "user", "grant", *who, "--tenant", "acme", "--tableau-username", "a")

    assert result.code == 2
    assert expected in result.err
    scanned = aws.dynamodb.scan(TableName=deployed.table)["Items"]
    assert [i["pk"]["S"] for i in scanned] == ["TENANT#acme"]


def test_without_a_pool_a_sub_must_look_like_one(cli: Cli, aws: Aws) -> None:
    assert cli("tenant", "put", "acme", "--tableau-url", URL, "--site", "acme", "--table", TABLE).code == 0

    refused = cli("user", "grant", "alice", "--tenant", "acme", "--tableau-username", "a", "--table", TABLE)
    lookup = cli(
        "user", "grant", "--email", ALICE_EMAIL, "--tenant", "acme", "--tableau-username", "a", "--table", TABLE
    )

    assert refused.code == 2
    assert "not a Cognito sub (a UUID)" in refused.err
    assert lookup.code == 2
    assert "no Cognito user pool" in lookup.err


def test_admin_secret_put_stores_what_the_rotation_reads_and_never_prints_the_pat(
    cli: Cli, aws: Aws, deployed: Stack, tmp_path: Path
) -> None:
    stored = cli("--stack-name", STACK_NAME, "admin-secret", "put", "--pat-name", "rotation", "--tableau-url", URL,
                 "--site", "acme", "--pat-secret-stdin", stdin=PAT_SECRET + "\n")  # fmt: skip

    assert stored.code == 0, stored.err
    assert stored.json()["pat_name"] == "rotation"
    raw = aws.secretsmanager.get_secret_value(SecretId=deployed.admin_secret_arn)["SecretString"]
    credentials = parse_admin_credentials(raw)  # exactly the rotation function's reader
    assert (credentials.pat_secret, credentials.site_content_url, credentials.tableau_url) == (PAT_SECRET, "acme", URL)
    tags = {
        t["Key"]: t["Value"] for t in aws.secretsmanager.describe_secret(SecretId=deployed.admin_secret_arn)["Tags"]
    }
    assert tags["token-broker:updated-by"] == MOTO_CALLER
    shown = cli("--stack-name", STACK_NAME, "admin-secret", "show", "--output", "text")
    assert shown.code == 0, shown.err
    assert "pat_name\trotation" in shown.out.splitlines()

    pat_file = tmp_path / "pat"
    pat_file.write_text("with space")
    bad = cli("--stack-name", STACK_NAME, "admin-secret", "put", "--pat-name", "r", "--tableau-url", "http://tableau.example.com",
              "--site", "", "--pat-secret-file", str(pat_file))  # fmt: skip
    assert bad.code == 2
    assert (
        parse_admin_credentials(
            aws.secretsmanager.get_secret_value(SecretId=deployed.admin_secret_arn)["SecretString"]
        ).pat_secret
        == PAT_SECRET
    )


def test_the_pat_is_never_an_argument(cli: Cli) -> None:
    result = cli("admin-secret", "put", "--pat-name", "r", "--tableau-url", URL, "--site", "", "--pat-secret", "x")

    assert result.code == 2
    assert "--pat-secret" in result.err


def test_a_placeholder_admin_secret_is_reported_unusable(cli: Cli) -> None:
    result = cli("--stack-name", STACK_NAME, "admin-secret", "show")

    assert result.code == 1
    assert "unusable" in result.err


def test_inspect_checks_the_signature_with_the_stacks_secret(cli: Cli) -> None:
    forged = make_token(key="a-different-secret-value-0123456789")

    good = cli("--stack-name", STACK_NAME, "inspect", make_token(), "--output", "text")
    bad = cli("inspect", forged, "--stack-name", STACK_NAME, "--output", "text")
    unchecked = cli("inspect", forged, "--output", "text")

    assert good.code == 0, good.out
    assert "Signature: valid" in good.out
    assert bad.code == 3
    assert "Signature: INVALID" in bad.out
    assert unchecked.code == 0
    assert "Signature: not checked" in unchecked.out


def test_inspect_checks_the_signature_with_the_environments_secret(
    cli: Cli, aws: Aws, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CONNECTED_APP_SECRET_ARN", aws.secret_arn)

    result = cli("inspect", make_token(key="a-different-secret-value-0123456789"), "--output", "json")

    assert result.code == 3
    assert result.json()["signature"] == {
        "checked": True, "verified": False, "secret_arn": aws.secret_arn, "stage": "AWSCURRENT",
        "secret_id": result.json()["signature"]["secret_id"],
    }  # fmt: skip


def test_tenant_update_changes_only_the_fields_given(cli: Cli, aws: Aws, deployed: Stack) -> None:
    base = ("--stack-name", STACK_NAME, "tenant", "put", "acme")
    assert cli(*base, "--tableau-url", URL, "--site", "acme", "--attribute", "plan=gold").code == 0
    before = cli("--stack-name", STACK_NAME, "tenant", "show", "acme").json()

    updated = cli(*base, "--scope", "tableau:views:embed", "--scope", "tableau:insights:embed")
    missing = cli("--stack-name", STACK_NAME, "tenant", "put", "initech", "--site", "x")

    assert updated.code == 0, updated.err
    after = updated.json()
    assert after["scopes"] == ["tableau:views:embed", "tableau:insights:embed"]
    changed = {k for k in after if after[k] != before.get(k)}
    assert changed == {"scopes", "updated_at"} or changed == {"scopes"}
    assert after["created_at"] == before["created_at"]
    assert missing.code == 2
    assert "needs --tableau-url and --site" in missing.err


def test_a_tenant_changed_since_it_was_read_is_not_overwritten(cli: Cli, aws: Aws, deployed: Stack) -> None:
    assert cli("--stack-name", STACK_NAME, "tenant", "put", "acme", "--tableau-url", URL, "--site", "acme").code == 0
    aws.dynamodb.update_item(
        TableName=deployed.table, Key={"pk": {"S": "TENANT#acme"}},
        UpdateExpression="SET updated_at = :t", ExpressionAttributeValues={":t": {"S": "2000-01-01T00:00:00Z"}},
    )  # fmt: skip
    admin = EntitlementAdmin(aws.dynamodb, deployed.table)
    seen = admin.get("TENANT#acme")
    assert seen is not None
    stale = {**seen, "updated_at": "1999-01-01T00:00:00Z"}
    with pytest.raises(ConcurrentChange, match="changed while this command ran"):
        admin.put("TENANT#acme", {**seen, "site": "other"}, seen=stale)
    assert admin.get("TENANT#acme") == seen


def test_text_output_lists_have_a_header_row(cli: Cli) -> None:
    assert cli("--stack-name", STACK_NAME, "tenant", "put", "acme", "--tableau-url", URL, "--site", "acme").code == 0

    listed = cli("--stack-name", STACK_NAME, "tenant", "list", "--output", "text")
    shown = cli("--stack-name", STACK_NAME, "tenant", "show", "acme", "--output", "text")

    assert listed.out.splitlines() == ["TENANT_ID\tSTATUS\tTABLEAU_URL\tSITE", f"acme\tenabled\t{URL}\tacme"]
    assert shown.out.splitlines()[0] == "FIELD\tVALUE"
    assert f"created_by\t{MOTO_CALLER}" in shown.out.splitlines()


def test_version_is_the_packages() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "token_broker_cli", "--version"],
        capture_output=True, text=True, cwd=REPO, timeout=60, check=False,
        env={**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "layers" / "shared"), str(REPO / "tools")])},
    )  # fmt: skip

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"token-broker {metadata.version('tableau-token-broker')}"


def test_version_falls_back_to_pyproject_when_not_installed() -> None:
    # -S: no site-packages, so the installed distribution's metadata cannot be found.
    code = "from token_broker_cli.version import version; print(version())"
    result = subprocess.run(
        [sys.executable, "-S", "-c", code], capture_output=True, text=True, cwd=REPO, timeout=60, check=False,
        env={"PYTHONPATH": str(REPO / "tools"), "PATH": os.environ.get("PATH", "")},
    )  # fmt: skip

    with (REPO / "pyproject.toml").open("rb") as handle:
        expected = tomllib.load(handle)["project"]["version"]
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == expected


# --- the real entry point against moto's server --------------------------------------------------------------


@pytest.fixture
def server_stack(moto_server_url: str) -> tuple[str, Stack, object]:
    reset_moto(moto_server_url)
    kwargs = {"endpoint_url": moto_server_url, "aws_access_key_id": "testing", "aws_secret_access_key": "testing",
              "region_name": REGION}  # fmt: skip
    dynamodb, secrets = boto3.client("dynamodb", **kwargs), boto3.client("secretsmanager", **kwargs)
    secret_arn = create_resources(dynamodb, secrets)
    deployed = deploy_stack(
        boto3.client("cloudformation", **kwargs), boto3.client("cognito-idp", **kwargs), secrets, secret_arn=secret_arn
    )
    return moto_server_url, deployed, dynamodb


def run(env: dict[str, str], *argv: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "-m", "token_broker_cli", *argv],
        input=stdin, capture_output=True, text=True, env=env, cwd=REPO, timeout=60, check=False,
    )  # fmt: skip
    assert "Traceback" not in result.stderr, result.stderr
    for value in (SECRET_VALUE, PAT_SECRET):
        assert value not in result.stdout + result.stderr
    return result


def test_stack_name_against_moto_server(server_stack: tuple[str, Stack, object], tmp_path: Path) -> None:
    url, deployed, dynamodb = server_stack
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path),
        "PYTHONPATH": os.pathsep.join([str(REPO / "layers" / "shared"), str(REPO / "tools")]),
        "AWS_CONFIG_FILE": str(tmp_path / "aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "aws-credentials"),
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_REGION": REGION,
        "AWS_ENDPOINT_URL": url,
    }
    stack = ("--stack-name", deployed.name)

    tenant = run(env, *stack, "tenant", "put", "acme", "--tableau-url", URL, "--site", "acme")
    granted = run(env, *stack, "user", "grant", "--email", ALICE_EMAIL, "--tenant", "acme",
                  "--tableau-username", "alice@example.com", "--output", "json")  # fmt: skip
    admin = run(env, *stack, "admin-secret", "put", "--pat-name", "rotation", "--tableau-url", URL, "--site", "acme",
                "--pat-secret-stdin", stdin=PAT_SECRET)  # fmt: skip
    inspected = run({**env, "TOKEN_BROKER_STACK": deployed.name}, "inspect", make_token())
    revoked = run(env, *stack, "user", "revoke", "--username", ALICE_USERNAME, "--output", "json")
    listed = run(env, *stack, "user", "list")
    version = run(env, "--version")

    for result in (tenant, granted, admin, inspected, revoked, listed, version):
        assert result.returncode == 0, result.stderr
    assert json.loads(granted.stdout)["sub"] == deployed.alice_sub
    assert "Signature: valid" in inspected.stdout
    record = json.loads(revoked.stdout)
    assert (record["enabled"], record["revoked_by"]) == (False, MOTO_CALLER)
    raw = dynamodb.get_item(TableName=deployed.table, Key={"pk": {"S": f"USER#{deployed.alice_sub}"}})["Item"]  # type: ignore[attr-defined]
    assert raw["revoked_by"] == {"S": MOTO_CALLER}
    assert listed.stdout.splitlines() == [
        "SUB\tTENANT_ID\tTABLEAU_USERNAME\tSTATUS",
        f"{deployed.alice_sub}\tacme\talice@example.com\trevoked",
    ]
    assert version.stdout.startswith("token-broker ")
