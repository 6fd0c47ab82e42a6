"""Entitlement records in DynamoDB, for operators: consistent reads, conditional writes, paginated scans.

Key scheme and record validation come from ``tableau_broker.entitlements`` and items are decoded by the broker's
own ``tableau_broker.dynamodb``, so the CLI judges a record from the values the broker sees; this module moves items.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.types import TypeSerializer
from botocore.exceptions import ClientError

from tableau_broker.aws import error_code
from tableau_broker.dynamodb import decode_item
from token_broker_cli.errors import OperationalError

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

SCAN_PAGE_SIZE = 100
UPDATED_AT = "updated_at"  # stamped on every write by the CLI (with updated_by); see Context.stamp
_serializer = TypeSerializer()


def to_dynamodb(item: Mapping[str, Any]) -> dict[str, Any]:
    return {name: _serializer.serialize(value) for name, value in item.items()}


class ConcurrentChange(OperationalError):
    def __init__(self, what: str) -> None:
        super().__init__(f"{what} changed while this command ran; check it and run the command again")


class EntitlementAdmin:
    def __init__(self, client: DynamoDBClient, table: str) -> None:
        self.client = client
        self.table = table

    def get(self, key: str) -> dict[str, Any] | None:
        response = self.client.get_item(TableName=self.table, Key={"pk": {"S": key}}, ConsistentRead=True)
        raw = response.get("Item")
        return None if raw is None else decode_item(raw)

    def put(self, key: str, item: Mapping[str, Any], *, seen: Mapping[str, Any] | None) -> None:
        """Write the whole record, merged by the caller from ``seen`` (the record it read, ``None`` for a new one).

        Refused when the stored record is no longer ``seen``: every CLI write stamps ``updated_at``, so a record
        rewritten in the meantime no longer matches and its fields are never silently overwritten.
        """
        args: dict[str, Any] = {"TableName": self.table, "Item": to_dynamodb({**item, "pk": key})}
        if seen is None:
            args["ConditionExpression"] = "attribute_not_exists(pk)"
        elif isinstance(seen.get(UPDATED_AT), str):
            args["ConditionExpression"] = "attribute_exists(pk) AND #updated = :seen"
            args["ExpressionAttributeNames"] = {"#updated": UPDATED_AT}
            args["ExpressionAttributeValues"] = {":seen": {"S": seen[UPDATED_AT]}}
        else:
            args["ConditionExpression"] = "attribute_exists(pk) AND attribute_not_exists(#updated)"
            args["ExpressionAttributeNames"] = {"#updated": UPDATED_AT}
        try:
            self.client.put_item(**args)
        except ClientError as exc:
            if error_code(exc) == "ConditionalCheckFailedException":
                raise ConcurrentChange(f"record {key}") from None
            raise

    def put_guarded(self, key: str, item: Mapping[str, Any], *, guard_key: str, same: Mapping[str, str]) -> None:
        """Write ``item`` only while ``guard_key`` exists and the stored record (if any) keeps ``same`` values."""
        condition = "attribute_not_exists(pk)"
        values: dict[str, Any] = {}
        names: dict[str, str] = {}
        if same:
            clauses = []
            for index, (name, value) in enumerate(same.items()):
                names[f"#f{index}"] = name
                values[f":v{index}"] = {"S": value}
                clauses.append(f"#f{index} = :v{index}")
            condition = f"attribute_not_exists(pk) OR ({' AND '.join(clauses)})"
        put: dict[str, Any] = {
            "TableName": self.table,
            "Item": to_dynamodb({**item, "pk": key}),
            "ConditionExpression": condition,
        }
        if values:
            put["ExpressionAttributeValues"] = values
            put["ExpressionAttributeNames"] = names
        items: list[Any] = [
            {
                "ConditionCheck": {
                    "TableName": self.table,
                    "Key": {"pk": {"S": guard_key}},
                    "ConditionExpression": "attribute_exists(pk)",
                }
            },
            {"Put": put},
        ]
        try:
            self.client.transact_write_items(TransactItems=items)
        except ClientError as exc:
            if error_code(exc) == "TransactionCanceledException":
                raise ConcurrentChange(f"record {guard_key} or {key}") from None
            raise

    def set_fields(self, key: str, fields: Mapping[str, Any]) -> dict[str, Any] | None:
        """Set ``fields`` on an existing record, leaving the others; ``None`` when there is no such record."""
        names = {f"#f{index}": name for index, name in enumerate(fields)}
        values = {f":v{index}": _serializer.serialize(value) for index, value in enumerate(fields.values())}
        try:
            response = self.client.update_item(
                TableName=self.table,
                Key={"pk": {"S": key}},
                UpdateExpression="SET " + ", ".join(f"#f{index} = :v{index}" for index in range(len(fields))),
                ConditionExpression="attribute_exists(pk)",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
                ReturnValues="ALL_NEW",
            )
        except ClientError as exc:
            if error_code(exc) == "ConditionalCheckFailedException":
                return None
            raise
        return decode_item(response.get("Attributes", {}))

    def delete(self, key: str) -> dict[str, Any] | None:
        """Delete an existing record and return it; ``None`` when there was none."""
        try:
            response = self.client.delete_item(
                TableName=self.table,
                Key={"pk": {"S": key}},
                ConditionExpression="attribute_exists(pk)",
                ReturnValues="ALL_OLD",
            )
        except ClientError as exc:
            if error_code(exc) == "ConditionalCheckFailedException":
                return None
            raise
        return decode_item(response.get("Attributes", {}))

    def scan(self, prefix: str, *, equals: Mapping[str, str] | None = None) -> Iterator[tuple[str, dict[str, Any]]]:
        """Every record whose key starts with ``prefix`` (and whose fields equal ``equals``), all pages."""
        condition = "begins_with(pk, :prefix)"
        values: dict[str, Any] = {":prefix": {"S": prefix}}
        names: dict[str, str] = {}
        for index, (name, value) in enumerate((equals or {}).items()):
            names[f"#f{index}"] = name
            values[f":v{index}"] = {"S": value}
            condition += f" AND #f{index} = :v{index}"
        args: dict[str, Any] = {
            "TableName": self.table,
            "FilterExpression": condition,
            "ExpressionAttributeValues": values,
            "ConsistentRead": True,
            "PaginationConfig": {"PageSize": SCAN_PAGE_SIZE},
        }
        if names:
            args["ExpressionAttributeNames"] = names
        for page in self.client.get_paginator("scan").paginate(**args):
            for raw in page.get("Items", []):
                item = decode_item(raw)
                key = str(item.pop("pk"))
                yield key.removeprefix(prefix), item
