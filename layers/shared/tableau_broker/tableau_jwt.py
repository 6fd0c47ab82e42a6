"""Minting and inspecting Tableau connected-app (Direct Trust) JWTs.

The rules follow what Tableau accepts: HS256, ``kid`` = secret ID and ``iss`` = client ID in the header,
``aud`` = "tableau", ``sub`` = Tableau username, ``exp`` at most ten minutes out, a unique ``jti``, ``scp``
always a JSON array, user attributes as extra top-level claims (strings or arrays of strings).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeGuard

import jwt

from tableau_broker.errors import TokenRuleViolation
from tableau_broker.scopes import ON_DEMAND_ACCESS_SCOPES, is_embed_scope, is_rest_scope
from tableau_broker.signing_secret import ConnectedAppSecret

ALGORITHM = "HS256"
AUDIENCE = "tableau"
MAX_LIFETIME_SECONDS = 600
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


@dataclass(frozen=True)
class MintedToken:
    token: str
    jti: str
    issued_at: int
    expires_at: int
    scopes: tuple[str, ...]


def check_attribute_name(name: str) -> None:
    """Reject names that would shadow a registered/header claim or enter Tableau's claim namespace."""
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


def mint_embed_token(
    secret: ConnectedAppSecret,
    *,
    username: str,
    scopes: Sequence[str],
    attributes: Mapping[str, object],
    lifetime_seconds: int,
    now: float,
    clock_skew_seconds: int = 5,
    on_demand_access: OnDemandAccess | None = None,
    allow_rest_scopes: bool = False,
) -> MintedToken:
    """A fresh token for one viz load: new ``jti``, times from ``now``; nothing is reused between calls.

    ``allow_rest_scopes`` is only for server-side REST sign-in (secret rotation), never for a browser.
    """
    if not username or username != username.strip():
        raise TokenRuleViolation("Tableau username is empty or padded")
    scope_list = list(dict.fromkeys(scopes))
    if not scope_list:
        raise TokenRuleViolation("no scopes to mint")
    for scope in scope_list:
        if not is_embed_scope(scope) and not (allow_rest_scopes and is_rest_scope(scope)):
            raise TokenRuleViolation("refusing to mint a non-embed scope")
    if on_demand_access is not None and not set(scope_list) <= ON_DEMAND_ACCESS_SCOPES:
        raise TokenRuleViolation("on-demand access supports only the views embed scopes")
    issued_at = int(now) - clock_skew_seconds
    expires_at = int(now) + lifetime_seconds
    if lifetime_seconds <= 0 or expires_at - issued_at > MAX_LIFETIME_SECONDS:
        raise TokenRuleViolation("token lifetime (plus clock skew) exceeds Tableau's ten-minute maximum")

    claims: dict[str, Any] = {}
    for name, value in attributes.items():
        check_attribute_name(name)
        claims[name] = normalise_attribute_value(name, value)
    if on_demand_access is not None:
        claims[ODA_CLAIM] = "true"
        claims[ODA_GROUPS_CLAIM] = normalise_attribute_value("groups", list(on_demand_access.groups))
    jti = str(uuid.uuid4())
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
    headers = {"kid": secret.secret_id, "iss": secret.client_id, "typ": "JWT"}
    token = jwt.encode(claims, secret.secret_value, algorithm=ALGORITHM, headers=headers)
    if len(token) > MAX_TOKEN_BYTES:
        raise TokenRuleViolation(f"token would exceed {MAX_TOKEN_BYTES} bytes")
    return MintedToken(token=token, jti=jti, issued_at=issued_at, expires_at=expires_at, scopes=tuple(scope_list))


# --- Inspection ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Finding:
    """One problem (or warning) in a token, with the Tableau error code it would most likely produce."""

    level: str  # "error" | "warning"
    rule: str
    message: str
    tableau_code: str | None = None


# Crafted tokens must give findings, never a crash: nesting is bounded (json's C decoder recurses per level),
# and a NumericDate must be a finite number of seconds inside datetime's range (year 1 to 9999).
MAX_JSON_DEPTH = 32
MAX_NUMERIC_DATE = 253_402_300_799  # 9999-12-31T23:59:59Z
_B64URL_SEGMENT = re.compile(r"[A-Za-z0-9_-]*")


