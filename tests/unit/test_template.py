"""template.yaml: least privilege, the authorizer, CORS, throttling and the table's durability settings."""

from __future__ import annotations

from typing import Any

import pytest

from sam_local.template import Tag, Template


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
    layer = template.resource("SharedLayer")
    # Built with the makefile method: wheels for python3.13 on arm64, whatever interpreter runs `sam build`.
    assert layer["Metadata"] == {"BuildMethod": "makefile", "BuildArchitecture": "arm64"}
    assert layer["Properties"]["CompatibleRuntimes"] == ["python3.13"]
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


POOL_ID = "eu-west-1_AbCdEf123"


def _refs(**params: Any) -> dict[str, Any]:
    return {
        "AWS::Region": "us-east-1",  # the stack's region differs from the pool's on purpose
        "EntitlementsTable": "table",
        "ConnectedAppSecret": "arn:aws:secretsmanager:us-east-1:1:secret:x",
        "UserPoolId": POOL_ID,
        "UserPoolClientIds": ["client-1"],
        **params,
    }


def _authorizer_issuer(template: Template, refs: dict[str, Any]) -> str:
    defaults = {k: v for k, v in template.parameter_defaults().items() if v is not None}
    auth = template.properties("HttpApi")["Auth"]
    issuer = auth["Authorizers"][auth["DefaultAuthorizer"]]["JwtConfiguration"]["issuer"]
    return str(template.resolve(issuer, {**defaults, **refs}))


@pytest.mark.parametrize(
    ("params", "issuer"),
    [
        ({}, f"https://cognito-idp.eu-west-1.amazonaws.com/{POOL_ID}"),
        ({"UserPoolIssuerType": "UPDATED"}, f"https://issuer-cognito-idp.eu-west-1.amazonaws.com/{POOL_ID}"),
        ({"UserPoolRegion": "eu-north-1"}, f"https://cognito-idp.eu-north-1.amazonaws.com/{POOL_ID}"),
        (
            {"UserPoolIssuerType": "UPDATED", "UserPoolReplicaRegions": ["eu-central-1"]},
            f"https://issuer-cognito-idp.eu-west-1.amazonaws.com/{POOL_ID}",
        ),
    ],
)
def test_authorizer_and_broker_derive_the_same_issuer_from_the_pool(
    template: Template, params: dict[str, Any], issuer: str
) -> None:
    from tableau_broker.config import cognito_settings_from_env

    refs = _refs(**params)
    assert _authorizer_issuer(template, refs) == issuer
    settings = cognito_settings_from_env(template.function_environment("BrokerFunction", refs))
    assert settings.issuer == issuer
    assert settings.issuers == {issuer}
    assert settings.jwks_url == f"{issuer}/.well-known/jwks.json"


def test_original_replicas_are_accepted_by_the_broker_and_the_authorizer_keeps_the_primary(template: Template) -> None:
    from tableau_broker.config import cognito_settings_from_env

    refs = _refs(UserPoolReplicaRegions=["eu-central-1", "us-west-2"])
    primary = f"https://cognito-idp.eu-west-1.amazonaws.com/{POOL_ID}"
    assert _authorizer_issuer(template, refs) == primary
    settings = cognito_settings_from_env(template.function_environment("BrokerFunction", refs))
    assert settings.issuers == {
        primary,
        f"https://cognito-idp.eu-central-1.amazonaws.com/{POOL_ID}",
        f"https://cognito-idp.us-west-2.amazonaws.com/{POOL_ID}",
    }


def test_given_parameters_override_the_defaults_wherever_the_local_tools_resolve_the_template() -> None:
    from local_stack.api_gateway import LocalHttpApi

    template = Template(parameters={"ThrottlingRateLimit": "7", "ThrottlingBurstLimit": "3"})
    values = template.parameter_values()
    assert (int(values["ThrottlingRateLimit"]), int(values["ThrottlingBurstLimit"])) == (7, 3)
    assert values["TokenLifetimeSeconds"] == Template().parameter_defaults()["TokenLifetimeSeconds"]
    refs = {
        "AWS::Region": "us-east-1",
        "UserPoolId": "us-east-1_Pool",
        "UserPoolClientIds": ["client"],
        "AllowedOrigins": ["http://127.0.0.1"],
        "ApiAccessLogGroup.Arn": "arn:aws:logs:us-east-1:1:log-group:x",
    }
    bucket = LocalHttpApi(template, refs, jwks_url="http://127.0.0.1:9/jwks.json").routes["POST /token"].bucket
    assert bucket is not None and (bucket.rate, bucket.burst) == (7.0, 3)
