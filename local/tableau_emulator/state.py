"""In-memory, thread-safe state of the Tableau emulator.

Everything the emulator knows lives in one :class:`EmulatorState`: sites, users, personal access tokens,
connected apps and their secrets, the demo dataset, sign-in sessions, consumed ``jti`` values, a bounded log
of accepted sign-ins and injected faults. All access goes through one re-entrant lock, so a state can be
shared between the HTTP server threads and the test (or local stack) that seeds and inspects it.

Sites are addressed by their *content URL* (the ``<site>`` in ``/t/<site>/``; ``""`` is the Default site)
or by their site id (a UUID) wherever a ``site`` argument is taken.
"""

from __future__ import annotations

import dataclasses
import hmac
import re
import secrets
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

MAX_SECRETS_PER_APP: Final = 2
DEFAULT_MAX_JWT_LIFETIME_MINUTES: Final = 10
DEFAULT_TENANT_ATTRIBUTE: Final = "tenant"
DEFAULT_REST_TOKEN_TTL_SECONDS: Final = 240 * 60
DEFAULT_MAX_SIGNIN_RECORDS: Final = 500

#: Site roles that may manage connected apps through the REST API.
SITE_ADMIN_ROLES: Final = frozenset(
    {"SiteAdministratorCreator", "SiteAdministratorExplorer", "SiteAdministrator", "ServerAdministrator"}
)

#: Operations that can be made to fail with :meth:`EmulatorState.inject_fault`.
FAULT_OPERATIONS: Final = frozenset(
    {
        "embed_signin",
        "view",
        "rest_signin",
        "rest_signout",
        "list_apps",
        "get_app",
        "create_secret",
        "get_secret",
        "delete_secret",
    }
)

#: Fault kinds and the HTTP status each produces. ``server_error_after_commit`` performs the operation
#: and *then* answers 500 (an ambiguous failure: e.g. the secret was created but the caller never saw it).
FAULT_KINDS: Final[Mapping[str, int]] = {
    "unavailable": 503,
    "unauthorized": 401,
    "forbidden": 403,
    "not_found": 404,
    "rate_limited": 429,
    "server_error": 500,
    "server_error_after_commit": 500,
}

_DOMAIN_PATTERN = re.compile(
    r"^(?:(?P<scheme>https?)://)?(?P<wild>\*\.)?(?P<host>[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*)"
    r"(?::(?P<port>\d{1,5}|\*))?/?$",
    re.IGNORECASE,
)


class EmulatorError(Exception):
    """A seeding or management call was refused. ``code`` is the Tableau error code, when one applies."""

    def __init__(self, message: str, code: int | None = None) -> None:
        super().__init__(message)
        self.code = code


class NotFoundError(EmulatorError):
    """The site, user, connected app or secret does not exist."""


class SecretLimitExceededError(EmulatorError):
    """A connected app already holds two secrets (Tableau error 128)."""

    def __init__(self, message: str = "Connected app already has the maximum of two secrets") -> None:
        super().__init__(message, code=128)


