"""DynamoDB's low-level attribute values as plain Python: the one decoder for the broker and the operator CLI.

Numbers become ``int`` (integral) or ``float``, never their decimal text, so a number stored where the record
rules want a string (a user attribute, a username, a scope) fails those rules instead of passing as text.
String and number sets become sorted lists. Binary values have no meaning in an entitlement record: they are a
configuration error.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from tableau_broker.errors import ConfigurationError


def _number(raw: str) -> int | float:
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise ConfigurationError("malformed DynamoDB number") from None
    if not value.is_finite():
        raise ConfigurationError("malformed DynamoDB number")
    return int(value) if value == value.to_integral_value() else float(value)


def decode_value(value: Mapping[str, Any]) -> Any:
    """One attribute value (``{"S": "x"}``, ``{"N": "5"}``, ``{"M": {...}}``, ...) as plain Python."""
    (kind, raw), *_ = value.items()
    if kind == "S":
        return raw
    if kind == "N":
        return _number(raw)
    if kind == "BOOL":
        return bool(raw)
    if kind == "NULL":
        return None
    if kind == "SS":
        return sorted(raw)
    if kind == "NS":
        return sorted(_number(item) for item in raw)
    if kind == "L":
        return [decode_value(item) for item in raw]
    if kind == "M":
        return {name: decode_value(item) for name, item in raw.items()}
    raise ConfigurationError(f"unsupported DynamoDB attribute type {kind}")


def decode_item(raw: Mapping[str, Any]) -> dict[str, Any]:
    """A whole item, as GetItem, Scan, UpdateItem or DeleteItem return it."""
    return {name: decode_value(value) for name, value in raw.items()}
