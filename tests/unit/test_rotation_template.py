"""template.yaml's rotation: least privilege, who may invoke the function, the schedule and the admin secret."""

from __future__ import annotations

from typing import Any

import pytest

from sam_local.template import Tag, Template

SECRET_ACTIONS = {
    "secretsmanager:DescribeSecret",
    "secretsmanager:GetSecretValue",
    "secretsmanager:PutSecretValue",
    "secretsmanager:UpdateSecretVersionStage",
}


@pytest.fixture(scope="module")
def template() -> Template:
    return Template()


def statements(template: Template, function: str) -> list[dict[str, Any]]:
    policies = template.properties(function)["Policies"]
    return [s for policy in policies for s in policy["Statement"]]


def _actions(statement: dict[str, Any]) -> set[str]:
    action = statement["Action"]
    return {action} if isinstance(action, str) else set(action)


def test_rotation_function_can_only_rotate_the_connected_app_secrets_and_read_the_admin_secret(
    template: Template,
) -> None:
    by_sid = {s["Sid"]: s for s in statements(template, "RotationFunction")}
    assert set(by_sid) == {"RotateConnectedAppSecrets", "ReadTableauAdminSecret"}
    for statement in by_sid.values():
        assert statement["Effect"] == "Allow"
        assert "*" not in str(statement["Resource"])
        assert "*" not in str(statement["Action"])

    rotate = by_sid["RotateConnectedAppSecrets"]
    assert _actions(rotate) == SECRET_ACTIONS
    # the same secrets the broker may read: the connected-app secret (plus the optional additional ones)
    broker = next(s for s in statements(template, "BrokerFunction") if s["Sid"] == "ReadConnectedAppSecrets")
    assert rotate["Resource"] == broker["Resource"]
    assert "TableauAdminSecret" not in str(rotate["Resource"])

    admin = by_sid["ReadTableauAdminSecret"]
    assert _actions(admin) == {"secretsmanager:GetSecretValue"}
    assert admin["Resource"] == Tag("Ref", "TableauAdminSecret")


def test_only_secrets_manager_of_this_account_may_invoke_the_rotation_function(template: Template) -> None:
    permission = template.properties("RotationFunctionInvokePermission")
    assert permission["Action"] == "lambda:InvokeFunction"
    assert permission["Principal"] == "secretsmanager.amazonaws.com"
    assert permission["FunctionName"] == Tag("GetAtt", "RotationFunction.Arn")
    assert permission["SourceAccount"] == Tag("Ref", "AWS::AccountId")


def test_rotation_schedule(template: Template) -> None:
    schedule = template.resource("ConnectedAppSecretRotationSchedule")
    props = schedule["Properties"]
    assert props["SecretId"] == Tag("Ref", "ConnectedAppSecret")
    assert props["RotationLambdaARN"] == Tag("GetAtt", "RotationFunction.Arn")
    assert props["RotationRules"]["ScheduleExpression"] == Tag("Ref", "RotationScheduleExpression")
    assert props["RotateImmediatelyOnUpdate"] is False  # the secret holds a placeholder at first deploy
    assert schedule["DependsOn"] == "RotationFunctionInvokePermission"
    assert template.doc["Parameters"]["RotationScheduleExpression"]["Default"] == "rate(30 days)"


def test_rotation_function_configuration(template: Template) -> None:
    props = template.properties("RotationFunction")
    assert props["Handler"] == "secret_rotation.handler.lambda_handler"
    assert props["CodeUri"] == "functions/secret_rotation/"
    assert props["LoggingConfig"]["LogGroup"] == Tag("Ref", "RotationLogGroup")
    assert template.properties("RotationLogGroup")["RetentionInDays"] == Tag("Ref", "LogRetentionInDays")
    env = props["Environment"]["Variables"]
    # the broker's cache TTL and token lifetime come from the same parameters the broker uses
    assert (
        env["SECRET_CACHE_TTL_SECONDS"]
        == template.properties("BrokerFunction")["Environment"]["Variables"]["SECRET_CACHE_TTL_SECONDS"]
    )
    assert env["TOKEN_LIFETIME_SECONDS"] == Tag("Ref", "TokenLifetimeSeconds")
    assert env["TABLEAU_ADMIN_SECRET_ARN"] == Tag("Ref", "TableauAdminSecret")
    params = template.doc["Parameters"]
    grace = params["PreviousSecretGraceSeconds"]
    assert grace["Default"] >= params["SecretCacheTtlSeconds"]["Default"] + params["TokenLifetimeSeconds"]["Default"]
    assert params["TableauConnectedAppPathFamily"]["AllowedValues"] == [
        "connected-applications",
        "connected-apps/direct-trust",
    ]


def test_admin_secret_placeholder_is_not_a_usable_credential(template: Template) -> None:
    from tableau_broker.tableau_rest import AdminSecretError, parse_admin_credentials

    assert template.resource("TableauAdminSecret")["DeletionPolicy"] == "Retain"
    with pytest.raises(AdminSecretError):
        parse_admin_credentials(template.properties("TableauAdminSecret")["SecretString"])


def test_rotation_outputs(template: Template) -> None:
    outputs = template.doc["Outputs"]
    assert outputs["TableauAdminSecretArn"]["Value"] == Tag("Ref", "TableauAdminSecret")
    assert outputs["RotationFunctionName"]["Value"] == Tag("Ref", "RotationFunction")
    assert outputs["RotationFunctionArn"]["Value"] == Tag("GetAtt", "RotationFunction.Arn")