class InvalidDomainAllowlistError(EmulatorError):
    """A domain allowlist entry contains invalid characters (Tableau error 133)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, code=133)


def utc_iso(ts: float) -> str:
    """``2025-01-31T12:34:56Z`` for a POSIX timestamp."""
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def new_secret_value() -> str:
    """A random URL-safe secret value of 44 characters (33 random bytes)."""
    return secrets.token_urlsafe(33)


# --------------------------------------------------------------------------------------------- records


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


@dataclass
class _Secret:
    id: str
    value: str
    created_at: float


@dataclass
class _ConnectedApp:
    client_id: str
    name: str
    enabled: bool
    domain_allowlist: list[str]
    secrets: list[_Secret] = field(default_factory=list)


@dataclass(frozen=True)
class UserInfo:
    id: str
    name: str
    site_role: str


@dataclass
class _Pat:
    name: str
    secret: str
    user_id: str


@dataclass
class _Site:
    id: str
    content_url: str
    name: str
    max_jwt_lifetime_minutes: int
    on_demand_access: bool
    tenant_attribute: str
    user_attributes_enabled: bool
    accept_metrics_embed_scope: bool
    rows: list[DemoRow]
    workbooks: dict[str, tuple[str, ...]]
    users: dict[str, UserInfo] = field(default_factory=dict)  # by username (case-sensitive)
    pats: dict[str, _Pat] = field(default_factory=dict)  # by token name
    apps: dict[str, _ConnectedApp] = field(default_factory=dict)  # by client id


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


@dataclass
class _Fault:
    kind: str
    remaining: int | None  # None: until cleared


# ------------------------------------------------------------------------------------ allowlist helpers


def validate_domain_pattern(pattern: str) -> str:
    """Return the pattern normalised (lower case) or raise :class:`InvalidDomainAllowlistError` (133).

    Accepted forms: ``host``, ``*.domain``, optionally with ``http://``/``https://`` and ``:port``/``:*``.
    """
    if not isinstance(pattern, str) or not _DOMAIN_PATTERN.match(pattern.strip()):
        raise InvalidDomainAllowlistError(f"invalid domain allowlist entry: {pattern!r}")
    return pattern.strip().lower().rstrip("/")


def origin_matches(pattern: str, origin: str) -> bool:
    """Whether a browser ``Origin`` (``scheme://host[:port]``) matches one allowlist pattern."""
    from urllib.parse import urlsplit

    m = _DOMAIN_PATTERN.match(pattern)
    if m is None:
        return False
    try:
        parts = urlsplit(origin)
        host = (parts.hostname or "").lower()
        port = parts.port
    except ValueError:
        return False
    if parts.scheme not in ("http", "https") or not host:
        return False
    if m.group("scheme") and m.group("scheme").lower() != parts.scheme:
        return False
    want_port = m.group("port")
    if want_port and want_port != "*":
        effective = port if port is not None else (443 if parts.scheme == "https" else 80)
        if int(want_port) != effective:
            return False
    base = m.group("host").lower()
    if m.group("wild"):
        return host.endswith("." + base)
    return host == base


def origin_allowed(allowlist: Sequence[str], origin: str | None) -> bool:
    """Empty allowlist: every origin. Otherwise the origin must be present and match one pattern."""
    if not allowlist:
        return True
    if not origin:
        return False
    return any(origin_matches(p, origin) for p in allowlist)


def frame_ancestors(allowlist: Sequence[str]) -> str:
    """A CSP ``frame-ancestors`` source list equivalent to the allowlist (any port unless one is given)."""
    if not allowlist:
        return "*"
    sources = ["'self'"]
    for pattern in allowlist:
        m = _DOMAIN_PATTERN.match(pattern)
        if m is None:
            continue
        src = (m.group("scheme") + "://" if m.group("scheme") else "") + (m.group("wild") or "") + m.group("host")
        src += ":" + (m.group("port") or "*")
        sources.append(src)
    return " ".join(sources)


# ------------------------------------------------------------------------------------------ the state


class EmulatorState:
    """All emulator state behind one lock. Safe to share between threads.

    ``clock`` returns POSIX seconds; tests may replace it (``state.clock = lambda: 1_700_000_000.0``).
    """

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.time,
        max_signin_records: int = DEFAULT_MAX_SIGNIN_RECORDS,
        rest_token_ttl_seconds: int = DEFAULT_REST_TOKEN_TTL_SECONDS,
    ) -> None:
        self.lock = threading.RLock()
        self.clock = clock
        self.rest_token_ttl_seconds = rest_token_ttl_seconds
        self._sites: dict[str, _Site] = {}  # by content URL
        self._faults: dict[str, _Fault] = {}
        self._jtis: dict[tuple[str, str], float] = {}  # (client id, jti) -> exp
        self._embed_sessions: dict[str, EmbedSession] = {}
        self._rest_sessions: dict[str, RestSession] = {}
        self._signins: deque[SigninRecord] = deque(maxlen=max_signin_records)

    # ---------------------------------------------------------------- lookups (lock held by the caller)

    def _site(self, site: str) -> _Site:
        found = self._sites.get(site)
        if found is None:
            found = next((s for s in self._sites.values() if s.id == site), None)
        if found is None:
            raise NotFoundError(f"site not found: {site!r}")
        return found

    def _app(self, site: str, client_id: str) -> _ConnectedApp:
        app = self._site(site).apps.get(client_id)
        if app is None:
            raise NotFoundError(f"connected app not found: {client_id!r}")
        return app

    # ----------------------------------------------------------------------------------- seeding API

    def add_site(
        self,
        content_url: str,
        *,
        site_id: str | None = None,
        name: str | None = None,
        max_jwt_lifetime_minutes: int = DEFAULT_MAX_JWT_LIFETIME_MINUTES,
        on_demand_access: bool = False,
        tenant_attribute: str = DEFAULT_TENANT_ATTRIBUTE,
        user_attributes_enabled: bool = True,
        accept_metrics_embed_scope: bool = False,
        rows: Iterable[DemoRow] | None = None,
        workbooks: Mapping[str, Sequence[str]] | None = None,
    ) -> str:
        """Create a site; returns its site id. ``content_url`` ``""`` is the Default site."""
        with self.lock:
            if content_url in self._sites:
                raise EmulatorError(f"site already exists: {content_url!r}")
            sid = site_id or str(uuid.uuid4())
            if any(s.id == sid for s in self._sites.values()):
                raise EmulatorError(f"site id already in use: {sid}")
            self._sites[content_url] = _Site(
                id=sid,
                content_url=content_url,
                name=name or content_url or "Default",
                max_jwt_lifetime_minutes=max_jwt_lifetime_minutes,
                on_demand_access=on_demand_access,
                tenant_attribute=tenant_attribute,
                user_attributes_enabled=user_attributes_enabled,
                accept_metrics_embed_scope=accept_metrics_embed_scope,
                rows=list(rows) if rows is not None else default_demo_rows(),
                workbooks={k: tuple(v) for k, v in (workbooks or DEFAULT_WORKBOOKS).items()},
            )
            return sid

    def configure_site(
        self,
        site: str,
        *,
        max_jwt_lifetime_minutes: int | None = None,
        on_demand_access: bool | None = None,
        tenant_attribute: str | None = None,
        user_attributes_enabled: bool | None = None,
        accept_metrics_embed_scope: bool | None = None,
        rows: Iterable[DemoRow] | None = None,
    ) -> None:
        """Change site settings after creation (``None`` leaves a setting unchanged)."""
        with self.lock:
            s = self._site(site)
            if max_jwt_lifetime_minutes is not None:
                s.max_jwt_lifetime_minutes = max_jwt_lifetime_minutes
            if on_demand_access is not None:
                s.on_demand_access = on_demand_access
            if tenant_attribute is not None:
                s.tenant_attribute = tenant_attribute
            if user_attributes_enabled is not None:
                s.user_attributes_enabled = user_attributes_enabled
            if accept_metrics_embed_scope is not None:
                s.accept_metrics_embed_scope = accept_metrics_embed_scope
            if rows is not None:
                s.rows = list(rows)

    def add_user(self, site: str, username: str, site_role: str = "Viewer", *, user_id: str | None = None) -> str:
        """Add a Tableau user (username is case-sensitive); returns the user id."""
        with self.lock:
            s = self._site(site)
            if username in s.users:
                raise EmulatorError(f"user already exists: {username!r}")
            uid = user_id or str(uuid.uuid4())
            s.users[username] = UserInfo(id=uid, name=username, site_role=site_role)
            return uid

    def remove_user(self, site: str, username: str) -> None:
        with self.lock:
            s = self._site(site)
            if s.users.pop(username, None) is None:
                raise NotFoundError(f"user not found: {username!r}")

    def add_pat(self, site: str, username: str, name: str, secret: str | None = None) -> str:
        """Give ``username`` a personal access token called ``name``; returns the PAT secret."""
        with self.lock:
            s = self._site(site)
            user = s.users.get(username)
            if user is None:
                raise NotFoundError(f"user not found: {username!r}")
            if name in s.pats:
                raise EmulatorError(f"personal access token already exists: {name!r}")
            value = secret or secrets.token_urlsafe(24)
            s.pats[name] = _Pat(name=name, secret=value, user_id=user.id)
            return value

    def add_connected_app(
        self,
        site: str,
        name: str = "connected-app",
        *,
        client_id: str | None = None,
        enabled: bool = True,
        domain_allowlist: Sequence[str] | None = None,
        secrets: Sequence[tuple[str, str]] | None = None,
    ) -> ConnectedAppInfo:
        """Create a Direct Trust connected app.

        ``secrets``: ``None`` generates one secret; otherwise the given ``(secret id, value)`` pairs (0-2).
        ``domain_allowlist``: ``None``/empty allows every domain.
        """
        with self.lock:
            s = self._site(site)
            cid = client_id or str(uuid.uuid4())
            if cid in s.apps:
                raise EmulatorError(f"connected app already exists: {cid}")
            allow = [validate_domain_pattern(p) for p in (domain_allowlist or [])]
            if secrets is not None and len(secrets) > MAX_SECRETS_PER_APP:
                raise SecretLimitExceededError()
            s.apps[cid] = _ConnectedApp(client_id=cid, name=name, enabled=enabled, domain_allowlist=allow)
            created: list[SecretInfo] = []
            if secrets is None:
                created.append(self.add_secret(s.content_url, cid))
            else:
                for sec_id, value in secrets:
                    created.append(self.add_secret(s.content_url, cid, secret_id=sec_id, value=value))
            return ConnectedAppInfo(client_id=cid, name=name, secrets=tuple(created))

    def set_app_enabled(self, site: str, client_id: str, enabled: bool) -> None:
        with self.lock:
            self._app(site, client_id).enabled = enabled

    def set_domain_allowlist(self, site: str, client_id: str, domain_allowlist: Sequence[str] | None) -> None:
        with self.lock:
            allow = [validate_domain_pattern(p) for p in (domain_allowlist or [])]
            self._app(site, client_id).domain_allowlist = allow

    def add_secret(
        self,
        site: str,
        client_id: str,
        *,
        secret_id: str | None = None,
        value: str | None = None,
        created_at: float | None = None,
    ) -> SecretInfo:
        """Add a secret to a connected app (raises :class:`SecretLimitExceededError` for a third)."""
        with self.lock:
            app = self._app(site, client_id)
            if len(app.secrets) >= MAX_SECRETS_PER_APP:
                raise SecretLimitExceededError()
            sid = secret_id or str(uuid.uuid4())
            if any(x.id == sid for x in app.secrets):
                raise EmulatorError(f"secret id already in use: {sid}")
            sec = _Secret(id=sid, value=value or new_secret_value(), created_at=created_at or self.clock())
            app.secrets.append(sec)
            return SecretInfo(id=sec.id, value=sec.value, created_at=utc_iso(sec.created_at))

    def delete_secret(self, site: str, client_id: str, secret_id: str) -> None:
        with self.lock:
            app = self._app(site, client_id)
            before = len(app.secrets)
            app.secrets = [x for x in app.secrets if x.id != secret_id]
            if len(app.secrets) == before:
                raise NotFoundError(f"secret not found: {secret_id!r}")

    def secret_ids(self, site: str, client_id: str) -> list[str]:
        with self.lock:
            return [x.id for x in self._app(site, client_id).secrets]

    # --------------------------------------------------------------------------------- read access

    def site_view(self, site: str) -> SiteView:
        with self.lock:
            s = self._site(site)
            return SiteView(
                id=s.id,
                content_url=s.content_url,
                name=s.name,
                max_jwt_lifetime_minutes=s.max_jwt_lifetime_minutes,
                on_demand_access=s.on_demand_access,
                tenant_attribute=s.tenant_attribute,
                user_attributes_enabled=s.user_attributes_enabled,
                accept_metrics_embed_scope=s.accept_metrics_embed_scope,
                rows=tuple(s.rows),
                workbooks=dict(s.workbooks),
            )

    def find_site(self, site: str) -> SiteView | None:
        with self.lock:
            try:
                return self.site_view(site)
            except NotFoundError:
                return None

    def app_view(self, site: str, client_id: str) -> AppView:
        with self.lock:
            app = self._app(site, client_id)
            return AppView(
                client_id=app.client_id,
                name=app.name,
                enabled=app.enabled,
                domain_allowlist=tuple(app.domain_allowlist),
                secrets=tuple(SecretInfo(x.id, x.value, utc_iso(x.created_at)) for x in app.secrets),
            )

    def list_apps(self, site: str) -> list[AppView]:
        with self.lock:
            s = self._site(site)
            return [self.app_view(s.content_url, cid) for cid in s.apps]

    def user(self, site: str, username: str) -> UserInfo | None:
        with self.lock:
            return self._site(site).users.get(username)

    def snapshot(self) -> dict[str, Any]:
        """JSON-ready picture of the state. Never contains a secret value, PAT secret or token."""
        with self.lock:
            sites = []
            for s in self._sites.values():
                sites.append(
                    {
                        "id": s.id,
                        "contentUrl": s.content_url,
                        "name": s.name,
                        "maxJwtLifetimeMinutes": s.max_jwt_lifetime_minutes,
                        "onDemandAccess": s.on_demand_access,
                        "tenantAttribute": s.tenant_attribute,
                        "userAttributesEnabled": s.user_attributes_enabled,
                        "acceptMetricsEmbedScope": s.accept_metrics_embed_scope,
                        "users": [{"id": u.id, "name": u.name, "siteRole": u.site_role} for u in s.users.values()],
                        "personalAccessTokens": [{"name": p.name, "userId": p.user_id} for p in s.pats.values()],
                        "connectedApps": [
                            {
                                "clientId": a.client_id,
                                "name": a.name,
                                "enabled": a.enabled,
                                "domainAllowlist": list(a.domain_allowlist),
                                "secrets": [{"id": x.id, "createdAt": utc_iso(x.created_at)} for x in a.secrets],
                            }
                            for a in s.apps.values()
                        ],
                        "workbooks": {k: list(v) for k, v in s.workbooks.items()},
                        "rowCount": len(s.rows),
                    }
                )
            return {
                "sites": sites,
                "faults": self.faults(),
                "embedSessions": len(self._embed_sessions),
                "restSessions": len(self._rest_sessions),
                "signinCount": len(self._signins),
            }

    # --------------------------------------------------------------------------------------- faults

    def inject_fault(self, operation: str, kind: str, count: int | None = 1) -> None:
        """Make the next ``count`` calls of ``operation`` fail with ``kind`` (``count=None``: until cleared)."""
        if operation not in FAULT_OPERATIONS:
            raise EmulatorError(f"unknown fault operation {operation!r}; known: {sorted(FAULT_OPERATIONS)}")
        if kind not in FAULT_KINDS:
            raise EmulatorError(f"unknown fault kind {kind!r}; known: {sorted(FAULT_KINDS)}")
        if count is not None and count < 1:
            raise EmulatorError("count must be >= 1 (or None for 'until cleared')")
        with self.lock:
            self._faults[operation] = _Fault(kind=kind, remaining=count)

    def clear_faults(self) -> None:
        with self.lock:
            self._faults.clear()

    def faults(self) -> dict[str, dict[str, Any]]:
        with self.lock:
            return {op: {"kind": f.kind, "remaining": f.remaining} for op, f in self._faults.items()}

    def take_fault(self, operation: str) -> str | None:
        """Consume one pending fault for ``operation``; returns its kind or ``None``."""
        with self.lock:
            fault = self._faults.get(operation)
            if fault is None:
                return None
            if fault.remaining is not None:
                fault.remaining -= 1
                if fault.remaining <= 0:
                    del self._faults[operation]
            return fault.kind

    # ----------------------------------------------------------------------------- jti and sessions

    def consume_jti(self, client_id: str, jti: str, exp: float) -> bool:
        """Record a ``jti``; ``False`` when it was seen before (a replay). Expired entries are pruned."""
        with self.lock:
            now = self.clock()
            for key in [k for k, e in self._jtis.items() if e < now - 60]:
                del self._jtis[key]
            key = (client_id, jti)
            if key in self._jtis:
                return False
            self._jtis[key] = exp
            return True

    def open_embed_session(
        self,
        *,
        site: str,
        user_id: str,
        username: str,
        site_role: str,
        attributes: Mapping[str, Any],
        client_id: str,
        on_demand_access: bool,
        groups: Sequence[str],
    ) -> EmbedSession:
        with self.lock:
            s = self._site(site)
            session = EmbedSession(
                id=secrets.token_urlsafe(32),
                site_id=s.id,
                site_content_url=s.content_url,
                user_id=user_id,
                username=username,
                site_role=site_role,
                attributes=dict(attributes),
                client_id=client_id,
                on_demand_access=on_demand_access,
                groups=tuple(groups),
                created_at=self.clock(),
            )
            self._embed_sessions[session.id] = session
            return session

    def embed_session(self, session_id: str | None) -> EmbedSession | None:
        if not session_id:
            return None
        with self.lock:
            return self._embed_sessions.get(session_id)

    def open_rest_session(self, *, site: str, user: UserInfo, via: str, pat_name: str | None = None) -> RestSession:
        """Open a REST session. A PAT holds one session at a time: signing in again ends the previous one."""
        with self.lock:
            s = self._site(site)
            if pat_name is not None:
                for token in [
                    t
                    for t, r in self._rest_sessions.items()
                    if r.pat_name == pat_name and r.site_id == s.id and r.via == "pat"
                ]:
                    del self._rest_sessions[token]
            session = RestSession(
                token=secrets.token_urlsafe(32),
                site_id=s.id,
                site_content_url=s.content_url,
                user_id=user.id,
                username=user.name,
                site_role=user.site_role,
                via=via,
                pat_name=pat_name,
                expires_at=self.clock() + self.rest_token_ttl_seconds,
            )
            self._rest_sessions[session.token] = session
            return session

    def rest_session(self, token: str | None) -> RestSession | None:
        if not token:
            return None
        with self.lock:
            session = self._rest_sessions.get(token)
            if session is None:
                return None
            if session.expires_at <= self.clock():
                del self._rest_sessions[token]
                return None
            # The user's role is looked up live: demoting a user takes effect at once.
            s = self._site(session.site_id)
            current = next((u for u in s.users.values() if u.id == session.user_id), None)
            if current is None:
                del self._rest_sessions[token]
                return None
            if current.site_role != session.site_role:
                session = dataclasses.replace(session, site_role=current.site_role)
            return session

    def close_rest_session(self, token: str) -> bool:
        with self.lock:
            return self._rest_sessions.pop(token, None) is not None

    def check_pat(self, site: str, name: str, secret: str) -> tuple[UserInfo, str] | None:
        """The PAT's user and name when ``name``/``secret`` match on that site, else ``None``."""
        with self.lock:
            try:
                s = self._site(site)
            except NotFoundError:
                return None
            pat = s.pats.get(name)
            if pat is None or not hmac.compare_digest(pat.secret.encode(), secret.encode()):
                return None
            user = next((u for u in s.users.values() if u.id == pat.user_id), None)
            return None if user is None else (user, pat.name)

    # ---------------------------------------------------------------------------------- sign-in log

    def record_signin(self, record: SigninRecord) -> None:
        with self.lock:
            self._signins.append(record)

    def signins(self) -> list[SigninRecord]:
        with self.lock:
            return list(self._signins)

    def clear_signins(self) -> None:
        with self.lock:
            self._signins.clear()
