"""Seed an :class:`EmulatorState` from JSON (``--seed FILE.json``) or with a ready-made demo.

Seed file format (every key but ``contentUrl``/``name`` optional)::

    {"sites": [{
        "contentUrl": "acme", "id": "<uuid>", "name": "Acme",
        "maxJwtLifetimeMinutes": 10, "onDemandAccess": false, "tenantAttribute": "tenant",
        "userAttributesEnabled": true, "acceptMetricsEmbedScope": false,
        "users": [{"name": "alice@acme.test", "siteRole": "Viewer", "id": "<uuid>"}],
        "personalAccessTokens": [{"name": "rotation", "secret": "...", "user": "admin@acme.test"}],
        "connectedApps": [{"name": "token-broker", "clientId": "<uuid>", "enabled": true,
                           "domainAllowlist": ["127.0.0.1"],
                           "secrets": [{"id": "<uuid>", "value": "..."}]}],
        "rows": [{"orderId": "A-1", "tenant": "acme", "product": "Anvil", "amount": 12.5}]
    }]}

A connected app without ``"secrets"`` gets one generated secret; ``"secrets": []`` gives none.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .state import DemoRow, EmulatorError, EmulatorState


def _req(obj: Mapping[str, Any], key: str, where: str) -> Any:
    if key not in obj:
        raise EmulatorError(f"seed: {where} needs {key!r}")
    return obj[key]


def load_seed(state: EmulatorState, data: Mapping[str, Any]) -> dict[str, Any]:
    """Apply a seed document; returns ``{"sites": [{"contentUrl", "id", "connectedApps": [...]}]}`` with the
    ids (and generated secret values) of what was created."""
    created_sites: list[dict[str, Any]] = []
    for site in data.get("sites", []):
        content_url = _req(site, "contentUrl", "site")
        rows = None
        if "rows" in site:
            rows = [
                DemoRow(str(r["orderId"]), str(r["tenant"]), str(r["product"]), float(r["amount"]))
                for r in site["rows"]
            ]
        site_id = state.add_site(
            content_url,
            site_id=site.get("id"),
            name=site.get("name"),
            max_jwt_lifetime_minutes=int(site.get("maxJwtLifetimeMinutes", 10)),
            on_demand_access=bool(site.get("onDemandAccess", False)),
            tenant_attribute=site.get("tenantAttribute", "tenant"),
            user_attributes_enabled=bool(site.get("userAttributesEnabled", True)),
            accept_metrics_embed_scope=bool(site.get("acceptMetricsEmbedScope", False)),
            rows=rows,
        )
        for user in site.get("users", []):
            state.add_user(
                content_url, _req(user, "name", "user"), user.get("siteRole", "Viewer"), user_id=user.get("id")
            )
        for pat in site.get("personalAccessTokens", []):
            state.add_pat(
                content_url, _req(pat, "user", "personal access token"), _req(pat, "name", "pat"), pat.get("secret")
            )
        apps = []
        for app in site.get("connectedApps", []):
            secrets = app.get("secrets")
            info = state.add_connected_app(
                content_url,
                app.get("name", "connected-app"),
                client_id=app.get("clientId"),
                enabled=bool(app.get("enabled", True)),
                domain_allowlist=app.get("domainAllowlist"),
                secrets=None if secrets is None else [(s.get("id"), s["value"]) for s in secrets],
            )
            apps.append(
                {
                    "clientId": info.client_id,
                    "name": info.name,
                    "secrets": [{"id": s.id, "value": s.value} for s in info.secrets],
                }
            )
        created_sites.append({"contentUrl": content_url, "id": site_id, "connectedApps": apps})
    return {"sites": created_sites}


def load_seed_file(state: EmulatorState, path: str | Path) -> dict[str, Any]:
    with Path(path).open(encoding="utf-8") as fh:
        data = json.load(fh)
    if not isinstance(data, dict):
        raise EmulatorError("seed file must hold a JSON object")
    return load_seed(state, data)


DEMO_SITE = "embedded-demo"


def seed_demo(state: EmulatorState) -> dict[str, Any]:
    """A site ``embedded-demo`` with two viewers in two tenants, an admin with a PAT and one connected app
    (allowlist ``127.0.0.1``/``localhost``). Returns what :func:`load_seed` returns plus the PAT."""
    created = load_seed(
        state,
        {
            "sites": [
                {
                    "contentUrl": DEMO_SITE,
                    "name": "Embedded demo",
                    "users": [
                        {"name": "alice@acme.test", "siteRole": "Viewer"},
                        {"name": "bob@globex.test", "siteRole": "Viewer"},
                        {"name": "admin@emulator.test", "siteRole": "SiteAdministratorCreator"},
                    ],
                    "connectedApps": [{"name": "token-broker", "domainAllowlist": ["127.0.0.1", "localhost"]}],
                }
            ]
        },
    )
    pat_secret = state.add_pat(DEMO_SITE, "admin@emulator.test", "rotation")
    created["personalAccessToken"] = {"name": "rotation", "secret": pat_secret, "user": "admin@emulator.test"}
    return created
