"""Minting Tableau connected-app (Direct Trust) JWTs.

The rules follow what Tableau accepts: HS256, ``kid`` = secret ID and ``iss`` = client ID in the header,
``aud`` = "tableau", ``sub`` = Tableau username, ``exp`` at most ten minutes out, a unique ``jti``, ``scp``
always a JSON array, user attributes as extra top-level claims (strings or arrays of strings).
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from tableau_broker.errors import TokenRuleViolation
from tableau_broker.scopes import EMBED, TokenKind, scope_problem
from tableau_broker.signing_secret import ConnectedAppSecret

ALGORITHM = "HS256"
AUDIENCE = "tableau"
HEADER_CLAIMS = frozenset({"alg", "kid", "iss", "typ"})
REGISTERED_CLAIMS = frozenset({"iss", "sub", "aud", "exp", "iat", "nbf", "jti", "scp"})
RESERVED_CLAIMS = HEADER_CLAIMS | REGISTERED_CLAIMS
TABLEAU_NAMESPACE = "https://tableau.com/"
ODA_CLAIM = "https://tableau.com/oda"
ODA_GROUPS_CLAIM = "https://tableau.com/groups"
MAX_ATTRIBUTE_NAME_LENGTH = 128
MAX_ATTRIBUTE_VALUE_LENGTH = 1024
MAX_ATTRIBUTE_VALUES = 100
MAX_TOKEN_BYTES = 4096

AttributeValue = str | list[str]


@dataclass(frozen=True)
class OnDemandAccess:
    """Tableau Cloud on-demand access: the user need not exist on the site; groups grant content."""

    groups: tuple[str, ...]


# Immutable and built on every request: a NamedTuple costs a fifth of a frozen dataclass.
class MintedToken(NamedTuple):
    token: str
    jti: str
    issued_at: int
    expires_at: int
    scopes: tuple[str, ...]


def new_jti() -> str:
    """A random (version 4) UUID, as ``str(uuid.uuid4())`` but in a third of its time, from the kernel's CSPRNG
    on every call: nothing derived from process state, so two containers restored from one SnapStart snapshot
    never mint the same ``jti`` (tests/shipped/test_snapstart.py)."""
    h = os.urandom(16).hex()
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) & 3]}{h[17:20]}-{h[20:]}"


def check_attribute_name(name: str) -> None:
    """Reject names that would shadow a registered/header claim or enter Tableau's claim namespace."""
    if isinstance(name, str) and name in _CHECKED_NAMES:
        return
    _check_attribute_name(name)
    if len(_CHECKED_NAMES) < _MAX_CHECKED_NAMES:
        _CHECKED_NAMES.add(name)


# Attribute names that passed: every token of a tenant repeats the same few, checked once per container.
_CHECKED_NAMES: set[str] = set()
_MAX_CHECKED_NAMES = 4096


def _check_attribute_name(name: str) -> None:
    if not isinstance(name, str) or not name.strip() or name != name.strip():
        raise TokenRuleViolation("attribute name is empty or padded")
    if len(name) > MAX_ATTRIBUTE_NAME_LENGTH:
        raise TokenRuleViolation("attribute name is too long")
    if name.lower() in RESERVED_CLAIMS:
        raise TokenRuleViolation(f"attribute name shadows the reserved claim '{name.lower()}'")
    if name.lower().startswith(TABLEAU_NAMESPACE):
        raise TokenRuleViolation("attribute name uses the https://tableau.com/ namespace")


def normalise_attribute_value(name: str, value: object) -> AttributeValue:
    """Attributes must be strings or arrays of strings (what USERATTRIBUTE/…INCLUDES read)."""
    if isinstance(value, str):
        if len(value) > MAX_ATTRIBUTE_VALUE_LENGTH:
            raise TokenRuleViolation(f"attribute '{name}' value is too long")
        return value
    if isinstance(value, list | tuple | set | frozenset):
        items = sorted(value) if isinstance(value, set | frozenset) else list(value)
        if len(items) > MAX_ATTRIBUTE_VALUES or not all(isinstance(item, str) for item in items):
            raise TokenRuleViolation(f"attribute '{name}' must be a string or an array of strings")
        if any(len(item) > MAX_ATTRIBUTE_VALUE_LENGTH for item in items):
            raise TokenRuleViolation(f"attribute '{name}' value is too long")
        return list(items)
    raise TokenRuleViolation(f"attribute '{name}' must be a string or an array of strings")


