"""Reading settings from environment variables: the one set of parsers both functions' settings use.

Each parser names the variable in its error and never echoes a value.
"""

from __future__ import annotations

from collections.abc import Mapping

from tableau_broker.errors import ConfigurationError


def csv_list(value: str) -> list[str]:
    """Comma-separated items, stripped; empty items dropped."""
    return [item.strip() for item in value.split(",") if item.strip()]


def env_list(env: Mapping[str, str], name: str, default: str = "") -> list[str]:
    return csv_list(env.get(name, default))


def env_int(env: Mapping[str, str], name: str, default: int, *, minimum: int, maximum: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigurationError(f"{name} is not an integer") from None
    if not minimum <= value <= maximum:
        raise ConfigurationError(f"{name} must be between {minimum} and {maximum}")
    return value


def env_required(env: Mapping[str, str], name: str) -> str:
    value = env.get(name, "").strip()
    if not value:
        raise ConfigurationError(f"{name} is not set")
    return value
