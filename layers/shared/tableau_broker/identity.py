"""Who is calling: verified Cognito claims from the API Gateway authorizer, or a bearer token we verify.

API Gateway's JWT authorizer checks signature, ``iss``, ``exp`` and ``aud``/``client_id`` but not
``token_use``; REST API Cognito authorizers check less still. We re-check every claim we rely on. When an
event carries no authorizer claims (a route without an authorizer, a Function URL, a direct invoke) the
``Authorization: Bearer`` token is verified here against the pool's JWKS (RS256 only).

Time claims: one tolerance, ``CognitoSettings.clock_tolerance_seconds`` (``COGNITO_CLOCK_TOLERANCE_SECONDS``),
applies to all of them. A token is refused when ``now >= exp + tolerance`` (RFC 7519 4.1.4: now must be
before ``exp``), when ``nbf > now + tolerance`` or when ``iat > now + tolerance``. ``exp`` is required;
``nbf`` and ``iat`` are checked when present. In a JWT we verified, a NumericDate must be a finite JSON
number; only the stringified claims an API Gateway authorizer hands over may be strings, and then only plain
decimal digits (HTTP API) or REST's ``Fri Jan 01 00:00:00 UTC 2100``.

Every reason is a fixed string: no claim value ever reaches an error or a log.
"""

from __future__ import annotations

import base64
import json
import math
import re
import unicodedata
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, NamedTuple

from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from jwt.algorithms import RSAAlgorithm

from tableau_broker.config import CognitoSettings
from tableau_broker.errors import Unauthenticated
from tableau_broker.jwks import JwksCache, reject_json_constant

# 9999-12-31T23:59:59Z: a NumericDate beyond it is not a date a pool issues.
MAX_NUMERIC_DATE = 253_402_300_799
MAX_SUB_LENGTH = 256
_DIGITS = re.compile(r"[0-9]{1,12}")
# What a Cognito sub looks like (a UUID): passes _valid_sub's character rule without a per-character lookup.
_PLAIN_SUB = re.compile(r"[0-9A-Za-z_.@-]+")
_REST_DATE = re.compile(
    r"(Mon|Tue|Wed|Thu|Fri|Sat|Sun) (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) "
    r"[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2} UTC [0-9]{4}"
)
_B64URL = re.compile(r"[A-Za-z0-9_-]*")
_RS256 = RSAAlgorithm(RSAAlgorithm.SHA256)


# Immutable and built on every request: a NamedTuple costs a fifth of a frozen dataclass.
class CallerIdentity(NamedTuple):
    sub: str
    token_use: str
    client_id: str
    username: str | None


def _payload_version(event: Mapping[str, Any]) -> str | None:
    """'2.0' (HTTP API payload v2), '1.0' (HTTP API payload v1 or a REST API proxy event) or None."""
    version = event.get("version")
    if version in ("2.0", "1.0"):
        return str(version)
    return "1.0" if version is None and "httpMethod" in event else None


