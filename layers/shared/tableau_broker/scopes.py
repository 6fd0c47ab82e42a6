"""Token kinds and their scopes: every rule about which scopes a Tableau token may carry, for whom, and for how
long. The broker, the rotation function and the operator CLI all apply these rules; none has its own copy.

Two kinds of token are minted:

* ``EMBED`` - handed to a browser to load a viz: embed scopes only, on-demand access possible;
* ``REST_SIGN_IN`` - kept server-side to sign in to the REST API (the rotation's ``testSecret``): REST scopes
  only, never on-demand access, never handed to a browser.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeGuard

TABLEAU_MAX_LIFETIME_SECONDS = 600  # Tableau Cloud's fixed maximum ``exp - iat``; Tableau Server's default.

EMBED_SCOPES = frozenset({"tableau:views:embed", "tableau:views:embed_authoring", "tableau:insights:embed"})
# Retired by Tableau (metrics embedding ended with Server 2023.3); only minted when explicitly enabled.
RETIRED_EMBED_SCOPES = frozenset({"tableau:metrics:embed"})
DEFAULT_EMBED_SCOPES = ("tableau:views:embed",)
# The only scopes Tableau documents for on-demand access.
ON_DEMAND_ACCESS_SCOPES = frozenset({"tableau:views:embed", "tableau:views:embed_authoring"})
# A POST /token body names at most this many scopes, each at most this long.
MAX_REQUESTED_SCOPES = 10
MAX_SCOPE_LENGTH = 100


def is_embed_scope(scope: str) -> bool:
    return scope in EMBED_SCOPES or scope in RETIRED_EMBED_SCOPES


def is_rest_scope(scope: str) -> bool:
    """A REST API scope (``tableau:<resource>:<action>``) - a credential for the REST API."""
    parts = scope.split(":")
    return len(parts) == 3 and parts[0] == "tableau" and all(parts) and not is_embed_scope(scope)


@dataclass(frozen=True)
class TokenKind:
    """What a kind of token may carry and for how long."""

    name: str
    allows_scope: Callable[[str], bool]
    refusal: str  # why a scope outside the kind is refused
    on_demand_access: bool  # whether Tableau's on-demand access claims may be added
    max_lifetime_seconds: int = TABLEAU_MAX_LIFETIME_SECONDS


EMBED = TokenKind("embed", is_embed_scope, "refusing to mint a non-embed scope", on_demand_access=True)
REST_SIGN_IN = TokenKind(
    "REST sign-in", is_rest_scope, "a REST sign-in token carries REST API scopes only", on_demand_access=False
)


def enabled_embed_scopes(extra: Iterable[str]) -> frozenset[str] | None:
    """The current embed scopes plus the retired ones in ``extra``; ``None`` if ``extra`` names anything else."""
    extra = list(extra)
    if not set(extra) <= RETIRED_EMBED_SCOPES:
        return None
    return EMBED_SCOPES | frozenset(extra)


def on_demand_access_unsupported(scopes: Iterable[str]) -> list[str]:
    """The scopes on-demand access cannot carry, sorted."""
    return sorted(set(scopes) - ON_DEMAND_ACCESS_SCOPES)


@functools.lru_cache(maxsize=256)
def _grantable(granted: tuple[str, ...], enabled_embed: frozenset[str], on_demand_access: bool) -> frozenset[str]:
    allowed = frozenset(granted) & enabled_embed
    return allowed & ON_DEMAND_ACCESS_SCOPES if on_demand_access else allowed


def grantable_scopes(
    granted: Iterable[str], enabled_embed: frozenset[str], *, on_demand_access: bool
) -> frozenset[str]:
    """What a browser may receive: granted to the caller, an enabled embed scope, and (with on-demand access)
    one of the on-demand access scopes. The same few combinations recur for every token: computed once each."""
    return _grantable(tuple(granted), enabled_embed, on_demand_access)


def is_scope_request(value: Any) -> TypeGuard[list[str]]:
    """The shape of the scopes a caller asks for: a non-empty, bounded array of bounded strings."""
    return (
        isinstance(value, list)
        and 0 < len(value) <= MAX_REQUESTED_SCOPES
        and all(isinstance(s, str) and 0 < len(s) <= MAX_SCOPE_LENGTH for s in value)
    )


def scope_problem(kind: TokenKind, scopes: Iterable[str], *, on_demand_access: bool) -> str | None:
    """Why ``scopes`` cannot be minted into a token of ``kind``, or ``None``."""
    scope_list = list(scopes)
    if not scope_list:
        return "no scopes to mint"
    if not all(kind.allows_scope(scope) for scope in scope_list):
        return kind.refusal
    if on_demand_access:
        if not kind.on_demand_access:
            return f"a {kind.name} token never carries on-demand access"
        if on_demand_access_unsupported(scope_list):
            return "on-demand access supports only the views embed scopes"
    return None
