"""`tools/env_from_stack.py` against a CloudFormation stack in moto's server, checked with SAM CLI's own resolver.

The stack is built from template.yaml's own parameters, data resources and output keys, so moto's CloudFormation
creates a real table and real secrets and reports their names and ARNs as outputs. The written file is then read
by SAM CLI (its venv under .tools/sam) exactly as `sam local invoke --env-vars` reads it.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import boto3
import pytest

from sam_local.template import TEMPLATE_PATH, Template
from tests.support.moto_server import reset_moto
from tools.env_from_stack import function_ids, main, output_targets

REPO_ROOT = Path(__file__).resolve().parents[2]
SAM_PYTHON = REPO_ROOT / ".tools" / "sam" / "bin" / "python"
if not SAM_PYTHON.exists():  # a worktree shares the main checkout's tools
    SAM_PYTHON = Path("/work/main/.tools/sam/bin/python")
RESOLVER = REPO_ROOT / "tests" / "support" / "sam_env_resolver.py"
EXAMPLE_ENV = REPO_ROOT / "events" / "env.example.json"
REGION = "us-east-1"
STACK = "broker-under-test"
STACK_RESOURCE_TYPES = {"AWS::DynamoDB::Table"}
# moto's CloudFormation does not create AWS::SecretsManager::Secret; the test creates each through Secrets Manager
# (the template's own properties) and the stack outputs its real ARN, as CloudFormation's `!Ref` would.
SECRET_TYPE = "AWS::SecretsManager::Secret"

# Deployed values that differ from every default, so a default leaking through is caught.
STACK_PARAMETERS = {
    "UserPoolId": "us-east-1_AbCdEf123",
    "UserPoolClientIds": "appclientone0000000000001,appclienttwo0000000000002",
    "UserPoolReplicaRegions": "eu-west-1",
    "AllowedOrigins": "https://app.example.com",
    "RotationTestUsername": "rotation-viewer@example.com",
    "TokenLifetimeSeconds": "120",
    "SecretCacheTtlSeconds": "60",
    "TenantCacheSeconds": "15",
    "LogLevel": "DEBUG",
}


def moto_stack_template(template: Template, url: str) -> dict[str, Any]:
    """template.yaml's parameters, its table and secrets, and an output for every output key it declares."""
    resources = {
        name: {"Type": spec["Type"], "Properties": spec.get("Properties", {})}
        for name, spec in template.doc["Resources"].items()
        if spec.get("Type") in STACK_RESOURCE_TYPES
    }
    secrets = boto3.client("secretsmanager", endpoint_url=url, region_name=REGION)
    secret_arns = {
        name: secrets.create_secret(
            Name=f"{STACK}-{name}",
            Description=spec["Properties"]["Description"],
            SecretString=spec["Properties"]["SecretString"],
        )["ARN"]
        for name, spec in template.doc["Resources"].items()
        if spec.get("Type") == SECRET_TYPE
    }
    targets = output_targets(template)
    outputs: dict[str, Any] = {}
    for key in template.doc["Outputs"]:
        target = targets.get(key, "")
        if target in resources:
            outputs[key] = {"Value": {"Ref": target}}
        elif target in secret_arns:
            outputs[key] = {"Value": secret_arns[target]}
        else:  # API URL, function names: not resources moto needs to create for this test
            outputs[key] = {"Value": f"deployed-{key}"}
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Parameters": {name: as_string_parameter(spec) for name, spec in template.doc["Parameters"].items()},
        "Resources": resources,
        "Outputs": outputs,
    }


def as_string_parameter(spec: dict[str, Any]) -> dict[str, Any]:
    """The parameter as moto should report it. CloudFormation's DescribeStacks returns a parameter's input value
    (`Parameter.ParameterValue`: "The input value associated with the parameter",
    https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_Parameter.html), so a
    CommaDelimitedList comes back as "a,b"; moto 5 returns Python's repr of the split list ("['a', 'b']").
    Declared as String in moto's stack, the list comes back as AWS returns it; the writer still reads the type
    from template.yaml."""
    if str(spec.get("Type", "String")).startswith(("CommaDelimitedList", "List<")):
        return {**spec, "Type": "String"}
    return spec


