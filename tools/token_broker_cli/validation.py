"""Checks on operator input. The layer's rules (``parse_tenant``/``parse_user``, ``check_attribute_name``,
``normalise_attribute_value``, the token kinds and scope rules of ``tableau_broker.scopes``) stay the source of
truth; this module only applies them to
command-line values and adds what the layer cannot know (the shape of a ``name=value`` argument, REST scopes
in a record, the configured tenant attribute name).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager

from tableau_broker.errors import ConfigurationError
from tableau_broker.scopes import (
    EMBED_SCOPES,
    ON_DEMAND_ACCESS_SCOPES,
    RETIRED_EMBED_SCOPES,
    is_embed_scope,
    is_rest_scope,
    on_demand_access_unsupported,
)
from tableau_broker.tableau_jwt import AttributeValue, check_attribute_name, normalise_attribute_value
from tableau_broker.urls import tableau_url_problem
from token_broker_cli.errors import UsageError

MAX_ID_LENGTH = 256
_EMBED_LIST = ", ".join(sorted(EMBED_SCOPES))


def identifier(kind: str, value: str, *, inner_spaces: bool = False) -> str:
    """Tenant IDs, Cognito subs, ARNs: non-empty, no whitespace or control characters.

    ``inner_spaces`` is for Tableau usernames (Tableau Server allows spaces); they must still not be padded,
    because Tableau matches ``sub`` exactly.
    """
    if not value:
        raise UsageError(f"{kind} is empty")
    if len(value) > MAX_ID_LENGTH:
        raise UsageError(f"{kind} is longer than {MAX_ID_LENGTH} characters")
    if value != value.strip():
        raise UsageError(f"{kind} has leading or trailing whitespace")
    if any(not ch.isprintable() or (ch.isspace() and not (inner_spaces and ch == " ")) for ch in value):
        raise UsageError(f"{kind} must not contain whitespace or control characters")
    return value


def tableau_url(value: str) -> str:
    """https only (plain http for 127.0.0.1/localhost), a bare origin or base path, no credentials/query."""
    problem = tableau_url_problem(value)
    if problem is not None:
        raise UsageError(f"--tableau-url {problem}")
    return value.strip().rstrip("/")


def on_demand_access_groups(stored: object) -> list[str] | None:
    """The groups of a stored, enabled ``on_demand_access`` map, else ``None``."""
    if not isinstance(stored, dict) or stored.get("enabled") is not True:
        return None
    groups = stored.get("groups") or []
    return groups if isinstance(groups, list) else [groups]


def tenant_attribute_name(name: str) -> str:
    try:
        check_attribute_name(name)
    except ConfigurationError as exc:
        raise UsageError(f"tenant attribute name {name!r}: {exc.reason}") from None
    return name


def scopes(values: Sequence[str], *, owner: str) -> tuple[list[str], list[str]]:
    """Embed scopes only. Returns the de-duplicated scopes and warnings (retired scopes)."""
    if isinstance(values, str) or not all(isinstance(scope, str) for scope in values):
        raise UsageError("scopes must be a list of strings")
    result: list[str] = []
    warnings: list[str] = []
    for scope in dict.fromkeys(values):
        if is_rest_scope(scope):
            raise UsageError(
                f"refusing REST API scope {scope!r}: a {owner} may only hold embed scopes ({_EMBED_LIST}); "
                "a REST-scoped token handed to a browser is a credential for the Tableau REST API"
            )
        if not is_embed_scope(scope):
            raise UsageError(f"unknown scope {scope!r}; embed scopes are: {_EMBED_LIST}")
        if scope in RETIRED_EMBED_SCOPES:
            warnings.append(
                f"scope {scope!r} is retired by Tableau; the broker mints it only when EXTRA_EMBED_SCOPES enables it"
            )
        result.append(scope)
    return result, warnings


def on_demand_access(groups: Sequence[str], tenant_scopes: Iterable[str]) -> list[str]:
    if isinstance(groups, str) or not all(isinstance(group, str) for group in groups):
        raise UsageError("on-demand access groups must be a list of strings")
    cleaned = list(dict.fromkeys(groups))
    for group in cleaned:
        if not group.strip() or group != group.strip():
            raise UsageError("--oda-group names must be non-empty and not padded")
    unsupported = on_demand_access_unsupported(tenant_scopes)
    if unsupported:
        raise UsageError(
            f"on-demand access supports only {', '.join(sorted(ON_DEMAND_ACCESS_SCOPES))}; "
            f"remove {', '.join(unsupported)} with --scope"
        )
    try:
        normalise_attribute_value("groups", cleaned)
    except ConfigurationError as exc:
        raise UsageError(f"--oda-group: {exc.reason}") from None
    return cleaned


def attributes(pairs: Sequence[str], *, tenant_attribute: str) -> dict[str, AttributeValue]:
    """``name=value`` arguments: one occurrence gives a string, repeating a name builds an array."""
    grouped: dict[str, list[str]] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep:
            raise UsageError(f"--attribute expects name=value, got {name!r} without '='")
        grouped.setdefault(name, []).append(value)
    return attribute_map(
        {name: values[0] if len(values) == 1 else values for name, values in grouped.items()},
        tenant_attribute=tenant_attribute,
    )


def attribute_map(values: Mapping[str, object], *, tenant_attribute: str) -> dict[str, AttributeValue]:
    """Names and values by the layer's rules, plus: never the tenant attribute (any case)."""
    result: dict[str, AttributeValue] = {}
    for name, value in values.items():
        try:
            check_attribute_name(name)
            result[name] = normalise_attribute_value(name, value)
        except ConfigurationError as exc:
            raise UsageError(f"attribute {name!r}: {exc.reason}") from None
        if name.lower() == tenant_attribute.lower():
            raise UsageError(
                f"attribute {name!r} is the tenant attribute: the broker sets it from the tenant record only"
            )
    return result


@contextmanager
def kept(what: str, fix: str) -> Iterator[None]:
    """Name the stored field when a value kept from the existing record fails validation."""
    try:
        yield
    except UsageError as exc:
        raise UsageError(f"stored {what}: {exc.message}; replace them with {fix}") from None
