"""Sites, their users, personal access tokens and connected apps. The caller holds the state's lock.

Sites are addressed by their *content URL* (the ``<site>`` in ``/t/<site>/``; ``""`` is the Default site)
or by their site id (a UUID) wherever a ``site`` argument is taken.
"""

from __future__ import annotations

import dataclasses
import hmac
import secrets
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from .allowlist import validate_allowlist
from .errors import EmulatorError, NotFoundError, SecretLimitExceededError
from .records import (
    MAX_SECRETS_PER_APP,
    AppView,
    ConnectedAppInfo,
    DemoRow,
    SecretInfo,
    SiteView,
    UserInfo,
    new_secret_value,
    utc_iso,
)

DEFAULT_MAX_JWT_LIFETIME_MINUTES: Final = 10
DEFAULT_TENANT_ATTRIBUTE: Final = "tenant"


@dataclass
class SecretRecord:
    id: str
    value: str
    created_at: float

    def info(self) -> SecretInfo:
        return SecretInfo(id=self.id, value=self.value, created_at=utc_iso(self.created_at))


@dataclass
class AppRecord:
    client_id: str
    name: str
    enabled: bool
    domain_allowlist: list[str]
    secrets: list[SecretRecord] = field(default_factory=list)


@dataclass
class PatRecord:
    name: str
    secret: str
    user_id: str


@dataclass
class SiteRecord:
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
    pats: dict[str, PatRecord] = field(default_factory=dict)  # by token name
    apps: dict[str, AppRecord] = field(default_factory=dict)  # by client id

    def view(self) -> SiteView:
        settings = {f.name: getattr(self, f.name) for f in dataclasses.fields(SiteView)}
        return SiteView(**{**settings, "rows": tuple(self.rows), "workbooks": dict(self.workbooks)})

    def user_by_id(self, user_id: str) -> UserInfo | None:
        return next((u for u in self.users.values() if u.id == user_id), None)

    def to_json(self) -> dict[str, Any]:
        """Never contains a secret value or PAT secret."""
        return {
            "id": self.id,
            "contentUrl": self.content_url,
            "name": self.name,
            "maxJwtLifetimeMinutes": self.max_jwt_lifetime_minutes,
            "onDemandAccess": self.on_demand_access,
            "tenantAttribute": self.tenant_attribute,
            "userAttributesEnabled": self.user_attributes_enabled,
            "acceptMetricsEmbedScope": self.accept_metrics_embed_scope,
            "users": [{"id": u.id, "name": u.name, "siteRole": u.site_role} for u in self.users.values()],
            "personalAccessTokens": [{"name": p.name, "userId": p.user_id} for p in self.pats.values()],
            "connectedApps": [
                {
                    "clientId": a.client_id,
                    "name": a.name,
                    "enabled": a.enabled,
                    "domainAllowlist": list(a.domain_allowlist),
                    "secrets": [{"id": x.id, "createdAt": utc_iso(x.created_at)} for x in a.secrets],
                }
                for a in self.apps.values()
            ],
            "workbooks": {k: list(v) for k, v in self.workbooks.items()},
            "rowCount": len(self.rows),
        }


