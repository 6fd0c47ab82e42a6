"""Find a user's Cognito ``sub`` (what the broker keys entitlements on) from what operators know.

An e-mail address goes through ListUsers with a filter, a username through AdminGetUser; a raw ``sub`` is checked
with the pool when the pool is known, and must at least be shaped like one (a UUID) when it is not.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from tableau_broker.aws import error_code
from token_broker_cli.errors import NotFound, UsageError

if TYPE_CHECKING:
    from mypy_boto3_cognito_idp import CognitoIdentityProviderClient

MAX_EMAIL_LENGTH = 254  # RFC 5321's path limit


def is_sub_shaped(value: str) -> bool:
    """Cognito subs are UUIDs in their canonical lower-case form."""
    try:
        return str(uuid.UUID(value)) == value
    except ValueError:
        return False


def _sub_of(attributes: Sequence[Mapping[str, Any]]) -> str | None:
    for attribute in attributes:
        if attribute.get("Name") == "sub":
            return str(attribute.get("Value", "")) or None
    return None


def _filter_value(kind: str, value: str) -> str:
    """ListUsers filters quote the value; refuse what would end the quote instead of escaping it."""
    if not value or len(value) > MAX_EMAIL_LENGTH or any(ch in value for ch in '"\\') or not value.isprintable():
        raise UsageError(f"{kind} must be 1-{MAX_EMAIL_LENGTH} printable characters without quotes or backslashes")
    if value != value.strip() or any(ch.isspace() for ch in value):
        raise UsageError(f"{kind} must not contain whitespace")
    return value


def _pool_errors(exc: ClientError, pool_id: str) -> None:
    if error_code(exc) == "ResourceNotFoundException":
        raise UsageError(f"no Cognito user pool {pool_id!r} (check --user-pool-id / the stack's UserPoolId)") from None


def _list_users(client: CognitoIdentityProviderClient, pool_id: str, expression: str) -> list[dict[str, Any]]:
    """At most two matches: enough to tell "one" from "several"."""
    users: list[dict[str, Any]] = []
    try:
        for page in client.get_paginator("list_users").paginate(
            UserPoolId=pool_id, Filter=expression, PaginationConfig={"PageSize": 60}
        ):
            users.extend(dict(user) for user in page.get("Users", []))
            if len(users) > 1:
                break
    except ClientError as exc:
        _pool_errors(exc, pool_id)
        raise
    return users


def sub_by_email(client: CognitoIdentityProviderClient, pool_id: str, email: str) -> tuple[str, bool]:
    """The sub of the one user with this e-mail address, and whether that user is enabled in Cognito."""
    users = _list_users(client, pool_id, f'email = "{_filter_value("--email", email)}"')
    if not users:
        raise NotFound(f"no user with e-mail address {email!r} in user pool {pool_id}")
    if len(users) > 1:
        raise UsageError(f"several users of pool {pool_id} have e-mail address {email!r}: use --username")
    sub = _sub_of(users[0].get("Attributes", []))
    if sub is None:
        raise UsageError(f"Cognito returned no sub for {email!r}")
    return sub, users[0].get("Enabled") is not False


def sub_by_username(client: CognitoIdentityProviderClient, pool_id: str, username: str) -> tuple[str, bool]:
    """The sub of the user with this Cognito username (or alias), and whether that user is enabled."""
    _filter_value("--username", username)
    try:
        user = client.admin_get_user(UserPoolId=pool_id, Username=username)
    except ClientError as exc:
        if error_code(exc) == "UserNotFoundException":
            raise NotFound(f"no user {username!r} in user pool {pool_id}") from None
        _pool_errors(exc, pool_id)
        raise
    sub = _sub_of(user.get("UserAttributes", []))
    if sub is None:
        raise UsageError(f"Cognito returned no sub for {username!r}")
    return sub, user.get("Enabled") is not False


def check_sub(client: CognitoIdentityProviderClient, pool_id: str, sub: str) -> bool:
    """Refuse a value that is not the sub of a user of the pool; return whether that user is enabled."""
    users = _list_users(client, pool_id, f'sub = "{_filter_value("SUB", sub)}"')
    if not users:
        raise UsageError(
            f"{sub!r} is not the sub of any user in pool {pool_id}; find the user with --email or --username"
        )
    return users[0].get("Enabled") is not False
