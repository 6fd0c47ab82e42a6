"""template.yaml: least privilege, the authorizer, CORS, throttling and the table's durability settings."""

from __future__ import annotations

from typing import Any

import pytest

from local_stack.template import Tag, Template


@pytest.fixture(scope="module")
def template() -> Template:
    return Template()


def statements(template: Template, function: str) -> list[dict[str, Any]]:
    policies = template.properties(function)["Policies"]
    return [s for policy in policies for s in policy["Statement"]]


def test_broker_can_only_read_its_table_and_its_secrets(template: Template) -> None:
    actions = {(s["Sid"], s["Action"]) for s in statements(template, "BrokerFunction")}
    assert actions == {
        ("ReadEntitlements", "dynamodb:GetItem"),
        ("ReadConnectedAppSecrets", "secretsmanager:GetSecretValue"),
    }
    for statement in statements(template, "BrokerFunction"):
        assert "*" not in str(statement["Resource"])
        assert statement["Effect"] == "Allow"


def test_http_api_requires_cognito_jwt_and_restricts_cors(template: Template) -> None:
    api = template.properties("HttpApi")
    authorizer = api["Auth"]["Authorizers"][api["Auth"]["DefaultAuthorizer"]]
    assert authorizer["IdentitySource"] == "$request.header.Authorization"
    assert isinstance(authorizer["JwtConfiguration"]["issuer"], Tag)
    assert authorizer["JwtConfiguration"]["audience"] == Tag("Ref", "UserPoolClientIds")
    cors = api["CorsConfiguration"]
    assert cors["AllowOrigins"] == Tag("Ref", "AllowedOrigins")
    assert cors["AllowMethods"] == ["POST"]
    assert api["RouteSettings"]["POST /token"]["ThrottlingRateLimit"] == Tag("Ref", "ThrottlingRateLimit")
    assert "header" not in api["AccessLogSettings"]["Format"].lower()


def test_table_is_on_demand_encrypted_and_recoverable(template: Template) -> None:
    table = template.properties("EntitlementsTable")
    assert table["BillingMode"] == "PAY_PER_REQUEST"
    assert table["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
    assert table["SSESpecification"]["SSEEnabled"] is True
    assert template.resource("EntitlementsTable")["DeletionPolicy"] == "Retain"


def test_functions_run_arm64_python_313_with_the_shared_layer(template: Template) -> None:
    globals_ = template.doc["Globals"]["Function"]
    assert globals_["Runtime"] == "python3.13"
    assert globals_["Architectures"] == ["arm64"]
    assert globals_["Layers"] == [Tag("Ref", "SharedLayer")]
    assert template.resource("SharedLayer")["Metadata"]["BuildMethod"] == "python3.13"
    assert template.properties("BrokerFunction")["Handler"] == "token_broker.handler.lambda_handler"


def test_lifetime_parameter_cannot_exceed_tableaus_maximum(template: Template) -> None:
    lifetime = template.doc["Parameters"]["TokenLifetimeSeconds"]
    assert lifetime["MaxValue"] + 5 <= 600


def test_placeholder_secret_is_not_a_usable_credential(template: Template) -> None:
    from tableau_broker.errors import MalformedSecret
    from tableau_broker.signing_secret import parse_connected_app_secret

    with pytest.raises(MalformedSecret):
        parse_connected_app_secret(template.properties("ConnectedAppSecret")["SecretString"])


def test_outputs(template: Template) -> None:
    assert {"ApiUrl", "EntitlementsTableName", "ConnectedAppSecretArn"} <= set(template.doc["Outputs"])