def mint_token(
    secret: ConnectedAppSecret,
    *,
    username: str,
    scopes: Sequence[str],
    attributes: Mapping[str, object],
    lifetime_seconds: int,
    now: float,
    clock_skew_seconds: int = 5,
    on_demand_access: OnDemandAccess | None = None,
    kind: TokenKind = EMBED,
) -> MintedToken:
    """A fresh token of ``kind`` (by default one for a browser's viz load): new ``jti``, times from ``now``;
    nothing is reused between calls. ``scopes.REST_SIGN_IN`` is only for a server-side REST sign-in."""
    if not username or username != username.strip():
        raise TokenRuleViolation("Tableau username is empty or padded")
    scope_list = list(dict.fromkeys(scopes))
    problem = scope_problem(kind, scope_list, on_demand_access=on_demand_access is not None)
    if problem is not None:
        raise TokenRuleViolation(problem)
    issued_at = int(now) - clock_skew_seconds
    expires_at = int(now) + lifetime_seconds
    if lifetime_seconds <= 0 or expires_at - issued_at > kind.max_lifetime_seconds:
        raise TokenRuleViolation("token lifetime (plus clock skew) exceeds Tableau's ten-minute maximum")

    claims: dict[str, Any] = {}
    for name, value in attributes.items():
        check_attribute_name(name)
        claims[name] = normalise_attribute_value(name, value)
    if on_demand_access is not None:
        claims[ODA_CLAIM] = "true"
        claims[ODA_GROUPS_CLAIM] = normalise_attribute_value("groups", list(on_demand_access.groups))
    jti = new_jti()
    # Registered claims last so nothing above can override them (a pitfall of Tableau's own samples).
    claims.update(
        {
            "iss": secret.client_id,
            "sub": username,
            "aud": AUDIENCE,
            "exp": expires_at,
            "iat": issued_at,
            "nbf": issued_at,
            "jti": jti,
            "scp": scope_list,
        }
    )
    token = encode_hs256(claims, secret)
    if len(token) > MAX_TOKEN_BYTES:
        raise TokenRuleViolation(f"token would exceed {MAX_TOKEN_BYTES} bytes")
    return MintedToken(token=token, jti=jti, issued_at=issued_at, expires_at=expires_at, scopes=tuple(scope_list))


# Compact JSON (what JWS segments and the API's bodies use); json.dumps(..., separators=...) builds one per call.
COMPACT_JSON = json.JSONEncoder(separators=(",", ":"))


def _base64url(data: bytes) -> bytes:
    return base64.urlsafe_b64encode(data).rstrip(b"=")


@functools.lru_cache(maxsize=16)
def _header_segment(secret_id: str, client_id: str) -> bytes:
    header = {"alg": ALGORITHM, "iss": client_id, "kid": secret_id, "typ": "JWT"}
    return _base64url(json.dumps(header, separators=(",", ":"), sort_keys=True).encode())


def encode_hs256(claims: Mapping[str, Any], secret: ConnectedAppSecret) -> str:
    """The compact JWS of ``claims``, HS256 with the connected app's header: byte for byte what
    ``jwt.encode(claims, secret_value, algorithm="HS256", headers={"kid", "iss", "typ"})`` returns (a property
    test compares them), without PyJWT's per-call work that a token broker repeats for nothing (re-deriving the
    header, re-checking the key's shape). PyJWT still verifies every token the tests decode."""
    signing_input = b".".join(
        (
            _header_segment(secret.secret_id, secret.client_id),
            _base64url(COMPACT_JSON.encode(claims).encode()),
        )
    )
    signature = hmac.digest(secret.secret_value.encode(), signing_input, hashlib.sha256)
    return (signing_input + b"." + _base64url(signature)).decode()
