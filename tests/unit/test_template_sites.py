"""template.yaml's additional Tableau sites (``AdditionalTableauSites``, expanded as AWS::LanguageExtensions does):
each site's secrets, rotation function, grants and schedule name that site only; the broker allows exactly them."""

from __future__ import annotations

from typing import Any

import pytest

from sam_local.template import Template

SITES = ("Emea", "Apac")
BROKER_REFS = {
    "EntitlementsTable": "entitlements",
    "ConnectedAppSecret": "arn-of-ConnectedAppSecret",
    "UserPoolId": "us-east-1_pool",
    "UserPoolClientIds": ["client"],
    "AllowedOrigins": ["https://app.example"],
}


def _template(sites: str) -> Template:
    return Template(parameters={"AdditionalTableauSites": sites})


@pytest.fixture(scope="module")
def template() -> Template:
    return _template(",".join(SITES))


def refs(template: Template) -> dict[str, Any]:
    """Every resource's Ref and GetAtt Arn as a marker naming its logical ID, plus the parameters a Ref needs."""
    markers: dict[str, Any] = {k: v for k, v in template.parameter_defaults().items() if v is not None}
    markers.update(template.parameters)
    markers.update({"RotationTestUsername": "rotation-check@tableau.test", "AWS::AccountId": "123456789012"})
    for logical_id in template.doc["Resources"]:
        markers[logical_id] = f"arn-of-{logical_id}"
        markers[f"{logical_id}.Arn"] = f"arn-of-{logical_id}"
        if template.resource(logical_id)["Type"] == "AWS::Serverless::Function":  # SAM's generated role
            markers[f"{logical_id}Role"] = f"name-of-{logical_id}Role"
    return markers


def resolved(template: Template, logical_id: str) -> dict[str, Any]:
    props: dict[str, Any] = template.resolve(template.properties(logical_id), refs(template))
    return props


def site_resources(template: Template) -> set[str]:
    return {logical_id for logical_id in template.doc["Resources"] if logical_id.startswith("Site")}


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


@pytest.mark.parametrize("site", SITES)
def test_each_site_has_its_own_secrets_under_fixed_names(template: Template, site: str) -> None:
    secret = resolved(template, f"Site{site}ConnectedAppSecret")
    admin = resolved(template, f"Site{site}AdminSecret")
    assert secret["Name"] == f"tableau-token-broker/sites/{site}/connected-app"
    assert admin["Name"] == f"tableau-token-broker/sites/{site}/admin"
    for logical_id in (f"Site{site}ConnectedAppSecret", f"Site{site}AdminSecret"):
        resource = template.resource(logical_id)
        assert resource["Type"] == "AWS::SecretsManager::Secret"
        assert resource["Condition"] == "HasAdditionalSites"
        assert resource["DeletionPolicy"] == resource["UpdateReplacePolicy"] == "Retain"
        assert {"Key": "tableau-site", "Value": site} in resolved(template, logical_id)["Tags"]


@pytest.mark.parametrize("site", SITES)
def test_each_site_rotation_function_reads_only_its_own_admin_secret(template: Template, site: str) -> None:
    function = f"Site{site}RotationFunction"
    assert template.resource(function)["Type"] == "AWS::Serverless::Function"
    assert template.properties(function)["Handler"] == "secret_rotation.handler.lambda_handler"
    env = template.function_environment(function, refs(template))
    assert env["TABLEAU_ADMIN_SECRET_ARN"] == f"arn-of-Site{site}AdminSecret"
    secret_values = {v for v in env.values() if v.startswith("arn-of-")}
    assert secret_values == {f"arn-of-Site{site}AdminSecret"}


@pytest.mark.parametrize("site", SITES)
def test_each_site_iam_names_only_that_site_secrets(template: Template, site: str) -> None:
    statements = [
        s for policy in resolved(template, f"Site{site}RotationFunction")["Policies"] for s in policy["Statement"]
    ]
    by_sid = {s["Sid"]: s for s in statements}
    assert set(by_sid) == {"RotateConnectedAppSecrets", "ReadTableauAdminSecret"}
    assert _as_list(by_sid["RotateConnectedAppSecrets"]["Resource"]) == [f"arn-of-Site{site}ConnectedAppSecret"]
    assert _as_list(by_sid["ReadTableauAdminSecret"]["Resource"]) == [f"arn-of-Site{site}AdminSecret"]
    assert _as_list(by_sid["ReadTableauAdminSecret"]["Action"]) == ["secretsmanager:GetSecretValue"]

    read = resolved(template, f"Site{site}BrokerReadPolicy")
    assert read["RoleName"] == "name-of-BrokerFunctionRole"
    (grant,) = read["PolicyDocument"]["Statement"]
    assert (grant["Effect"], _as_list(grant["Action"])) == ("Allow", ["secretsmanager:GetSecretValue"])
    assert _as_list(grant["Resource"]) == [f"arn-of-Site{site}ConnectedAppSecret"]


