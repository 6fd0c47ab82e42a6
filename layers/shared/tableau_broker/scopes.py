"""Tableau connected-app scopes: which ones a browser may ever receive."""

from __future__ import annotations

EMBED_SCOPES = frozenset({"tableau:views:embed", "tableau:views:embed_authoring", "tableau:insights:embed"})
# Retired by Tableau (metrics embedding ended with Server 2023.3); only minted when explicitly enabled.
RETIRED_EMBED_SCOPES = frozenset({"tableau:metrics:embed"})
DEFAULT_EMBED_SCOPES = ("tableau:views:embed",)
# The only scopes Tableau documents for on-demand access.
ON_DEMAND_ACCESS_SCOPES = frozenset({"tableau:views:embed", "tableau:views:embed_authoring"})


def is_embed_scope(scope: str) -> bool:
    return scope in EMBED_SCOPES or scope in RETIRED_EMBED_SCOPES


def is_rest_scope(scope: str) -> bool:
    """A REST API scope (``tableau:<resource>:<action>``) - a credential for the REST API."""
    parts = scope.split(":")
    return len(parts) == 3 and parts[0] == "tableau" and all(parts) and not is_embed_scope(scope)
