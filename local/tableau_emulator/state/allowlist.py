"""Connected-app domain allowlists: validating entries, matching a browser ``Origin``, the CSP equivalent."""

from __future__ import annotations

import re
from collections.abc import Sequence
from urllib.parse import urlsplit

from .errors import InvalidDomainAllowlistError

_DOMAIN_PATTERN = re.compile(
    r"^(?:(?P<scheme>https?)://)?(?P<wild>\*\.)?(?P<host>[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*)"
    r"(?::(?P<port>\d{1,5}|\*))?/?$",
    re.IGNORECASE,
)


def validate_domain_pattern(pattern: str) -> str:
    """Return the pattern normalised (lower case) or raise :class:`InvalidDomainAllowlistError` (133).

    Accepted forms: ``host``, ``*.domain``, optionally with ``http://``/``https://`` and ``:port``/``:*``.
    """
    if not isinstance(pattern, str) or not _DOMAIN_PATTERN.match(pattern.strip()):
        raise InvalidDomainAllowlistError(f"invalid domain allowlist entry: {pattern!r}")
    return pattern.strip().lower().rstrip("/")


def validate_allowlist(patterns: Sequence[str] | None) -> list[str]:
    """Every entry normalised; ``None``/empty is the empty allowlist (every domain)."""
    return [validate_domain_pattern(p) for p in (patterns or [])]


def origin_matches(pattern: str, origin: str) -> bool:
    """Whether a browser ``Origin`` (``scheme://host[:port]``) matches one allowlist pattern."""
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
