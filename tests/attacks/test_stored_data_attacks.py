"""The attack catalogue, stored data: entitlement records written to shadow claims or redirect the signing secret.

A record an attacker (or a careless operator) could write must never turn into a token: the broker answers
500 configuration_error, the value stays out of the body and every log line, and no token is minted.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from sam_local import aws_resources
from tests.attacks.conftest import Invoke
from tests.attacks.verdicts import assert_refused
from tests.support.broker_stack import TABLEAU_URL, BrokerStack, new_connected_app_secret

pytestmark = pytest.mark.attack

CONFIGURATION_ERROR = (500, "configuration_error")

SHADOW_NAMES = [
    "tenant", "Tenant", "TENANT", "tEnAnT", "tenant ", " tenant", "sub", "SUB", "Sub", "scp", "SCP", "aud", "exp",
    "iat", "nbf", "jti", "iss", "kid", "alg", "typ", "https://tableau.com/oda", "HTTPS://TABLEAU.COM/groups",
    "https://tableau.com/anything",
]  # fmt: skip


@pytest.mark.parametrize("record", ["user", "tenant"])
@pytest.mark.parametrize("name", SHADOW_NAMES)
def test_attack_attribute_shadowing(stack: BrokerStack, invoke: Invoke, name: str, record: str) -> None:
    value = f"shadow-{uuid.uuid4().hex}"
    alice = stack.users["alice"]
    if record == "user":
        aws_resources.put_user(
            stack.dynamodb, stack.table, alice.sub, tableau_username=alice.tableau_username, tenant_id="acme",
            enabled=True, attributes={name: value},
        )  # fmt: skip
    else:
        aws_resources.put_tenant(
            stack.dynamodb, stack.table, "acme", enabled=True, tableau_url=TABLEAU_URL, site="acme-site",
            scopes=["tableau:views:embed"], attributes={name: [value, "globex"]},
        )  # fmt: skip
    result, logs = invoke(stack.http_event(stack.claims("alice")))
    assert_refused(result, CONFIGURATION_ERROR, sensitive=[value, stack.secret.secret_value], logs=logs)


def _secret_reference(case: str, stack: BrokerStack) -> Any:
    arn = stack.secret_arn  # arn:aws:secretsmanager:us-east-1:123456789012:secret:tableau/connected-app-AbCdEf
    name = arn.split(":secret:", 1)[1]
    if case == "another-secret-in-the-account":
        hostile = new_connected_app_secret()
        return stack.secretsmanager.create_secret(Name=f"attacker/{uuid.uuid4().hex}", SecretString=hostile.to_json())[
            "ARN"
        ]
    return {
        "other-account": arn.replace(":123456789012:", ":210987654321:"),
        "other-region": arn.replace(":us-east-1:", ":eu-west-1:"),
        "other-partition": arn.replace("arn:aws:", "arn:aws-cn:"),
        "partial-arn": arn.rsplit("-", 1)[0],
        "bare-name": name,
        "name-without-suffix": name.rsplit("-", 1)[0],
        "arn-uppercase": arn.upper(),
        "arn-with-version-stage": f"{arn}:AWSPENDING",
        "arn-with-query": f"{arn}?VersionStage=AWSPREVIOUS",
        "arn-with-path": f"{arn}/../other",
        "empty": "",
        "blank": "   ",
        "list": [arn],
        "map": {"arn": arn},
    }[case]


SECRET_CASES = [
    "another-secret-in-the-account", "other-account", "other-region", "other-partition", "partial-arn", "bare-name",
    "name-without-suffix", "arn-uppercase", "arn-with-version-stage", "arn-with-query", "arn-with-path", "empty",
    "blank", "list", "map",
]  # fmt: skip


@pytest.mark.parametrize("case", SECRET_CASES)
def test_attack_secret_arn(stack: BrokerStack, invoke: Invoke, case: str) -> None:
    reference = _secret_reference(case, stack)
    aws_resources.put_tenant(
        stack.dynamodb, stack.table, "globex", enabled=True, tableau_url=TABLEAU_URL, site="globex-site",
        scopes=["tableau:views:embed"], connected_app_secret=reference,
    )  # fmt: skip
    sensitive = [stack.secret.secret_value]
    if case == "another-secret-in-the-account":
        hostile = json.loads(stack.secretsmanager.get_secret_value(SecretId=reference)["SecretString"])
        sensitive.append(hostile["secret_value"])
    result, logs = invoke(stack.http_event(stack.claims("bob")))
    assert_refused(result, CONFIGURATION_ERROR, sensitive=sensitive, logs=logs)
    # The other tenant is unaffected: the refusal is about the record, not the broker.
    assert invoke(stack.http_event(stack.claims("alice")))[0][0] == 200
