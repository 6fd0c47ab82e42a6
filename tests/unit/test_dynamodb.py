"""tableau_broker.dynamodb: the one decoder the broker and the operator CLI share."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

from tableau_broker.dynamodb import decode_item, decode_value
from tableau_broker.errors import ConfigurationError
from tests.unit.fakes import TABLE, FakeDynamoDB
from token_broker_cli.store import EntitlementAdmin

WIRE: list[tuple[dict[str, Any], Any]] = [
    ({"S": "acme"}, "acme"),
    ({"S": ""}, ""),
    ({"N": "5"}, 5),
    ({"N": "-0"}, 0),
    ({"N": "1E+3"}, 1000),
    ({"N": "2.50"}, 2.5),
    ({"N": "12345678901234567890123456789012345678"}, 12345678901234567890123456789012345678),
    ({"BOOL": True}, True),
    ({"BOOL": False}, False),
    ({"NULL": True}, None),
    ({"SS": ["b", "a", "c"]}, ["a", "b", "c"]),
    ({"NS": ["10", "9", "1.5"]}, [1.5, 9, 10]),
    ({"L": [{"S": "x"}, {"N": "1"}, {"L": []}]}, ["x", 1, []]),
    ({"M": {"groups": {"SS": ["y", "x"]}, "on": {"BOOL": True}}}, {"groups": ["x", "y"], "on": True}),
]


@pytest.mark.parametrize(("wire", "plain"), WIRE)
def test_each_wire_type_decodes_to_plain_python(wire: dict[str, Any], plain: Any) -> None:
    decoded = decode_value(wire)

    assert decoded == plain
    assert type(decoded) is type(plain)


def _as_the_cli_printed_before(value: Any) -> Any:
    """boto3's TypeDeserializer followed by the CLI's former Decimal/set conversion (its output must not change)."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, set | frozenset):
        return sorted(_as_the_cli_printed_before(v) for v in value)
    if isinstance(value, list):
        return [_as_the_cli_printed_before(v) for v in value]
    if isinstance(value, dict):
        return {k: _as_the_cli_printed_before(v) for k, v in value.items()}
    return value


@pytest.mark.parametrize(("wire", "plain"), WIRE)
def test_the_cli_sees_what_boto3s_deserializer_gave_it(wire: dict[str, Any], plain: Any) -> None:
    assert decode_value(wire) == _as_the_cli_printed_before(TypeDeserializer().deserialize(wire)) == plain


def test_what_the_cli_writes_reads_back_unchanged() -> None:
    record = {"enabled": True, "scopes": ["tableau:views:embed"], "attributes": {"region": ["emea", "apac"]}, "n": 3}
    wire = {name: TypeSerializer().serialize(value) for name, value in record.items()}

    assert decode_item(wire) == record


@pytest.mark.parametrize("wire", [{"B": b"x"}, {"BS": [b"x"]}, {"M": {"k": {"B": b"x"}}}, {"N": "NaN"}, {"N": "x"}])
def test_binary_values_and_malformed_numbers_are_configuration_errors(wire: dict[str, Any]) -> None:
    with pytest.raises(ConfigurationError):
        decode_value(wire)


def test_the_cli_store_decodes_with_the_shared_decoder() -> None:
    dynamodb = FakeDynamoDB()
    dynamodb.put_tenant("acme", {"enabled": {"BOOL": True}, "weight": {"N": "2"}, "ratio": {"N": "0.25"}})
    admin = EntitlementAdmin(dynamodb, TABLE)  # type: ignore[arg-type]

    assert admin.get("TENANT#acme") == {"pk": "TENANT#acme", "enabled": True, "weight": 2, "ratio": 0.25}
    assert admin.get("TENANT#none") is None
    assert dynamodb.calls[0]["ConsistentRead"] is True