def _claims_from_event(event: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The authorizer's claims, read only where the event's own payload version puts them.

    v2 carries them in ``authorizer.jwt.claims``, v1 in ``authorizer.claims``. An authorizer block of the wrong
    type, both blocks at once, or a block where the event's version does not put it is refused (401): a gateway
    never builds such an event, so someone else did, and guessing which claims to believe would let them choose.
    Events without an authorizer block take the bearer path.
    """
    context = event.get("requestContext")
    if not isinstance(context, Mapping) or "authorizer" not in context:
        return None
    authorizer = context["authorizer"]
    if not isinstance(authorizer, Mapping):
        raise Unauthenticated("malformed_authorizer")
    has_v2, has_v1 = "jwt" in authorizer, "claims" in authorizer
    if has_v2 and has_v1:
        raise Unauthenticated("ambiguous_authorizer")
    if not has_v2 and not has_v1:
        return None  # another authorizer kind (Lambda, IAM): no Cognito claims here
    version = _payload_version(event)
    if (has_v2 and version != "2.0") or (has_v1 and version != "1.0"):
        raise Unauthenticated("authorizer_version_mismatch")
    section = authorizer["jwt"] if has_v2 else authorizer
    claims = section.get("claims") if isinstance(section, Mapping) else None
    if not isinstance(claims, Mapping) or not claims:
        raise Unauthenticated("malformed_authorizer")
    return claims


def _bearer_token(event: Mapping[str, Any]) -> str | None:
    headers = event.get("headers")
    if not isinstance(headers, Mapping):
        return None
    values = [v for k, v in headers.items() if isinstance(k, str) and k.lower() == "authorization"]
    multi = event.get("multiValueHeaders")  # REST API / payload v1: every value of a repeated header
    if isinstance(multi, Mapping):
        for key, listed in multi.items():
            if isinstance(key, str) and key.lower() == "authorization" and isinstance(listed, list):
                values.extend(v for v in listed if v not in values)
    if len(values) > 1:
        raise Unauthenticated("ambiguous_authorization")  # which one would a proxy in front have checked?
    if not values or not isinstance(values[0], str):
        return None
    scheme, _, token = values[0].strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def numeric_date(value: object, *, from_gateway: bool) -> float | None:
    """A NumericDate, or None. A finite JSON number always; from a gateway also its string forms."""
    if isinstance(value, bool):
        return None
    number: float | None = None
    if isinstance(value, int):
        number = float(value) if abs(value) <= MAX_NUMERIC_DATE else None
    elif isinstance(value, float):
        number = value if math.isfinite(value) else None
    elif isinstance(value, str) and from_gateway:
        if _DIGITS.fullmatch(value):
            number = float(int(value))
        elif _REST_DATE.fullmatch(value):
            try:
                parsed = datetime.strptime(value, "%a %b %d %H:%M:%S UTC %Y").replace(tzinfo=UTC)
            except ValueError:
                return None
            number = parsed.timestamp()
    if number is None or not 0 <= number <= MAX_NUMERIC_DATE:
        return None
    return number


def check_times(claims: Mapping[str, Any], *, tolerance: float, now: float, from_gateway: bool) -> None:
    exp = numeric_date(claims.get("exp"), from_gateway=from_gateway)
    if exp is None:
        raise Unauthenticated("invalid_exp")
    if now >= exp + tolerance:
        raise Unauthenticated("expired")
    for name, reason in (("nbf", "not_yet_valid"), ("iat", "issued_in_future")):
        if name not in claims:
            continue
        value = numeric_date(claims[name], from_gateway=from_gateway)
        if value is None:
            raise Unauthenticated(f"invalid_{name}")
        if value > now + tolerance:
            raise Unauthenticated(reason)


def _valid_sub(value: object) -> str:
    """``sub`` keys a DynamoDB item (``USER#<sub>``): no key delimiter, no control character."""
    if not isinstance(value, str) or not value or len(value) > MAX_SUB_LENGTH or value != value.strip():
        raise Unauthenticated("invalid_sub")
    if _PLAIN_SUB.fullmatch(value):
        return value
    if "#" in value or any(unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") for ch in value):
        raise Unauthenticated("invalid_sub")
    return value


def identity_from_claims(
    claims: Mapping[str, Any], settings: CognitoSettings, *, now: float, from_gateway: bool = True
) -> CallerIdentity:
    """Check what the gateway may not have: issuer, token_use, app client, times, sub.

    ``from_gateway``: the claims were stringified by an API Gateway authorizer; False for a JWT we verified.
    """
    issuer = claims.get("iss")
    if not isinstance(issuer, str) or issuer not in settings.issuers:
        raise Unauthenticated("wrong_issuer")
    token_use = claims.get("token_use")
    if not isinstance(token_use, str) or token_use not in settings.token_use:
        raise Unauthenticated("wrong_token_use")
    client_id = claims.get("aud") if token_use == "id" else claims.get("client_id")  # nosec B105  # a claim value
    if not isinstance(client_id, str) or client_id not in settings.app_client_ids:
        raise Unauthenticated("wrong_client")
    check_times(claims, tolerance=settings.clock_tolerance_seconds, now=now, from_gateway=from_gateway)
    sub = _valid_sub(claims.get("sub"))
    username = claims.get("cognito:username") if token_use == "id" else claims.get("username")  # nosec B105  # a claim value
    return CallerIdentity(
        sub=sub, token_use=token_use, client_id=client_id, username=username if isinstance(username, str) else None
    )


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        raise ValueError("duplicate member")
    return result


def _segment(text: str) -> bytes:
    """Canonical unpadded base64url only (RFC 7515 section 2): one spelling per value, so a token cannot be
    re-spelled (non-zero pad bits, '=' padding) into another string that still verifies."""
    if not _B64URL.fullmatch(text) or len(text) % 4 == 1:
        raise ValueError("not base64url")
    raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    if base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii") != text:
        raise ValueError("not canonical base64url")
    return raw


def _json_object(segment: str) -> dict[str, Any]:
    value = json.loads(
        _segment(segment).decode("utf-8"), object_pairs_hook=_no_duplicates, parse_constant=reject_json_constant
    )
    if not isinstance(value, dict):
        raise ValueError("not a JSON object")
    return value


class JwksVerifier:
    """Verifies Cognito-issued RS256 tokens against the pool's key set (cached per container)."""

    def __init__(self, settings: CognitoSettings) -> None:
        self._settings = settings
        self._keys = JwksCache(
            settings.jwks_url,
            lifespan_seconds=settings.jwks_cache_seconds,
            timeout_cap_seconds=settings.jwks_timeout_seconds,
        )

    def verify(self, token: str, *, now: float) -> CallerIdentity:
        # Header and payload are parsed strictly before any network call: garbage never costs a JWKS fetch.
        try:
            header_b64, payload_b64, signature_b64 = token.split(".")
            header = _json_object(header_b64)
            claims = _json_object(payload_b64)
            signature = _segment(signature_b64)
        except (ValueError, RecursionError):
            raise Unauthenticated("malformed_token") from None
        if header.get("alg") != "RS256":
            raise Unauthenticated("algorithm_not_allowed")
        if "crit" in header:
            # RFC 7515 section 4.1.11: extensions listed in crit MUST be understood; this verifier knows none.
            raise Unauthenticated("critical_header_not_understood")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise Unauthenticated("missing_kid")
        jwk = self._keys.signing_key(kid)
        key = jwk.key
        if jwk.key_type != "RSA" or not isinstance(key, RSAPublicKey) or jwk.algorithm_name != "RS256":
            raise Unauthenticated("signing_key_not_rsa")
        if jwk.public_key_use not in (None, "sig"):
            raise Unauthenticated("signing_key_not_for_signatures")
        if not _RS256.verify(f"{header_b64}.{payload_b64}".encode("ascii"), key, signature):
            raise Unauthenticated("invalid_signature")
        return identity_from_claims(claims, self._settings, now=now, from_gateway=False)


def resolve_caller(
    event: Mapping[str, Any], settings: CognitoSettings, verifier: JwksVerifier, *, now: float
) -> CallerIdentity:
    claims = _claims_from_event(event)
    if claims is not None:
        return identity_from_claims(claims, settings, now=now)
    token = _bearer_token(event)
    if token is None:
        raise Unauthenticated("no_identity")
    return verifier.verify(token, now=now)