def _b64url_json(segment: str) -> Any:
    padded = segment + "=" * (-len(segment) % 4)
    return json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))


def _nested_deeper_than(value: Any, limit: int) -> bool:
    """Iterative, so a deep structure cannot exhaust the stack while it is measured."""
    pending: list[tuple[Any, int]] = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else ()
        for child in children:
            if isinstance(child, dict | list):
                if depth + 1 > limit:
                    return True
                pending.append((child, depth + 1))
    return False


def decode_unverified(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Header and payload without any verification. Raises ValueError when it is not a JWS."""
    parts = token.strip().split(".")
    if len(parts) != 3:
        raise ValueError("not a JWT: expected three dot-separated parts")
    try:
        header, payload = _b64url_json(parts[0]), _b64url_json(parts[1])
    except RecursionError:
        raise ValueError(f"not a JWT: header or payload is nested deeper than {MAX_JSON_DEPTH} levels") from None
    except (binascii.Error, UnicodeError, ValueError):
        raise ValueError("not a JWT: header or payload is not base64url JSON") from None
    if not isinstance(header, dict) or not isinstance(payload, dict):
        raise ValueError("not a JWT: header or payload is not a JSON object")
    if _nested_deeper_than(header, MAX_JSON_DEPTH) or _nested_deeper_than(payload, MAX_JSON_DEPTH):
        raise ValueError(f"not a JWT: header or payload is nested deeper than {MAX_JSON_DEPTH} levels")
    return header, payload


def is_numeric_date(value: object) -> TypeGuard[int | float]:
    """RFC 7519 NumericDate as Tableau can read it: finite (no NaN/Infinity, which 1e400 decodes to), in range."""
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and -MAX_NUMERIC_DATE <= value <= MAX_NUMERIC_DATE
    )


def _signature_findings(signature: str) -> list[Finding]:
    if not signature:
        return [Finding("error", "signature", "token has no signature (an unsecured JWT)", "10084")]
    if not _B64URL_SEGMENT.fullmatch(signature) or len(signature) % 4 == 1:
        return [Finding("error", "signature", "signature segment is not base64url", "10084")]
    return []


def inspect_token(
    token: str,
    *,
    now: float,
    secret: ConnectedAppSecret | None = None,
    max_lifetime_seconds: int = MAX_LIFETIME_SECONDS,
    leeway_seconds: int = 5,
) -> list[Finding]:
    findings: list[Finding] = []

    def add(level: str, rule: str, message: str, code: str | None = None) -> None:
        findings.append(Finding(level, rule, message, code))

    try:
        header, payload = decode_unverified(token)
    except ValueError as exc:
        return [Finding("error", "format", str(exc), "10084")]

    alg = header.get("alg")
    if alg != ALGORITHM:
        add("error", "alg", f"header alg is {alg!r}; Tableau Direct Trust expects HS256", "10087")
    if not header.get("kid"):
        add("error", "kid", "header has no kid (the connected-app secret ID)", "10083")
    if not header.get("iss") and not payload.get("iss"):
        add("error", "iss", "no iss (the connected-app client ID) in header or payload", "10083")
    if header.get("iss") and payload.get("iss") and header["iss"] != payload["iss"]:
        add("error", "iss", "header iss and payload iss differ", "10089")
    if header.get("typ") not in (None, "JWT"):
        add("warning", "typ", "header typ is not 'JWT'")

    if payload.get("aud") != AUDIENCE:
        add("error", "aud", "aud is missing or not exactly 'tableau'", "10084")
    sub = payload.get("sub")
    if not isinstance(sub, str) or not sub:
        add("error", "sub", "sub (the Tableau username) is missing or not a string", "10084")
    elif sub != sub.strip():
        add("error", "sub", "sub has surrounding whitespace; usernames are matched exactly", "5")
    if not payload.get("jti") or not isinstance(payload.get("jti"), str):
        add("error", "jti", "jti is missing; every token needs a unique jti", "10084")

    scp = payload.get("scp")
    if scp is None:
        add("error", "scp", "scp is missing", "10084")
    elif not isinstance(scp, list):
        add("error", "scp", "scp must be a JSON array, even for one scope", "10084")
    elif not scp or not all(isinstance(s, str) for s in scp):
        add("error", "scp", "scp must be a non-empty array of strings", "10084")
    else:
        if any(is_rest_scope(s) for s in scp):
            add("warning", "scp", "token carries REST API scopes: never hand it to a browser")
        if not any(is_embed_scope(s) or is_rest_scope(s) for s in scp):
            add("error", "scp", "scp holds no known embed or REST scope", "10084")

    exp, iat, nbf = payload.get("exp"), payload.get("iat"), payload.get("nbf")
    for name, value in (("exp", exp), ("iat", iat), ("nbf", nbf)):
        if value is not None and not is_numeric_date(value):
            add(
                "error",
                name,
                f"{name} must be a NumericDate (finite seconds since the epoch, before the year 10000)",
                "10084",
            )
    if exp is None:
        add("error", "exp", "exp is missing", "10084")
    elif is_numeric_date(exp):
        start = iat if is_numeric_date(iat) else now
        if exp - start > max_lifetime_seconds:
            add(
                "error",
                "exp",
                f"lifetime {int(exp - start)} s exceeds the maximum of {max_lifetime_seconds} s",
                "10096",
            )
        if exp <= now:
            add("error", "exp", "token has expired", "16")
    for name, value in (("iat", iat), ("nbf", nbf)):
        if is_numeric_date(value) and value > now + leeway_seconds:
            add("error", name, f"{name} is in the future: the minting clock runs ahead", "16")

    for name, value in payload.items():
        if name in REGISTERED_CLAIMS:
            continue
        if name in HEADER_CLAIMS:
            add("error", "attribute", f"payload claim '{name}' collides with a header claim", "10084")
        elif name.lower().startswith(TABLEAU_NAMESPACE):
            if name == ODA_CLAIM:
                if value != "true":
                    add("error", "oda", "on-demand access claim must be the string 'true'", "10084")
            elif name == ODA_GROUPS_CLAIM:
                if not isinstance(value, list) or not all(isinstance(g, str) for g in value):
                    add("error", "oda", "groups claim must be an array of strings", "10084")
            else:
                add("error", "attribute", f"claim '{name}' uses Tableau's reserved namespace", "10084")
        elif name.lower() in REGISTERED_CLAIMS:
            add("error", "attribute", f"attribute '{name}' differs only in case from a registered claim")
        elif not (isinstance(value, str) or (isinstance(value, list) and all(isinstance(v, str) for v in value))):
            add("warning", "attribute", f"attribute '{name}' is neither a string nor an array of strings")
    scope_set = set(scp) if isinstance(scp, list) and all(isinstance(s, str) for s in scp) else None
    if payload.get(ODA_CLAIM) == "true" and scope_set is not None and not scope_set <= ON_DEMAND_ACCESS_SCOPES:
        add("error", "oda", "on-demand access supports only the views embed scopes", "10084")
    for name, value in (("kid", header.get("kid")), ("iss", header.get("iss")), ("iss", payload.get("iss"))):
        if value is not None and not isinstance(value, str):
            add("error", name, f"{name} must be a string", "10084")
    if ODA_GROUPS_CLAIM in payload and ODA_CLAIM not in payload:
        add("warning", "oda", "groups claim without the on-demand access claim is ignored")
    if len(token) > MAX_TOKEN_BYTES:
        add("warning", "size", f"token is {len(token)} bytes; keep it under {MAX_TOKEN_BYTES}")

    signing_input, _, signature = token.strip().rpartition(".")
    signature_problems = _signature_findings(signature)
    findings.extend(signature_problems)

    if secret is not None:
        if header.get("kid") != secret.secret_id:
            add("error", "kid", "kid does not match the secret ID of the given secret", "10085")
        iss = payload.get("iss") or header.get("iss")
        if iss != secret.client_id:
            add("error", "iss", "iss does not match the client ID of the given secret", "10089")
        # Only a well-formed signature is compared (compare_digest refuses non-ASCII text).
        if alg == ALGORITHM and not signature_problems:
            expected = hmac.new(secret.secret_value.encode(), signing_input.encode("ascii"), hashlib.sha256).digest()
            expected_b64 = base64.urlsafe_b64encode(expected).rstrip(b"=").decode("ascii")
            if not hmac.compare_digest(expected_b64, signature):
                add("error", "signature", "signature does not verify with the given secret", "127")
    return findings
