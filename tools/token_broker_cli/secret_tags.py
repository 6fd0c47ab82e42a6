"""Who stored a secret's current value, and when: tags on the secret (its JSON has a fixed shape, no room)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from tableau_broker.aws import error_code
from token_broker_cli.context import Context

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager import SecretsManagerClient
    from mypy_boto3_secretsmanager.type_defs import TagTypeDef

TAG_UPDATED_AT = "token-broker:updated-at"
TAG_UPDATED_BY = "token-broker:updated-by"


def tag_writer(ctx: Context, client: SecretsManagerClient, arn: str) -> None:
    """Tag the secret with the writer; the value is already stored, so a refused tag is a warning, not a failure."""
    stamp = ctx.stamp("updated")
    tags: list[TagTypeDef] = [
        {"Key": TAG_UPDATED_AT, "Value": stamp["updated_at"]},
        {"Key": TAG_UPDATED_BY, "Value": stamp["updated_by"]},
    ]
    try:
        client.tag_resource(SecretId=arn, Tags=tags)
    except ClientError as exc:
        ctx.warn(f"stored, but could not tag the secret with who stored it: {error_code(exc)}")
