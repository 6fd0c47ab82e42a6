"""Write the ``sam local invoke --env-vars`` file of a deployed stack, keyed by function logical ID.

SAM CLI resolves ``!Ref SomeResource`` in a function's environment to the logical ID ("EntitlementsTable"), and
parameters to their template defaults, so a local invoke against a deployed stack reads a table and secrets that do
not exist. This command reads the stack with CloudFormation ``DescribeStacks`` and resolves every variable of every
function in ``template.yaml`` the way CloudFormation did for that stack:

- ``!Ref``/``!GetAtt`` of a resource: the stack output whose ``Value`` is that same ``!Ref``/``!GetAtt``;
- ``!Ref`` of a parameter: the value the stack was deployed with (``ResolvedValue`` for SSM-typed parameters);
- ``AWS::Region``/``AWS::AccountId``/``AWS::StackName``/``AWS::URLSuffix``/``AWS::Partition``: from the stack.

A resource that no output exposes, or a ``NoEcho`` parameter, is refused: the file is never half right.

    python -m tools.env_from_stack --stack-name tableau-token-broker [--region R] [--profile P] [--output F]

(or `make env-file STACK=tableau-token-broker`, which writes events/env.json).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from sam_local.template import TEMPLATE_PATH, Tag, Template, TemplateError

FUNCTION_TYPES = frozenset({"AWS::Serverless::Function", "AWS::Lambda::Function"})
LIST_PARAMETER_PREFIXES = ("CommaDelimitedList", "List<")
NO_ECHO_MASK = "****"


class StackEnvError(Exception):
    """The stack cannot give every variable its deployed value."""


def output_targets(template: Template) -> dict[str, str]:
    """Output key -> the ``Ref`` name or ``GetAtt`` target ("Resource.Attr") its Value is, for plain outputs."""
    targets: dict[str, str] = {}
    for key, output in template.doc.get("Outputs", {}).items():
        value = output.get("Value")
        if isinstance(value, dict) and len(value) == 1:
            (name, inner), *_ = value.items()
            value = Tag(name.removeprefix("Fn::"), inner)
        if isinstance(value, Tag) and value.name == "Ref" and isinstance(value.value, str):
            targets[key] = value.value
        elif isinstance(value, Tag) and value.name == "GetAtt":
            targets[key] = value.value if isinstance(value.value, str) else ".".join(value.value)
    return targets


def stack_refs(template: Template, stack: Mapping[str, Any]) -> dict[str, Any]:
    """Values for every name the template's intrinsics may reference, as CloudFormation resolved them."""
    arn_parts = str(stack["StackId"]).split(":")
    partition, region, account = arn_parts[1], arn_parts[3], arn_parts[4]
    refs: dict[str, Any] = {
        "AWS::Region": region,
        "AWS::AccountId": account,
        "AWS::Partition": partition,
        "AWS::StackName": stack["StackName"],
        "AWS::StackId": stack["StackId"],
        "AWS::URLSuffix": "amazonaws.com.cn" if partition == "aws-cn" else "amazonaws.com",
    }
    declared = template.doc.get("Parameters", {})
    for parameter in stack.get("Parameters", []):
        name = parameter["ParameterKey"]
        value = parameter.get("ResolvedValue", parameter.get("ParameterValue", ""))
        if declared.get(name, {}).get("NoEcho") or value == NO_ECHO_MASK:
            raise StackEnvError(f"parameter {name} is NoEcho; CloudFormation does not return its value")
        if str(declared.get(name, {}).get("Type", "String")).startswith(LIST_PARAMETER_PREFIXES):
            refs[name] = value.split(",")
        else:
            refs[name] = value
    missing = sorted(set(declared) - set(refs))
    if missing:
        raise StackEnvError(f"the stack has no value for parameter(s) {', '.join(missing)}: is it this template's?")
    outputs = {item["OutputKey"]: item["OutputValue"] for item in stack.get("Outputs", [])}
    for key, target in output_targets(template).items():
        if key in outputs:
            refs[target] = outputs[key]
    return refs


def function_ids(template: Template) -> list[str]:
    resources: dict[str, Any] = template.doc.get("Resources", {})
    return sorted(name for name, spec in resources.items() if spec.get("Type") in FUNCTION_TYPES)


def env_file(template: Template, stack: Mapping[str, Any]) -> dict[str, dict[str, str]]:
    """``{function logical ID: {VARIABLE: deployed value}}`` for every function of the template."""
    refs = stack_refs(template, stack)
    result: dict[str, dict[str, str]] = {}
    for logical_id in function_ids(template):
        try:
            result[logical_id] = template.function_environment(logical_id, refs)
        except TemplateError as exc:
            raise StackEnvError(
                f"{logical_id}: {exc}. A resource an environment variable names needs a stack output whose Value "
                "is the same !Ref or !GetAtt"
            ) from None
    return result


def describe_stack(stack_name: str, *, region: str | None, profile: str | None, endpoint_url: str | None) -> Any:
    session = boto3.Session(profile_name=profile, region_name=region)
    client = session.client("cloudformation", endpoint_url=endpoint_url)
    stacks = client.describe_stacks(StackName=stack_name)["Stacks"]
    if len(stacks) != 1:
        raise StackEnvError(f"expected one stack named {stack_name}, found {len(stacks)}")
    return stacks[0]


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--stack-name", required=True)
    parser.add_argument("--region")
    parser.add_argument("--profile")
    parser.add_argument("--endpoint-url", help="CloudFormation endpoint (e.g. a local emulator)")
    parser.add_argument("--template", type=Path, default=TEMPLATE_PATH)
    parser.add_argument("--output", type=Path, help="file to write (default: standard output)")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        stack = describe_stack(
            args.stack_name, region=args.region, profile=args.profile, endpoint_url=args.endpoint_url
        )
        document = env_file(Template(args.template), stack)
    except (ClientError, BotoCoreError) as exc:
        print(f"error: could not read stack {args.stack_name}: {exc}", file=sys.stderr)
        return 1
    except (StackEnvError, TemplateError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    text = json.dumps(document, indent=2, sort_keys=True) + "\n"
    if args.output is None:
        sys.stdout.write(text)
    else:
        args.output.write_text(text, encoding="utf-8")
        print(f"wrote {args.output}: {', '.join(sorted(document))}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
