""":class:`EmulatorState`: the emulator's one lock in front of its registry, sessions, faults and sign-in log."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Final

from .allowlist import validate_allowlist
from .errors import NotFoundError
from .faults import FaultPlan, check_fault
from .records import (
    DEFAULT_WORKBOOKS,
    AppView,
    ConnectedAppInfo,
    DemoRow,
    EmbedSession,
    RestSession,
    SecretInfo,
    SigninRecord,
    SiteView,
    UserInfo,
    default_demo_rows,
)
from .registry import DEFAULT_MAX_JWT_LIFETIME_MINUTES, DEFAULT_TENANT_ATTRIBUTE, Registry, SiteRecord
from .sessions import ReplayGuard, SessionStore
from .signin_log import DEFAULT_MAX_SIGNIN_RECORDS, SigninLog

DEFAULT_REST_TOKEN_TTL_SECONDS: Final = 240 * 60


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
        self._registry = Registry(self._now)
        self._faults = FaultPlan()
        self._jtis = ReplayGuard(self._now)
        self._sessions = SessionStore(self._registry, self._now)
        self._signins = SigninLog(max_signin_records)

    def _now(self) -> float:
        """The current ``clock``, read when needed (tests replace ``clock`` after construction)."""
        return self.clock()

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
        record = SiteRecord(
            id=site_id or str(uuid.uuid4()),
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
        with self.lock:
            return self._registry.add_site(record)

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
        changes = {
            "max_jwt_lifetime_minutes": max_jwt_lifetime_minutes,
            "on_demand_access": on_demand_access,
            "tenant_attribute": tenant_attribute,
            "user_attributes_enabled": user_attributes_enabled,
            "accept_metrics_embed_scope": accept_metrics_embed_scope,
            "rows": None if rows is None else list(rows),
        }
        with self.lock:
            self._registry.configure_site(site, {k: v for k, v in changes.items() if v is not None})

    def add_user(self, site: str, username: str, site_role: str = "Viewer", *, user_id: str | None = None) -> str:
        """Add a Tableau user (username is case-sensitive); returns the user id."""
        with self.lock:
            return self._registry.add_user(site, username, site_role, user_id)

    def remove_user(self, site: str, username: str) -> None:
        with self.lock:
            self._registry.remove_user(site, username)

    def add_pat(self, site: str, username: str, name: str, secret: str | None = None) -> str:
        """Give ``username`` a personal access token called ``name``; returns the PAT secret."""
        with self.lock:
            return self._registry.add_pat(site, username, name, secret)

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
            return self._registry.add_connected_app(site, name, client_id, enabled, domain_allowlist, secrets)

    def set_app_enabled(self, site: str, client_id: str, enabled: bool) -> None:
        with self.lock:
            self._registry.app(site, client_id).enabled = enabled

    def set_domain_allowlist(self, site: str, client_id: str, domain_allowlist: Sequence[str] | None) -> None:
        with self.lock:
            allow = validate_allowlist(domain_allowlist)
            self._registry.app(site, client_id).domain_allowlist = allow

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
            return self._registry.add_secret(site, client_id, secret_id, value, created_at)

    def delete_secret(self, site: str, client_id: str, secret_id: str) -> None:
        with self.lock:
            self._registry.delete_secret(site, client_id, secret_id)

    def secret_ids(self, site: str, client_id: str) -> list[str]:
        with self.lock:
            return [x.id for x in self._registry.app(site, client_id).secrets]

    # --------------------------------------------------------------------------------- read access

    def site_view(self, site: str) -> SiteView:
        with self.lock:
            return self._registry.site(site).view()

    def find_site(self, site: str) -> SiteView | None:
        with self.lock:
            try:
                return self.site_view(site)
            except NotFoundError:
                return None

    def app_view(self, site: str, client_id: str) -> AppView:
        with self.lock:
            return self._registry.app_view(site, client_id)

    def list_apps(self, site: str) -> list[AppView]:
        with self.lock:
            s = self._registry.site(site)
            return [self._registry.app_view(s.content_url, cid) for cid in s.apps]

    def user(self, site: str, username: str) -> UserInfo | None:
        with self.lock:
            return self._registry.site(site).users.get(username)

    def snapshot(self) -> dict[str, Any]:
        """JSON-ready picture of the state. Never contains a secret value, PAT secret or token."""
        with self.lock:
            embed_sessions, rest_sessions = self._sessions.counts()
            return {
                "sites": [s.to_json() for s in self._registry.sites()],
                "faults": self._faults.to_json(),
                "embedSessions": embed_sessions,
                "restSessions": rest_sessions,
                "signinCount": len(self._signins),
            }

    # --------------------------------------------------------------------------------------- faults

    def inject_fault(self, operation: str, kind: str, count: int | None = 1) -> None:
        """Make the next ``count`` calls of ``operation`` fail with ``kind`` (``count=None``: until cleared)."""
        check_fault(operation, kind, count)
        with self.lock:
            self._faults.inject(operation, kind, count)

    def clear_faults(self) -> None:
        with self.lock:
            self._faults.clear()

    def faults(self) -> dict[str, dict[str, Any]]:
        with self.lock:
            return self._faults.to_json()

    def take_fault(self, operation: str) -> str | None:
        """Consume one pending fault for ``operation``; returns its kind or ``None``."""
        with self.lock:
            return self._faults.take(operation)

    # ----------------------------------------------------------------------------- jti and sessions

    def consume_jti(self, client_id: str, jti: str, exp: float) -> bool:
        """Record a ``jti``; ``False`` when it was seen before (a replay). Expired entries are pruned."""
        with self.lock:
            return self._jtis.consume(client_id, jti, exp)

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
            return self._sessions.open_embed(
                site,
                user_id=user_id,
                username=username,
                site_role=site_role,
                attributes=attributes,
                client_id=client_id,
                on_demand_access=on_demand_access,
                groups=groups,
            )

    def embed_session(self, session_id: str | None) -> EmbedSession | None:
        if not session_id:
            return None
        with self.lock:
            return self._sessions.embed(session_id)

    def open_rest_session(self, *, site: str, user: UserInfo, via: str, pat_name: str | None = None) -> RestSession:
        """Open a REST session. A PAT holds one session at a time: signing in again ends the previous one."""
        with self.lock:
            return self._sessions.open_rest(site, user, via, pat_name, self.rest_token_ttl_seconds)

    def rest_session(self, token: str | None) -> RestSession | None:
        if not token:
            return None
        with self.lock:
            return self._sessions.rest(token)

    def close_rest_session(self, token: str) -> bool:
        with self.lock:
            return self._sessions.close_rest(token)

    def check_pat(self, site: str, name: str, secret: str) -> tuple[UserInfo, str] | None:
        """The PAT's user and name when ``name``/``secret`` match on that site, else ``None``."""
        with self.lock:
            return self._registry.check_pat(site, name, secret)

    # ---------------------------------------------------------------------------------- sign-in log

    def record_signin(self, record: SigninRecord) -> None:
        with self.lock:
            self._signins.append(record)

    def signins(self) -> list[SigninRecord]:
        with self.lock:
            return self._signins.records()

    def clear_signins(self) -> None:
        with self.lock:
            self._signins.clear()
