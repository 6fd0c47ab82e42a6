"""Entitlements: which Tableau user, tenant (the entitlement key), scopes and attributes a caller gets.

One DynamoDB table, partition key ``pk`` (string), two item kinds:

* ``USER#<cognito sub>`` - ``tableau_username``, ``tenant_id``, ``enabled``, optional ``scopes`` (narrows the
  tenant's) and ``attributes``.
* ``TENANT#<tenant id>`` - ``enabled``, ``tableau_url``, ``site``, ``connected_app_secret`` (ARN or name),
  ``scopes`` (allowed), ``attributes`` (tenant-wide), optional ``on_demand_access`` ``{enabled, groups}``.

Lookups are keyed on the immutable Cognito ``sub`` and read strongly consistent. A user's revocation applies to
the very next request; a tenant's within the tenant cache's bound (``tableau_broker.tenant_cache``; 0 = every
request reads both records).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple

from tableau_broker.dynamodb import decode_item
from tableau_broker.errors import ConfigurationError, NotEntitled
from tableau_broker.tableau_jwt import AttributeValue, OnDemandAccess, check_attribute_name, normalise_attribute_value
from tableau_broker.urls import tableau_url_problem

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

    from tableau_broker.tenant_cache import TenantCache

USER_PREFIX = "USER#"
TENANT_PREFIX = "TENANT#"


def user_key(sub: str) -> str:
    return f"{USER_PREFIX}{sub}"


def tenant_key(tenant_id: str) -> str:
    return f"{TENANT_PREFIX}{tenant_id}"


# Immutable and built on every request: a NamedTuple costs a fifth of a frozen dataclass.
class UserRecord(NamedTuple):
    sub: str
    tableau_username: str
    tenant_id: str
    enabled: bool
    scopes: tuple[str, ...] | None
    attributes: dict[str, AttributeValue]


@dataclass(frozen=True)
class TenantRecord:
    tenant_id: str
    enabled: bool
    tableau_url: str
    site: str
    connected_app_secret: str | None
    scopes: tuple[str, ...]
    attributes: dict[str, AttributeValue] = field(default_factory=dict)
    on_demand_access: OnDemandAccess | None = None


# Immutable and built on every request: a NamedTuple costs a fifth of a frozen dataclass.
class Entitlement(NamedTuple):
    """Everything the token is built from. ``tenant_id`` is the entitlement key the workbook filters on."""

    sub: str
    tenant_id: str
    tableau_username: str
    tableau_url: str
    site: str
    connected_app_secret: str | None
    allowed_scopes: tuple[str, ...]
    attributes: dict[str, AttributeValue]
    on_demand_access: OnDemandAccess | None


# --- DynamoDB low-level attribute values -> plain Python (tableau_broker.dynamodb, shared with the CLI) -----


def _item(raw: Mapping[str, Any] | None) -> dict[str, Any] | None:
    return None if raw is None else decode_item(raw)


def _string(item: Mapping[str, Any], name: str, kind: str) -> str:
    value = item.get(name)
    if not isinstance(value, str) or not value.strip():
        raise ConfigurationError(f"{kind} record lacks a non-empty string '{name}'")
    return value.strip()


def _scopes(item: Mapping[str, Any], kind: str) -> tuple[str, ...] | None:
    value = item.get("scopes")
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(s, str) for s in value):
        raise ConfigurationError(f"{kind} record 'scopes' is not a list of strings")
    return tuple(value)


def _attributes(item: Mapping[str, Any], kind: str) -> dict[str, AttributeValue]:
    value = item.get("attributes") or {}
    if not isinstance(value, dict):
        raise ConfigurationError(f"{kind} record 'attributes' is not a map")
    attributes: dict[str, AttributeValue] = {}
    for name, attr in value.items():
        check_attribute_name(name)
        attributes[name] = normalise_attribute_value(name, attr)
    return attributes


def _enabled(item: Mapping[str, Any]) -> bool:
    # Only an explicit boolean true enables: a missing or mistyped flag fails closed.
    return item.get("enabled") is True


def parse_user(sub: str, item: Mapping[str, Any]) -> UserRecord:
    return UserRecord(
        sub=sub,
        tableau_username=_string(item, "tableau_username", "user"),
        tenant_id=_string(item, "tenant_id", "user"),
        enabled=_enabled(item),
        scopes=_scopes(item, "user"),
        attributes=_attributes(item, "user"),
    )


def parse_tenant(tenant_id: str, item: Mapping[str, Any]) -> TenantRecord:
    oda_raw = item.get("on_demand_access")
    oda: OnDemandAccess | None = None
    if isinstance(oda_raw, dict) and oda_raw.get("enabled") is True:
        groups = oda_raw.get("groups") or []
        if not isinstance(groups, list) or not all(isinstance(g, str) and g for g in groups):
            raise ConfigurationError("tenant record 'on_demand_access.groups' is not a list of strings")
        oda = OnDemandAccess(groups=tuple(groups))
    elif oda_raw is not None and not isinstance(oda_raw, dict):
        raise ConfigurationError("tenant record 'on_demand_access' is not a map")
    secret = item.get("connected_app_secret")
    if secret is not None and (not isinstance(secret, str) or not secret.strip()):
        raise ConfigurationError("tenant record 'connected_app_secret' is not a non-empty string")
    tableau_url = _string(item, "tableau_url", "tenant").rstrip("/")
    problem = tableau_url_problem(tableau_url)
    if problem is not None:
        raise ConfigurationError(f"tenant record 'tableau_url' {problem}")
    site = item.get("site", "")
    if not isinstance(site, str):
        raise ConfigurationError("tenant record 'site' is not a string")
    return TenantRecord(
        tenant_id=tenant_id,
        enabled=_enabled(item),
        tableau_url=tableau_url,
        site=site.strip(),
        connected_app_secret=secret.strip() if isinstance(secret, str) else None,
        scopes=_scopes(item, "tenant") or (),
        attributes=_attributes(item, "tenant"),
        on_demand_access=oda,
    )


def shadows_tenant_attribute(attributes: Mapping[str, object], tenant_attribute: str) -> bool:
    """Whether any attribute name equals the tenant attribute's name, ignoring case."""
    folded = tenant_attribute.casefold()
    return any(name.casefold() == folded for name in attributes)