def create_stack(url: str, body: dict[str, Any], name: str = STACK) -> dict[str, str]:
    cfn = boto3.client("cloudformation", endpoint_url=url, region_name=REGION)
    cfn.create_stack(
        StackName=name,
        TemplateBody=json.dumps(body),
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in STACK_PARAMETERS.items()],
    )
    stack = cfn.describe_stacks(StackName=name)["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE", stack
    return {item["OutputKey"]: item["OutputValue"] for item in stack["Outputs"]}


def sam_resolve(env_file: Path, tmp_path: Path) -> dict[str, dict[str, str]]:
    """What `sam local invoke --env-vars env_file` gives each function, from a shell with no project variables."""
    assert SAM_PYTHON.exists(), "SAM CLI's venv is missing: run `make install`"
    clean_env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "SAM_CLI_TELEMETRY": "0",
        # template.yaml declares additional sites with Fn::ForEach: SAM CLI expands it only when asked to.
        "SAM_CLI_ENABLE_LANGUAGE_EXTENSIONS": "1",
    }
    completed = subprocess.run(
        [str(SAM_PYTHON), str(RESOLVER), str(TEMPLATE_PATH), str(env_file), REGION],
        capture_output=True,
        text=True,
        env=clean_env,
        cwd=REPO_ROOT,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    resolved: dict[str, dict[str, str]] = json.loads(completed.stdout)
    # With no additional Tableau site, SAM CLI's local Fn::ForEach expansion still yields the loop body once, for
    # the empty name; CloudFormation never creates it (its Condition HasAdditionalSites is false), and
    # `sam local` does not evaluate conditions.
    resolved.pop("SiteRotationFunction", None)
    return resolved


def logical_names(template: Template) -> set[str]:
    return set(template.doc["Resources"]) | set(template.doc["Parameters"])


@pytest.fixture
def moto_url(moto_server_url: str) -> str:
    reset_moto(moto_server_url)
    return moto_server_url


@pytest.fixture
def template() -> Template:
    return Template()


def test_sam_resolves_resources_to_logical_ids_without_the_file(template: Template, tmp_path: Path) -> None:
    """The defect the env file fixes: without it SAM hands the function a table named 'EntitlementsTable'."""
    empty = tmp_path / "empty.json"
    empty.write_text("{}", encoding="utf-8")
    resolved = sam_resolve(empty, tmp_path)
    assert resolved["BrokerFunction"]["ENTITLEMENTS_TABLE"] == "EntitlementsTable"
    assert resolved["BrokerFunction"]["CONNECTED_APP_SECRET_ARN"] == "ConnectedAppSecret"


def test_written_file_resolves_every_variable_to_the_stack(moto_url: str, template: Template, tmp_path: Path) -> None:
    outputs = create_stack(moto_url, moto_stack_template(template, moto_url))
    env_path = tmp_path / "env.json"

    assert main(["--stack-name", STACK, "--region", REGION, "--endpoint-url", moto_url, "--output", str(env_path)]) == 0

    resolved = sam_resolve(env_path, tmp_path)
    assert sorted(resolved) == function_ids(template)
    broker, rotation = resolved["BrokerFunction"], resolved["RotationFunction"]
    # The resources the functions use, as the stack reports them, and as they exist in the account.
    assert broker["ENTITLEMENTS_TABLE"] == outputs["EntitlementsTableName"]
    assert broker["CONNECTED_APP_SECRET_ARN"] == outputs["ConnectedAppSecretArn"]
    assert rotation["TABLEAU_ADMIN_SECRET_ARN"] == outputs["TableauAdminSecretArn"]
    dynamodb = boto3.client("dynamodb", endpoint_url=moto_url, region_name=REGION)
    dynamodb.describe_table(TableName=broker["ENTITLEMENTS_TABLE"])
    secrets = boto3.client("secretsmanager", endpoint_url=moto_url, region_name=REGION)
    for arn in (broker["CONNECTED_APP_SECRET_ARN"], rotation["TABLEAU_ADMIN_SECRET_ARN"]):
        assert secrets.describe_secret(SecretId=arn)["ARN"] == arn
    # Parameters: the deployed values, not the template's defaults.
    assert broker["COGNITO_USER_POOL_ID"] == STACK_PARAMETERS["UserPoolId"]
    assert broker["COGNITO_APP_CLIENT_IDS"] == STACK_PARAMETERS["UserPoolClientIds"]
    assert broker["COGNITO_REPLICA_REGIONS"] == "eu-west-1"
    assert broker["TOKEN_LIFETIME_SECONDS"] == rotation["TOKEN_LIFETIME_SECONDS"] == "120"
    assert broker["SECRET_CACHE_TTL_SECONDS"] == "60"
    assert broker["TENANT_CACHE_TTL_SECONDS"] == "15"
    assert rotation["ROTATION_TEST_USERNAME"] == STACK_PARAMETERS["RotationTestUsername"]
    assert broker["POWERTOOLS_LOG_LEVEL"] == rotation["POWERTOOLS_LOG_LEVEL"] == "DEBUG"
    # Every variable the file gives is what SAM hands the function, and none is a logical name.
    written = json.loads(env_path.read_text(encoding="utf-8"))
    assert written == resolved
    leaked = {(fn, k, v) for fn, env in resolved.items() for k, v in env.items() if v in logical_names(template)}
    assert not leaked


def test_the_example_file_has_the_written_shape_and_no_logical_ids(
    moto_url: str, template: Template, tmp_path: Path
) -> None:
    create_stack(moto_url, moto_stack_template(template, moto_url))
    env_path = tmp_path / "env.json"
    assert main(["--stack-name", STACK, "--region", REGION, "--endpoint-url", moto_url, "--output", str(env_path)]) == 0
    written = json.loads(env_path.read_text(encoding="utf-8"))
    example = json.loads(EXAMPLE_ENV.read_text(encoding="utf-8"))

    assert {fn: sorted(env) for fn, env in example.items()} == {fn: sorted(env) for fn, env in written.items()}
    resolved = sam_resolve(EXAMPLE_ENV, tmp_path)
    assert resolved == example
    assert not {v for env in resolved.values() for v in env.values() if v in logical_names(template)}


def test_a_resource_without_an_output_is_refused(
    moto_url: str, template: Template, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    body = moto_stack_template(template, moto_url)
    del body["Outputs"]["EntitlementsTableName"]
    create_stack(moto_url, body)
    env_path = tmp_path / "env.json"

    code = main(["--stack-name", STACK, "--region", REGION, "--endpoint-url", moto_url, "--output", str(env_path)])

    assert code == 2
    assert "EntitlementsTable" in capsys.readouterr().err
    assert not env_path.exists()


def test_a_missing_stack_is_an_aws_failure(moto_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    env_path = tmp_path / "env.json"
    code = main(
        ["--stack-name", "no-such-stack", "--region", REGION, "--endpoint-url", moto_url, "--output", str(env_path)]
    )
    assert code == 1
    assert "no-such-stack" in capsys.readouterr().err
    assert not env_path.exists()
