"""The emulator's record types: read-only views handed out by :class:`EmulatorState`, sessions and sign-ins."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

MAX_SECRETS_PER_APP: Final = 2

#: Site roles that may manage connected apps through the REST API.
SITE_ADMIN_ROLES: Final = frozenset(
    {"SiteAdministratorCreator", "SiteAdministratorExplorer", "SiteAdministrator", "ServerAdministrator"}
)


def utc_iso(ts: float) -> str:
    """``2025-01-31T12:34:56Z`` for a POSIX timestamp."""
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def new_secret_value() -> str:
    """A random URL-safe secret value of 44 characters (33 random bytes)."""
    return secrets.token_urlsafe(33)


@dataclass(frozen=True)
class DemoRow:
    """One row of the demo dataset behind the ``TenantSales/Orders`` view."""

    order_id: str
    tenant: str
    product: str
    amount: float


def default_demo_rows() -> list[DemoRow]:
    """A few orders for each of the tenants ``acme``, ``globex`` and ``initech``."""
    return [
        DemoRow("A-1001", "acme", "Anvil", 120.00),
        DemoRow("A-1002", "acme", "Rocket skates", 349.50),
        DemoRow("A-1003", "acme", "Giant magnet", 75.25),
        DemoRow("G-2001", "globex", "Hammock", 89.99),
        DemoRow("G-2002", "globex", "Doomsday device", 1000000.00),
        DemoRow("I-3001", "initech", "TPS report cover", 4.99),
        DemoRow("I-3002", "initech", "Red stapler", 19.95),
        DemoRow("I-3003", "initech", "Printer", 499.00),
        DemoRow("I-3004", "initech", "Flair", 0.37),
    ]


#: Workbook -> views served by every site (names as they appear in ``/views/<workbook>/<view>``).
DEFAULT_WORKBOOKS: Final[Mapping[str, tuple[str, ...]]] = {"TenantSales": ("Orders",)}


@dataclass(frozen=True)
class SecretInfo:
    """A connected-app secret as returned when it is created (the only time the value is visible)."""

    id: str
    value: str
    created_at: str


@dataclass(frozen=True)
class ConnectedAppInfo:
    """What :meth:`EmulatorState.add_connected_app` returns."""

    client_id: str
    name: str
    secrets: tuple[SecretInfo, ...]


@dataclass(frozen=True)
class UserInfo:
    id: str
    name: str
    site_role: str


@dataclass(frozen=True)
class SiteView:
    """A read-only copy of a site's configuration (no secrets)."""

    id: str
    content_url: str
    name: str
    max_jwt_lifetime_minutes: int
    on_demand_access: bool
    tenant_attribute: str
    user_attributes_enabled: bool
    accept_metrics_embed_scope: bool
    rows: tuple[DemoRow, ...]
    workbooks: Mapping[str, tuple[str, ...]]


@dataclass(frozen=True)
class AppView:
    """A read-only copy of a connected app, including secret values (for the validator only)."""

    client_id: str
    name: str
    enabled: bool
    domain_allowlist: tuple[str, ...]
    secrets: tuple[SecretInfo, ...]


@dataclass(frozen=True)
class SigninRecord:
    """One accepted sign-in (embed or REST), kept for tests. Never holds a token or secret value."""

    kind: str  # "embed" | "rest-jwt" | "rest-pat"
    site: str  # content URL
    username: str
    attributes: Mapping[str, Any]
    jti: str | None
    kid: str | None
    client_id: str | None
    scopes: tuple[str, ...]
    on_demand_access: bool
    groups: tuple[str, ...]
    origin: str | None
    at: float

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "site": self.site,
            "username": self.username,
            "attributes": dict(self.attributes),
            "jti": self.jti,
            "kid": self.kid,
            "clientId": self.client_id,
            "scopes": list(self.scopes),
            "onDemandAccess": self.on_demand_access,
            "groups": list(self.groups),
            "origin": self.origin,
            "at": utc_iso(self.at),
        }


@dataclass(frozen=True)
class EmbedSession:
    """The server-side session behind a ``workgroup_session_id`` cookie."""

    id: str
    site_id: str
    site_content_url: str
    user_id: str
    username: str
    site_role: str
    attributes: Mapping[str, Any]
    client_id: str
    on_demand_access: bool
    groups: tuple[str, ...]
    created_at: float


@dataclass(frozen=True)
class RestSession:
    """A REST API session (the ``X-Tableau-Auth`` token)."""

    token: str
    site_id: str
    site_content_url: str
    user_id: str
    username: str
    site_role: str
    via: str  # "pat" | "jwt"
    pat_name: str | None
    expires_at: float

    @property
    def is_site_admin(self) -> bool:
        return self.site_role in SITE_ADMIN_ROLES