def combine(user: UserRecord, tenant: TenantRecord, *, tenant_attribute: str) -> Entitlement:
    """The entitlement for one caller. Fails closed on anything disabled or inconsistent."""
    if not user.enabled:
        raise NotEntitled("user_disabled")
    if not tenant.enabled:
        raise NotEntitled("tenant_disabled")
    if user.tenant_id != tenant.tenant_id:
        raise ConfigurationError("user and tenant records disagree")
    allowed = tenant.scopes if user.scopes is None else tuple(s for s in tenant.scopes if s in user.scopes)
    attributes: dict[str, AttributeValue] = {**tenant.attributes, **user.attributes}
    if shadows_tenant_attribute(attributes, tenant_attribute):
        # The entitlement key comes from the tenant record only. A stored attribute that names it in any case
        # ("Tenant", "TENANT") would put a second tenant value into the token beside the real one.
        raise ConfigurationError("a stored attribute shadows the tenant attribute")
    attributes[tenant_attribute] = tenant.tenant_id
    return Entitlement(
        sub=user.sub,
        tenant_id=tenant.tenant_id,
        tableau_username=user.tableau_username,
        tableau_url=tenant.tableau_url,
        site=tenant.site,
        connected_app_secret=tenant.connected_app_secret,
        allowed_scopes=allowed,
        attributes=attributes,
        on_demand_access=tenant.on_demand_access,
    )


class EntitlementStore:
    """Reads user and tenant records with GetItem (the only permission the broker has on the table): the user's
    always, the tenant's when ``tenant_cache`` has no fresh copy."""

    def __init__(self, client: DynamoDBClient, table_name: str, tenant_cache: TenantCache | None = None) -> None:
        self._client = client
        self._table = table_name
        self._tenants = tenant_cache

    def _get(self, key: str) -> dict[str, Any] | None:
        response = self._client.get_item(TableName=self._table, Key={"pk": {"S": key}}, ConsistentRead=True)
        return _item(response.get("Item"))

    def resolve(self, sub: str, *, tenant_attribute: str) -> Entitlement:
        user_item = self._get(user_key(sub))
        if user_item is None:
            raise NotEntitled("unknown_user")
        user = parse_user(sub, user_item)
        if not user.enabled:
            raise NotEntitled("user_disabled")
        return combine(user, self._tenant(user.tenant_id), tenant_attribute=tenant_attribute)

    def _tenant(self, tenant_id: str) -> TenantRecord:
        if self._tenants is None:
            return self._read_tenant(tenant_id)
        cached = self._tenants.get(tenant_id)
        if cached is not None:
            return cached
        read_at = self._tenants.now()
        tenant = self._read_tenant(tenant_id)
        self._tenants.put(tenant, read_at=read_at)
        return tenant

    def _read_tenant(self, tenant_id: str) -> TenantRecord:
        tenant_item = self._get(tenant_key(tenant_id))
        if tenant_item is None:
            raise NotEntitled("unknown_tenant")
        return parse_tenant(tenant_id, tenant_item)
