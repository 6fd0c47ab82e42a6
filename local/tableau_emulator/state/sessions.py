"""Sign-in sessions (embed cookie and REST token) and replay tracking of ``jti`` values.

The caller holds the state's lock.
"""

from __future__ import annotations

import dataclasses
import secrets
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final

from .records import EmbedSession, RestSession, UserInfo
from .registry import Registry

#: How long past its ``exp`` a ``jti`` is remembered.
JTI_GRACE_SECONDS: Final = 60


class ReplayGuard:
    """Every ``(client id, jti)`` seen and not yet expired."""

    def __init__(self, now: Callable[[], float]) -> None:
        self._now = now
        self._seen: dict[tuple[str, str], float] = {}  # (client id, jti) -> exp

    def consume(self, client_id: str, jti: str, exp: float) -> bool:
        """Record a ``jti``; ``False`` when it was seen before (a replay). Expired entries are pruned."""
        now = self._now()
        for key in [k for k, e in self._seen.items() if e < now - JTI_GRACE_SECONDS]:
            del self._seen[key]
        key = (client_id, jti)
        if key in self._seen:
            return False
        self._seen[key] = exp
        return True


class SessionStore:
    """Open embed and REST sessions; sites and users are looked up live in ``registry``."""

    def __init__(self, registry: Registry, now: Callable[[], float]) -> None:
        self._registry = registry
        self._now = now
        self._embed: dict[str, EmbedSession] = {}
        self._rest: dict[str, RestSession] = {}

    def counts(self) -> tuple[int, int]:
        """(embed sessions, REST sessions)."""
        return len(self._embed), len(self._rest)

    def open_embed(
        self,
        site: str,
        *,
        user_id: str,
        username: str,
        site_role: str,
        attributes: Mapping[str, Any],
        client_id: str,
        on_demand_access: bool,
        groups: Sequence[str],
    ) -> EmbedSession:
        s = self._registry.site(site)
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
            created_at=self._now(),
        )
        self._embed[session.id] = session
        return session

    def embed(self, session_id: str) -> EmbedSession | None:
        return self._embed.get(session_id)

    def open_rest(self, site: str, user: UserInfo, via: str, pat_name: str | None, ttl_seconds: int) -> RestSession:
        """A PAT holds one session at a time: signing in again ends the previous one."""
        s = self._registry.site(site)
        if pat_name is not None:
            for token in [
                t for t, r in self._rest.items() if r.pat_name == pat_name and r.site_id == s.id and r.via == "pat"
            ]:
                del self._rest[token]
        session = RestSession(
            token=secrets.token_urlsafe(32),
            site_id=s.id,
            site_content_url=s.content_url,
            user_id=user.id,
            username=user.name,
            site_role=user.site_role,
            via=via,
            pat_name=pat_name,
            expires_at=self._now() + ttl_seconds,
        )
        self._rest[session.token] = session
        return session

    def rest(self, token: str) -> RestSession | None:
        session = self._rest.get(token)
        if session is None:
            return None
        if session.expires_at <= self._now():
            del self._rest[token]
            return None
        # The user's role is looked up live: demoting a user takes effect at once.
        current = self._registry.site(session.site_id).user_by_id(session.user_id)
        if current is None:
            del self._rest[token]
            return None
        if current.site_role != session.site_role:
            session = dataclasses.replace(session, site_role=current.site_role)
        return session

    def close_rest(self, token: str) -> bool:
        return self._rest.pop(token, None) is not None