@pytest.mark.parametrize("site", SITES)
def test_each_site_secret_rotates_on_the_schedule_through_its_own_function(template: Template, site: str) -> None:
    schedule = resolved(template, f"Site{site}RotationSchedule")
    assert template.resource(f"Site{site}RotationSchedule")["Type"] == "AWS::SecretsManager::RotationSchedule"
    assert schedule["SecretId"] == f"arn-of-Site{site}ConnectedAppSecret"
    assert schedule["RotationLambdaARN"] == f"arn-of-Site{site}RotationFunction"
    assert (
        schedule["RotationRules"]["ScheduleExpression"] == template.parameter_defaults()["RotationScheduleExpression"]
    )
    permission = resolved(template, f"Site{site}RotationInvokePermission")
    assert permission["FunctionName"] == f"arn-of-Site{site}RotationFunction"
    assert permission["Principal"] == "secretsmanager.amazonaws.com"
    assert permission["SourceAccount"] == "123456789012"


def test_no_site_can_reach_another_site_secrets(template: Template) -> None:
    for site in SITES:
        others = {
            f"arn-of-Site{other}{kind}"
            for other in SITES
            if other != site
            for kind in ("ConnectedAppSecret", "AdminSecret")
        }
        for logical_id in site_resources(template):
            if logical_id.startswith(f"Site{site}"):
                text = repr(resolved(template, logical_id))
                assert not any(other in text for other in others), logical_id


def test_broker_allows_exactly_the_site_secrets(template: Template) -> None:
    env = template.function_environment("BrokerFunction", BROKER_REFS)
    assert env["ADDITIONAL_CONNECTED_APP_SECRET_ARNS"].split(",") == [
        f"tableau-token-broker/sites/{site}/connected-app" for site in SITES
    ]
    assert template.condition("HasAdditionalSites", {**template.parameter_defaults(), **template.parameters})


def test_no_sites_no_site_resources() -> None:
    template = Template()
    assert site_resources(template) == set()
    assert not any(key.startswith("Site") for key in template.doc.get("Outputs", {}))
    assert template.function_environment("BrokerFunction", BROKER_REFS)["ADDITIONAL_CONNECTED_APP_SECRET_ARNS"] == ""
    assert not template.condition("HasAdditionalSites", template.parameter_defaults())


def test_each_site_expands_to_the_same_set_of_resources(template: Template) -> None:
    shapes = {
        site: {k.removeprefix(f"Site{site}") for k in site_resources(template) if k.startswith(f"Site{site}")}
        for site in SITES
    }
    assert shapes["Emea"] == shapes["Apac"] == {
        "ConnectedAppSecret", "AdminSecret", "BrokerReadPolicy", "RotationLogGroup", "RotationFunction",
        "RotationInvokePermission", "RotationSchedule", "RotationErrorsAlarm",
    }  # fmt: skip
    assert set(site_resources(template)) == {f"Site{site}{kind}" for site in SITES for kind in shapes["Emea"]}


@pytest.mark.parametrize("sites", ["Emea,,Apac", "Emea,", ",Emea"])
def test_a_blank_site_name_is_refused(sites: str) -> None:
    assert _template(sites).failed_rules() == [
        'AdditionalTableauSites must not contain an empty site name (e.g. "Emea,,Apac" or "Emea,").'
    ]


@pytest.mark.parametrize("sites", ["Emea,Apac", "Emea", ""])
def test_named_sites_and_no_site_are_accepted(sites: str) -> None:
    assert _template(sites).failed_rules() == []


def test_each_sites_rotation_errors_alarm_watches_that_sites_function(template: Template) -> None:
    for site in SITES:
        alarm = template.properties(f"Site{site}RotationErrorsAlarm")
        assert (alarm["Namespace"], alarm["MetricName"]) == ("AWS/Lambda", "Errors")
        (dimension,) = alarm["Dimensions"]
        assert dimension["Name"] == "FunctionName"
        function = template.resolve({"Ref": f"Site{site}RotationFunction"}, refs(template))
        assert resolved(template, f"Site{site}RotationErrorsAlarm")["Dimensions"][0]["Value"] == function
