"""A deployed stack as the CLI sees it, in moto: CloudFormation outputs and parameters named as in template.yaml.

moto's CloudFormation cannot create Secrets Manager secrets, so the secrets and the user pool are made directly
and handed to the stack as parameters its outputs echo; the table is the stack's own resource, built from
template.yaml's ``EntitlementsTable`` definition, so its name is CloudFormation's generated one.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sam_local.template import Template
from token_broker_cli import stack

STACK_NAME = "token-broker-prod"
MOTO_CALLER = "arn:aws:sts::123456789012:user/moto"  # what moto's STS GetCallerIdentity answers
ALICE_EMAIL = "alice@example.com"
ALICE_USERNAME = "alice"


def stack_template() -> dict[str, Any]:
    source = Template()
    outputs = source.doc["Outputs"]
    parameters = source.doc["Parameters"]
    # The CLI's keys are the real template's: a rename there fails here.
    for key in (stack.OUTPUT_TABLE, stack.OUTPUT_SECRET, stack.OUTPUT_ADMIN_SECRET):
        assert key in outputs, key
    for key in (stack.PARAMETER_USER_POOL, stack.PARAMETER_TENANT_ATTRIBUTE):
        assert key in parameters, key
    table = source.resource("EntitlementsTable")
    properties = {
        k: v for k, v in table["Properties"].items() if k in ("BillingMode", "AttributeDefinitions", "KeySchema")
    }
    return {
        "Parameters": {
            stack.PARAMETER_USER_POOL: {"Type": "String"},
            stack.PARAMETER_TENANT_ATTRIBUTE: {"Type": "String", "Default": "tenant"},
            "SecretArn": {"Type": "String"},
            "AdminSecretArn": {"Type": "String"},
        },
        "Resources": {"EntitlementsTable": {"Type": table["Type"], "Properties": properties}},
        "Outputs": {
            stack.OUTPUT_TABLE: {"Value": {"Ref": "EntitlementsTable"}},
            stack.OUTPUT_SECRET: {"Value": {"Ref": "SecretArn"}},
            stack.OUTPUT_ADMIN_SECRET: {"Value": {"Ref": "AdminSecretArn"}},
        },
    }


@dataclass(frozen=True)
class Stack:
    name: str
    table: str
    secret_arn: str
    admin_secret_arn: str
    user_pool_id: str
    alice_sub: str


def deploy_stack(cloudformation: Any, cognito: Any, secretsmanager: Any, *, secret_arn: str) -> Stack:
    """The stack, a user pool with Alice in it, and an admin secret still holding the template's placeholder."""
    pool = cognito.create_user_pool(PoolName="tenants")["UserPool"]["Id"]
    created = cognito.admin_create_user(
        UserPoolId=pool,
        Username=ALICE_USERNAME,
        UserAttributes=[{"Name": "email", "Value": ALICE_EMAIL}],
        MessageAction="SUPPRESS",
    )
    alice_sub = next(a["Value"] for a in created["User"]["Attributes"] if a["Name"] == "sub")
    admin_arn = secretsmanager.create_secret(Name="tableau-admin-stack-test", SecretString='{"unconfigured": true}')[
        "ARN"
    ]
    cloudformation.create_stack(
        StackName=STACK_NAME,
        TemplateBody=json.dumps(stack_template()),
        Parameters=[
            {"ParameterKey": stack.PARAMETER_USER_POOL, "ParameterValue": pool},
            {"ParameterKey": "SecretArn", "ParameterValue": secret_arn},
            {"ParameterKey": "AdminSecretArn", "ParameterValue": admin_arn},
        ],
    )
    outputs = cloudformation.describe_stacks(StackName=STACK_NAME)["Stacks"][0]["Outputs"]
    table = next(o["OutputValue"] for o in outputs if o["OutputKey"] == stack.OUTPUT_TABLE)
    return Stack(STACK_NAME, table, secret_arn, admin_arn, pool, alice_sub)
