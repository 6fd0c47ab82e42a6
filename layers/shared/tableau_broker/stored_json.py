"""The first check of every JSON value stored in Secrets Manager: present, JSON, an object. Messages name the
problem and which secret, never a value."""

from __future__ import annotations

import json
from typing import Any

from tableau_broker.errors import ConfigurationError


def stored_json_object(raw: str | None, *, error: type[ConfigurationError], what: str) -> dict[str, Any]:
    if raw is None:
        raise error(f"{what} has no SecretString")
    try:
        data: Any = json.loads(raw)
    except (ValueError, RecursionError):
        raise error(f"{what} is not valid JSON") from None
    if not isinstance(data, dict):
        raise error(f"{what} JSON is not an object")
    return data