class Registry:
    """Everything seeded into the emulator. ``now`` gives a secret its creation time when none is given."""

    def __init__(self, now: Callable[[], float]) -> None:
        self._now = now
        self._sites: dict[str, SiteRecord] = {}  # by content URL

    def site(self, site: str) -> SiteRecord:
        found = self._sites.get(site)
        if found is None:
            found = next((s for s in self._sites.values() if s.id == site), None)
        if found is None:
            raise NotFoundError(f"site not found: {site!r}")
        return found

    def app(self, site: str, client_id: str) -> AppRecord:
        app = self.site(site).apps.get(client_id)
        if app is None:
            raise NotFoundError(f"connected app not found: {client_id!r}")
        return app

    def sites(self) -> list[SiteRecord]:
        return list(self._sites.values())

    def add_site(self, record: SiteRecord) -> str:
        if record.content_url in self._sites:
            raise EmulatorError(f"site already exists: {record.content_url!r}")
        if any(s.id == record.id for s in self._sites.values()):
            raise EmulatorError(f"site id already in use: {record.id}")
        self._sites[record.content_url] = record
        return record.id

    def configure_site(self, site: str, changes: Mapping[str, Any]) -> None:
        record = self.site(site)
        for name, value in changes.items():
            setattr(record, name, value)

    def add_user(self, site: str, username: str, site_role: str, user_id: str | None) -> str:
        s = self.site(site)
        if username in s.users:
            raise EmulatorError(f"user already exists: {username!r}")
        uid = user_id or str(uuid.uuid4())
        s.users[username] = UserInfo(id=uid, name=username, site_role=site_role)
        return uid

    def remove_user(self, site: str, username: str) -> None:
        if self.site(site).users.pop(username, None) is None:
            raise NotFoundError(f"user not found: {username!r}")

    def add_pat(self, site: str, username: str, name: str, secret: str | None) -> str:
        s = self.site(site)
        user = s.users.get(username)
        if user is None:
            raise NotFoundError(f"user not found: {username!r}")
        if name in s.pats:
            raise EmulatorError(f"personal access token already exists: {name!r}")
        value = secret or secrets.token_urlsafe(24)
        s.pats[name] = PatRecord(name=name, secret=value, user_id=user.id)
        return value

    def check_pat(self, site: str, name: str, secret: str) -> tuple[UserInfo, str] | None:
        try:
            s = self.site(site)
        except NotFoundError:
            return None
        pat = s.pats.get(name)
        if pat is None or not hmac.compare_digest(pat.secret.encode(), secret.encode()):
            return None
        user = s.user_by_id(pat.user_id)
        return None if user is None else (user, pat.name)

    def add_connected_app(
        self,
        site: str,
        name: str,
        client_id: str | None,
        enabled: bool,
        domain_allowlist: Sequence[str] | None,
        secrets: Sequence[tuple[str, str]] | None,
    ) -> ConnectedAppInfo:
        """``secrets``: ``None`` generates one secret, otherwise the given ``(secret id, value)`` pairs (0-2)."""
        s = self.site(site)
        cid = client_id or str(uuid.uuid4())
        if cid in s.apps:
            raise EmulatorError(f"connected app already exists: {cid}")
        allow = validate_allowlist(domain_allowlist)
        if secrets is not None and len(secrets) > MAX_SECRETS_PER_APP:
            raise SecretLimitExceededError()
        s.apps[cid] = AppRecord(client_id=cid, name=name, enabled=enabled, domain_allowlist=allow)
        pairs: Sequence[tuple[str | None, str | None]] = [(None, None)] if secrets is None else secrets
        created = tuple(self.add_secret(s.content_url, cid, sec_id, value, None) for sec_id, value in pairs)
        return ConnectedAppInfo(client_id=cid, name=name, secrets=created)

    def add_secret(
        self, site: str, client_id: str, secret_id: str | None, value: str | None, created_at: float | None
    ) -> SecretInfo:
        app = self.app(site, client_id)
        if len(app.secrets) >= MAX_SECRETS_PER_APP:
            raise SecretLimitExceededError()
        sid = secret_id or str(uuid.uuid4())
        if any(x.id == sid for x in app.secrets):
            raise EmulatorError(f"secret id already in use: {sid}")
        sec = SecretRecord(id=sid, value=value or new_secret_value(), created_at=created_at or self._now())
        app.secrets.append(sec)
        return sec.info()

    def delete_secret(self, site: str, client_id: str, secret_id: str) -> None:
        app = self.app(site, client_id)
        before = len(app.secrets)
        app.secrets = [x for x in app.secrets if x.id != secret_id]
        if len(app.secrets) == before:
            raise NotFoundError(f"secret not found: {secret_id!r}")

    def app_view(self, site: str, client_id: str) -> AppView:
        app = self.app(site, client_id)
        return AppView(
            client_id=app.client_id,
            name=app.name,
            enabled=app.enabled,
            domain_allowlist=tuple(app.domain_allowlist),
            secrets=tuple(x.info() for x in app.secrets),
        )
