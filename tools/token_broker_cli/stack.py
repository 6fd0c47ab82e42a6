"""A deployed stack's outputs and parameters, so operators name the stack instead of copying ARNs.

The keys are template.yaml's: outputs ``EntitlementsTableName``, ``ConnectedAppSecretArn``,
``TableauAdminSecretArn`` and the ``UserPoolId`` and ``TenantAttributeName`` parameters.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from tableau_broker.aws import error_code
from token_broker_cli.errors import UsageError

OUTPUT_TABLE = "EntitlementsTableName"
OUTPUT_SECRET = "ConnectedAppSecretArn"  # nosec B105  # an output's name
OUTPUT_ADMIN_SECRET = "TableauAdminSecretArn"  # nosec B105  # an output's name
PARAMETER_USER_POOL = "UserPoolId"
PARAMETER_TENANT_ATTRIBUTE = "TenantAttributeName"


@dataclass(frozen=True)
class StackValues:
    name: str
    status: str
    outputs: dict[str, str]
    parameters: dict[str, str]

    def output(self, key: str) -> str:
        value = self.outputs.get(key, "").strip()
        if not value:
            raise UsageError(
                f"stack {self.name!r} ({self.status}) has no output {key}: deploy the current template, "
                "or pass the value explicitly"
            )
        return value

    def parameter(self, key: str) -> str:
        value = self.parameters.get(key, "").strip()
        if not value:
            raise UsageError(f"stack {self.name!r} ({self.status}) has no parameter {key}; pass the value explicitly")
        return value


def describe_stack(client: Any, name: str, *, region: str | None) -> StackValues:
    """One DescribeStacks call. A missing stack is the operator's mistake (exit 2), named with the region."""
    missing = UsageError(f"no stack {name!r} in region {region} (check --stack-name, --region and --profile)")
    try:
        stacks = client.describe_stacks(StackName=name).get("Stacks", [])
    except ClientError as exc:
        message = str(exc.response.get("Error", {}).get("Message", ""))
        if error_code(exc) == "ValidationError" and "does not exist" in message:
            raise missing from None
        raise
    if not stacks:
        raise missing from None
    stack = stacks[0]
    return StackValues(
        name=name,
        status=str(stack.get("StackStatus", "")),
        outputs={str(o.get("OutputKey")): str(o.get("OutputValue", "")) for o in stack.get("Outputs", [])},
        parameters={
            str(p.get("ParameterKey")): str(p.get("ResolvedValue") or p.get("ParameterValue", ""))
            for p in stack.get("Parameters", [])
        },
    )
