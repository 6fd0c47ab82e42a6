"""Reads ``template.yaml`` so local resources and tests are built from the deployed definitions.

Only the intrinsic functions the template uses are resolved (Ref, Sub, Join, Split, Select, If, GetAtt, the
condition functions Equals, Not, And, Or, Condition, and the rule functions Contains, EachMemberEquals); an
unsupported one raises instead of guessing.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
TEMPLATE_PATH = REPO_ROOT / "template.yaml"


@dataclass(frozen=True)
class Tag:
    name: str
    value: Any


class _CfnLoader(yaml.SafeLoader):
    """SafeLoader that keeps CloudFormation short-form tags (!Ref, !Sub, …) as ``Tag`` objects."""


def _construct_tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Tag:
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    return Tag(suffix, value)


_CfnLoader.add_multi_constructor("!", _construct_tag)


class TemplateError(Exception):
    pass


class Template:
    """The template with its ``Fn::ForEach`` loops expanded for ``parameters`` (defaults fill the rest)."""

    def __init__(self, path: Path = TEMPLATE_PATH, parameters: Mapping[str, str] | None = None) -> None:
        with path.open(encoding="utf-8") as handle:
            self.doc: dict[str, Any] = yaml.load(handle, Loader=_CfnLoader)  # noqa: S506 - SafeLoader subclass  # nosec B506
        self.path = path
        self.parameters: dict[str, Any] = {name: self._typed(name, value) for name, value in (parameters or {}).items()}
        values = self.parameter_values()
        for section in ("Conditions", "Resources", "Outputs"):
            if section in self.doc:
                self.doc[section] = expand_for_each(self.doc[section], values)

    def failed_rules(self) -> list[str]:
        """The ``AssertDescription`` of every ``Rules`` assertion CloudFormation would refuse these parameters with."""
        values = {k: self._typed(k, v) for k, v in self.parameter_defaults().items() if isinstance(v, str)}
        values.update(self.parameters)
        failed: list[str] = []
        for rule in self.doc.get("Rules", {}).values():
            if "RuleCondition" in rule and not self.resolve(rule["RuleCondition"], values):
                continue
            failed.extend(
                str(a.get("AssertDescription", "")) for a in rule["Assertions"] if not self.resolve(a["Assert"], values)
            )
        return failed

    def _typed(self, name: str, value: str) -> Any:
        """A parameter value as CloudFormation hands it to intrinsics: a CommaDelimitedList is a list."""
        spec = self.doc.get("Parameters", {}).get(name)
        if spec is None:
            raise TemplateError(f"template has no parameter {name}")
        return value.split(",") if spec.get("Type") == "CommaDelimitedList" else value

    def resource(self, logical_id: str) -> dict[str, Any]:
        try:
            resource: dict[str, Any] = self.doc["Resources"][logical_id]
        except KeyError:
            raise TemplateError(f"template has no resource {logical_id}") from None
        return resource

    def properties(self, logical_id: str) -> dict[str, Any]:
        props: dict[str, Any] = self.resource(logical_id).get("Properties", {})
        return props

    def parameter_defaults(self) -> dict[str, Any]:
        return {name: spec.get("Default") for name, spec in self.doc.get("Parameters", {}).items()}

    def parameter_values(self) -> dict[str, Any]:
        """What a deploy with this template's ``parameters`` would use: those, then the defaults."""
        return {**{k: v for k, v in self.parameter_defaults().items() if v is not None}, **self.parameters}

    def dynamodb_create_table_args(self, logical_id: str, table_name: str) -> dict[str, Any]:
        """Arguments for DynamoDB ``CreateTable`` equal to the template's table definition."""
        props = self.properties(logical_id)
        args: dict[str, Any] = {
            "TableName": table_name,
            "AttributeDefinitions": props["AttributeDefinitions"],
            "KeySchema": props["KeySchema"],
            "BillingMode": props.get("BillingMode", "PROVISIONED"),
        }
        sse = props.get("SSESpecification")
        if sse:
            args["SSESpecification"] = {"Enabled": bool(sse.get("SSEEnabled"))}
        if props.get("GlobalSecondaryIndexes"):
            raise TemplateError("GlobalSecondaryIndexes are not translated; extend this function")
        return args

    def global_environment(self) -> dict[str, Any]:
        """``Globals.Function.Environment.Variables`` as written (intrinsics unresolved)."""
        variables: dict[str, Any] = (
            self.doc.get("Globals", {}).get("Function", {}).get("Environment", {}).get("Variables", {})
        )
        return dict(variables)

    def literal_global_environment(self) -> dict[str, str]:
        """The global variables whose value is a plain string (no intrinsic to resolve)."""
        return {name: value for name, value in self.global_environment().items() if isinstance(value, str)}

    def function_environment(self, logical_id: str, refs: Mapping[str, Any]) -> dict[str, str]:
        """Globals plus the function's own variables, intrinsics resolved against ``refs``.

        ``refs`` maps parameter names and logical IDs to their values (the parameters given to the template, then
        the defaults, fill the rest).
        """
        values = {**self.parameter_values(), **refs}
        own_env = self.properties(logical_id).get("Environment", {}).get("Variables", {})
        merged = {**self.global_environment(), **own_env}
        return {name: _as_env_string(self.resolve(value, values)) for name, value in merged.items()}

    def resolve(self, value: Any, refs: Mapping[str, Any]) -> Any:
        if isinstance(value, Tag):
            return self._resolve_tag(value, refs)
        if isinstance(value, list):
            return [self.resolve(item, refs) for item in value]
        if isinstance(value, dict):
            if len(value) == 1:
                (key, inner), *_ = value.items()
                if key == "Ref" or key.startswith("Fn::"):
                    return self._resolve_tag(Tag(key.removeprefix("Fn::"), inner), refs)
            return {k: self.resolve(v, refs) for k, v in value.items()}
        return value

    def condition(self, name: str, refs: Mapping[str, Any]) -> bool:
        try:
            definition = self.doc.get("Conditions", {})[name]
        except KeyError:
            raise TemplateError(f"template has no condition {name}") from None
        return bool(self.resolve(definition, refs))

    def _resolve_tag(self, tag: Tag, refs: Mapping[str, Any]) -> Any:
        if tag.name == "If":
            name, when_true, when_false = tag.value
            return self.resolve(when_true if self.condition(name, refs) else when_false, refs)
        if tag.name == "Condition":
            return self.condition(tag.value, refs)
        if tag.name == "Equals":
            left, right = (self.resolve(item, refs) for item in tag.value)
            return left == right
        if tag.name == "Not":
            (inner,) = tag.value
            return not self.resolve(inner, refs)
        if tag.name in ("And", "Or"):
            results = [bool(self.resolve(item, refs)) for item in tag.value]
            return all(results) if tag.name == "And" else any(results)
        if tag.name in ("Contains", "EachMemberEquals"):  # rule functions: [list of strings, string]
            members, wanted = (self.resolve(item, refs) for item in tag.value)
            members = members if isinstance(members, list) else [members]
            return wanted in members if tag.name == "Contains" else all(m == wanted for m in members)
        if tag.name == "Select":
            index, items = tag.value
            return self.resolve(items, refs)[int(self.resolve(index, refs))]
        if tag.name == "Ref":
            if not isinstance(tag.value, str):  # {Ref: !Sub "Site${Site}..."} inside Fn::ForEach
                tag = Tag("Ref", self.resolve(tag.value, refs))
            if tag.value not in refs:
                raise TemplateError(f"no value for Ref {tag.value}")
            return refs[tag.value]
        if tag.name == "Sub":
            text = tag.value if isinstance(tag.value, str) else tag.value[0]
            extra = {} if isinstance(tag.value, str) else tag.value[1]
            scope = {**refs, **{k: self.resolve(v, refs) for k, v in extra.items()}}

            def substitute(match: re.Match[str]) -> str:
                name = match.group(1)
                if name not in scope:
                    raise TemplateError(f"no value for ${{{name}}}")
                return str(scope[name])

            return re.sub(r"\$\{([\w.:-]+)\}", substitute, text)
        if tag.name == "Join":
            separator, items = tag.value
            resolved = self.resolve(items, refs)
            flat: list[str] = []
            for item in resolved if isinstance(resolved, list) else [resolved]:
                flat.extend(str(x) for x in (item if isinstance(item, list) else [item]))
            return separator.join(flat)
        if tag.name == "Split":
            separator, text = tag.value
            return str(self.resolve(text, refs)).split(separator)
        if tag.name == "GetAtt":
            parts = tag.value if isinstance(tag.value, str) else [str(self.resolve(p, refs)) for p in tag.value]
            target = parts if isinstance(parts, str) else ".".join(parts)  # [!Sub "Site${Site}…", Arn] in a loop
            if target not in refs:
                raise TemplateError(f"no value for GetAtt {target}")
            return refs[target]
        raise TemplateError(f"intrinsic {tag.name} is not supported locally")


