"""Explain what Tableau would say about a connected-app JWT: a table of small checks, each returning its
findings with the Tableau error code the problem would most likely produce.

Crafted tokens give findings, never a crash: nesting is bounded (json's C decoder recurses per level), and a
NumericDate must be a finite number of seconds inside datetime's range (year 1 to 9999).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeGuard

from jwt.algorithms import HMACAlgorithm
from jwt.utils import base64url_decode

from tableau_broker.scopes import (
    ON_DEMAND_ACCESS_SCOPES,
    TABLEAU_MAX_LIFETIME_SECONDS,
    is_embed_scope,
    is_rest_scope,
)
from tableau_broker.signing_secret import ConnectedAppSecret
from tableau_broker.tableau_jwt import (
    ALGORITHM,
    AUDIENCE,
    HEADER_CLAIMS,
    MAX_TOKEN_BYTES,
    ODA_CLAIM,
    ODA_GROUPS_CLAIM,
    REGISTERED_CLAIMS,
    TABLEAU_NAMESPACE,
)

MAX_JSON_DEPTH = 32
MAX_NUMERIC_DATE = 253_402_300_799  # 9999-12-31T23:59:59Z
TIME_CLAIMS = ("exp", "iat", "nbf")
_B64URL_SEGMENT = re.compile(r"[A-Za-z0-9_-]*")


@dataclass(frozen=True)
class Finding:
    """One problem (or warning) in a token, with the Tableau error code it would most likely produce."""

    level: str  # "error" | "warning"
    rule: str
    message: str
    tableau_code: str | None = None


def error(rule: str, message: str, code: str | None = None) -> Finding:
    return Finding("error", rule, message, code)


def warning(rule: str, message: str) -> Finding:
    return Finding("warning", rule, message)


# --- decoding ----------------------------------------------------------------------------------------------


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


def _string_list(value: object) -> TypeGuard[list[str]]:
    return isinstance(value, list) and all(isinstance(item, str) for item in value)


@dataclass(frozen=True)
class Inspected:
    """A decoded token and what the checks compare it with."""

    token: str
    header: dict[str, Any]
    payload: dict[str, Any]
    now: float
    secret: ConnectedAppSecret | None
    max_lifetime_seconds: int
    leeway_seconds: int

    @property
    def signing_input_and_signature(self) -> tuple[str, str]:
        signing_input, _, signature = self.token.strip().rpartition(".")
        return signing_input, signature

    @property
    def scopes(self) -> list[str] | None:
        """``scp`` when it is an array of strings, else ``None``."""
        scp = self.payload.get("scp")
        return scp if _string_list(scp) else None


Check = Callable[[Inspected], list[Finding]]


# --- the checks, in report order ---------------------------------------------------------------------------


def check_header(t: Inspected) -> list[Finding]:
    header, payload = t.header, t.payload
    found = []
    if header.get("alg") != ALGORITHM:
        found.append(error("alg", f"header alg is {header.get('alg')!r}; Tableau Direct Trust expects HS256", "10087"))
    if not header.get("kid"):
        found.append(error("kid", "header has no kid (the connected-app secret ID)", "10083"))
    if not header.get("iss") and not payload.get("iss"):
        found.append(error("iss", "no iss (the connected-app client ID) in header or payload", "10083"))
    if header.get("iss") and payload.get("iss") and header["iss"] != payload["iss"]:
        found.append(error("iss", "header iss and payload iss differ", "10089"))
    if header.get("typ") not in (None, "JWT"):
        found.append(warning("typ", "header typ is not 'JWT'"))
    return found


def check_subject(t: Inspected) -> list[Finding]:
    found = []
    if t.payload.get("aud") != AUDIENCE:
        found.append(error("aud", "aud is missing or not exactly 'tableau'", "10084"))
    sub = t.payload.get("sub")
    if not isinstance(sub, str) or not sub:
        found.append(error("sub", "sub (the Tableau username) is missing or not a string", "10084"))
    elif sub != sub.strip():
        found.append(error("sub", "sub has surrounding whitespace; usernames are matched exactly", "5"))
    if not t.payload.get("jti") or not isinstance(t.payload.get("jti"), str):
        found.append(error("jti", "jti is missing; every token needs a unique jti", "10084"))
    return found


def check_scopes(t: Inspected) -> list[Finding]:
    scp = t.payload.get("scp")
    if scp is None:
        return [error("scp", "scp is missing", "10084")]
    if not isinstance(scp, list):
        return [error("scp", "scp must be a JSON array, even for one scope", "10084")]
    if not scp or t.scopes is None:
        return [error("scp", "scp must be a non-empty array of strings", "10084")]
    found = []
    if any(is_rest_scope(s) for s in t.scopes):
        found.append(warning("scp", "token carries REST API scopes: never hand it to a browser"))
    if not any(is_embed_scope(s) or is_rest_scope(s) for s in t.scopes):
        found.append(error("scp", "scp holds no known embed or REST scope", "10084"))
    return found


def check_times(t: Inspected) -> list[Finding]:
    found = [
        error(name, f"{name} must be a NumericDate (finite seconds since the epoch, before the year 10000)", "10084")
        for name in TIME_CLAIMS
        if t.payload.get(name) is not None and not is_numeric_date(t.payload.get(name))
    ]
    exp, iat = t.payload.get("exp"), t.payload.get("iat")
    if exp is None:
        found.append(error("exp", "exp is missing", "10084"))
    elif is_numeric_date(exp):
        start = iat if is_numeric_date(iat) else t.now
        if exp - start > t.max_lifetime_seconds:
            message = f"lifetime {int(exp - start)} s exceeds the maximum of {t.max_lifetime_seconds} s"
            found.append(error("exp", message, "10096"))
        if exp <= t.now:
            found.append(error("exp", "token has expired", "16"))
    for name in ("iat", "nbf"):
        value = t.payload.get(name)
        if is_numeric_date(value) and value > t.now + t.leeway_seconds:
            found.append(error(name, f"{name} is in the future: the minting clock runs ahead", "16"))
    return found


def _attribute_findings(name: str, value: Any) -> list[Finding]:
    if name in HEADER_CLAIMS:
        return [error("attribute", f"payload claim '{name}' collides with a header claim", "10084")]
    if name == ODA_CLAIM:
        return [] if value == "true" else [error("oda", "on-demand access claim must be the string 'true'", "10084")]
    if name == ODA_GROUPS_CLAIM:
        return [] if _string_list(value) else [error("oda", "groups claim must be an array of strings", "10084")]
    if name.lower().startswith(TABLEAU_NAMESPACE):
        return [error("attribute", f"claim '{name}' uses Tableau's reserved namespace", "10084")]
    if name.lower() in REGISTERED_CLAIMS:
        return [error("attribute", f"attribute '{name}' differs only in case from a registered claim")]
    if not (isinstance(value, str) or _string_list(value)):
        return [warning("attribute", f"attribute '{name}' is neither a string nor an array of strings")]
    return []


def check_attributes(t: Inspected) -> list[Finding]:
    return [
        finding
        for name, value in t.payload.items()
        if name not in REGISTERED_CLAIMS
        for finding in _attribute_findings(name, value)
    ]


def check_on_demand_access_scopes(t: Inspected) -> list[Finding]:
    if t.payload.get(ODA_CLAIM) == "true" and t.scopes is not None and not set(t.scopes) <= ON_DEMAND_ACCESS_SCOPES:
        return [error("oda", "on-demand access supports only the views embed scopes", "10084")]
    return []


def check_identifier_types(t: Inspected) -> list[Finding]:
    return [
        error(name, f"{name} must be a string", "10084")
        for name, value in (("kid", t.header.get("kid")), ("iss", t.header.get("iss")), ("iss", t.payload.get("iss")))
        if value is not None and not isinstance(value, str)
    ]


def check_groups_without_access(t: Inspected) -> list[Finding]:
    if ODA_GROUPS_CLAIM in t.payload and ODA_CLAIM not in t.payload:
        return [warning("oda", "groups claim without the on-demand access claim is ignored")]
    return []


def check_size(t: Inspected) -> list[Finding]:
    if len(t.token) > MAX_TOKEN_BYTES:
        return [warning("size", f"token is {len(t.token)} bytes; keep it under {MAX_TOKEN_BYTES}")]
    return []


def signature_format_findings(signature: str) -> list[Finding]:
    if not signature:
        return [error("signature", "token has no signature (an unsecured JWT)", "10084")]
    if not _B64URL_SEGMENT.fullmatch(signature) or len(signature) % 4 == 1:
        return [error("signature", "signature segment is not base64url", "10084")]
    return []


def check_signature_format(t: Inspected) -> list[Finding]:
    return signature_format_findings(t.signing_input_and_signature[1])


def check_against_secret(t: Inspected) -> list[Finding]:
    """With the connected-app secret: kid, iss and the HS256 signature, verified by PyJWT (as the emulator does)."""
    secret = t.secret
    if secret is None:
        return []
    found = []
    if t.header.get("kid") != secret.secret_id:
        found.append(error("kid", "kid does not match the secret ID of the given secret", "10085"))
    if (t.payload.get("iss") or t.header.get("iss")) != secret.client_id:
        found.append(error("iss", "iss does not match the client ID of the given secret", "10089"))
    signing_input, signature = t.signing_input_and_signature
    # Only a well-formed HS256 signature is verified: anything else already has its finding.
    if t.header.get("alg") == ALGORITHM and not signature_format_findings(signature):
        hs256 = HMACAlgorithm(HMACAlgorithm.SHA256)
        key = hs256.prepare_key(secret.secret_value)
        if not hs256.verify(signing_input.encode("ascii"), key, base64url_decode(signature)):
            found.append(error("signature", "signature does not verify with the given secret", "127"))
    return found


CHECKS: tuple[Check, ...] = (
    check_header,
    check_subject,
    check_scopes,
    check_times,
    check_attributes,
    check_on_demand_access_scopes,
    check_identifier_types,
    check_groups_without_access,
    check_size,
    check_signature_format,
    check_against_secret,
)


def inspect_token(
    token: str,
    *,
    now: float,
    secret: ConnectedAppSecret | None = None,
    max_lifetime_seconds: int = TABLEAU_MAX_LIFETIME_SECONDS,
    leeway_seconds: int = 5,
) -> list[Finding]:
    """Every finding of every check, in the order of ``CHECKS``; a token that does not decode has one."""
    try:
        header, payload = decode_unverified(token)
    except ValueError as exc:
        return [error("format", str(exc), "10084")]
    inspected = Inspected(token, header, payload, now, secret, max_lifetime_seconds, leeway_seconds)
    return [finding for check in CHECKS for finding in check(inspected)]
