"""The one rule for a URL the broker calls out to (a Tableau base URL, the Cognito JWKS endpoint), shared by
entitlements, the REST client, the identity settings and the CLI."""

from __future__ import annotations

from urllib.parse import urlsplit

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


def service_url_problem(url: str) -> str | None:
    """Why ``url`` is not an acceptable URL for an outbound call, or None.

    https only (plain http for a loopback emulator); no credentials, query or fragment. Parsed, not
    prefix-matched: ``http://localhost.attacker.example`` is not loopback.
    """
    try:
        parts = urlsplit(url.strip())
        hostname = parts.hostname
        parts.port  # noqa: B018 - raises ValueError for a malformed port
    except ValueError:
        return "is not a valid URL"
    if parts.scheme not in ("https", "http") or not hostname:
        return "must be an absolute https:// URL"
    if parts.scheme == "http" and hostname not in LOOPBACK_HOSTS:
        return "must be https (plain http only on loopback)"
    if parts.username or parts.password or parts.query or parts.fragment:
        return "must not contain credentials, a query or a fragment"
    return None


def tableau_url_problem(url: str) -> str | None:
    """Why ``url`` is not an acceptable Tableau base URL, or None (the outbound-URL rule)."""
    return service_url_problem(url)