_FOR_EACH = "Fn::ForEach::"


def expand_for_each(section: dict[str, Any], parameters: Mapping[str, Any]) -> dict[str, Any]:
    """``Fn::ForEach::<loop>: [Identifier, collection, {OutputKey: OutputValue}]`` as AWS::LanguageExtensions
    expands it: one copy per item, ``${Identifier}``/``&{Identifier}`` replaced in keys and strings (and
    ``{Ref: Identifier}``). The collection is a list or a ``Ref`` to a CommaDelimitedList parameter; an empty
    parameter ("") expands to nothing (the template guards that one item with a condition)."""
    expanded: dict[str, Any] = {}
    for key, value in section.items():
        if not key.startswith(_FOR_EACH):
            expanded[key] = value
            continue
        identifier, collection, fragment = value
        for item in _collection(collection, parameters):
            for out_key, out_value in _substitute(fragment, identifier, item).items():
                if out_key in expanded:
                    raise TemplateError(f"{key} expands to {out_key} twice")
                expanded[out_key] = out_value
    return expanded


def _collection(collection: Any, parameters: Mapping[str, Any]) -> list[str]:
    if isinstance(collection, list):
        return [str(item) for item in collection]
    if isinstance(collection, Tag) and collection.name == "Ref":
        value = parameters.get(collection.value)
        items = value if isinstance(value, list) else str(value or "").split(",")
        return [str(item).strip() for item in items if str(item).strip()]
    raise TemplateError("Fn::ForEach collection must be a list or a Ref to a CommaDelimitedList")


def _substitute(value: Any, identifier: str, item: str) -> Any:
    if isinstance(value, str):
        stripped = re.sub(r"[^0-9A-Za-z]", "", item)
        return value.replace(f"${{{identifier}}}", item).replace(f"&{{{identifier}}}", stripped)
    if isinstance(value, Tag):
        if value.name == "Ref" and value.value == identifier:
            return item
        return Tag(value.name, _substitute(value.value, identifier, item))
    if isinstance(value, list):
        return [_substitute(v, identifier, item) for v in value]
    if isinstance(value, dict):
        if value == {"Ref": identifier}:
            return item
        return {_substitute(k, identifier, item): _substitute(v, identifier, item) for k, v in value.items()}
    return value


def _as_env_string(value: Any) -> str:
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    return str(value)
