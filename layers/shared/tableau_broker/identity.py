"""Who is calling: verified Cognito claims from the API Gateway authorizer, or a bearer token we verify.

API Gateway's JWT authorizer checks signature, ``iss``, ``exp`` and ``aud``/``client_id`` but not
``token_use``; REST API Cognito authorizers check less still. We re-check every claim we rely on. When an
event carries no authorizer claims (a route without an authorizer, a Function URL, a direct invoke) the
``Authorization: Bearer`` token is verified here against the pool's JWKS (RS256 only).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import jwt

from tableau_broker.config import CognitoSettings
from tableau_broker.errors import DependencyUnavailable, Unauthenticated

CLOCK_LEEWAY_SECONDS = 30  # tolerance for exp on gateway-verified claims and bearer tokens


@dataclass(frozen=True)
class CallerIdentity:
    sub: str
    token_use: str
    client_id: str
    username: str | None


def _claims_from_event(event: Mapping[str, Any]) -> Mapping[str, Any] | None:
    context = event.get("requestContext")
    if not isinstance(context, Mapping):
        return None
    authorizer = context.get("authorizer")
    if not isinstance(authorizer, Mapping):
        return None
    jwt_section = authorizer.get("jwt")  # HTTP API payload v2
    if isinstance(jwt_section, Mapping) and isinstance(jwt_section.get("claims"), Mapping):
        claims = jwt_section["claims"]
        return claims if claims else None
    claims = authorizer.get("claims")  # REST API v1 with a Cognito user pool authorizer
    if isinstance(claims, Mapping) and claims:
        return claims
    return None


def _bearer_token(event: Mapping[str, Any]) -> str | None:
    headers = event.get("headers")
    if not isinstance(headers, Mapping):
        return None
    value = next((v for k, v in headers.items() if isinstance(k, str) and k.lower() == "authorization"), None)
    if not isinstance(value, str):
        return None
    scheme, _, token = value.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def _epoch(value: object) -> float | None:
    """``exp`` arrives as a number, a numeric string (HTTP API) or 'Thu Nov 23 03:07:05 UTC 2026' (REST API)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        text = value.strip()
        try:
            return float(text)
        except ValueError:
            pass
        try:
            return datetime.strptime(text.replace("UTC", "+0000"), "%a %b %d %H:%M:%S %z %Y").timestamp()
        except ValueError:
            return None
    return None


def identity_from_claims(claims: Mapping[str, Any], settings: CognitoSettings, *, now: float) -> CallerIdentity:
    """Check what the gateway may not have: issuer, token_use, app client, expiry. Reasons never hold values."""
    if str(claims.get("iss", "")).rstrip("/") != settings.issuer:
        raise Unauthenticated("wrong_issuer")
    token_use = claims.get("token_use")
    if token_use not in settings.token_use:
        raise Unauthenticated("wrong_token_use")
    client_id = claims.get("aud") if token_use == "id" else claims.get("client_id")  # nosec B105  # a claim value
    if not isinstance(client_id, str) or client_id not in settings.app_client_ids:
        raise Unauthenticated("wrong_client")
    exp = _epoch(claims.get("exp"))
    if exp is None or exp + CLOCK_LEEWAY_SECONDS < now:
        raise Unauthenticated("expired")
    sub = claims.get("sub")
    if not isinstance(sub, str) or not sub.strip():
        raise Unauthenticated("missing_sub")
    username = claims.get("cognito:username") if token_use == "id" else claims.get("username")  # nosec B105  # a claim value
    return CallerIdentity(
        sub=sub, token_use=token_use, client_id=client_id, username=username if isinstance(username, str) else None
    )


class JwksVerifier:
    """Verifies Cognito-issued RS256 tokens; the key set is fetched lazily and cached per container."""

    def __init__(self, settings: CognitoSettings) -> None:
        self._settings = settings
        self._lock = threading.Lock()
        self._client: jwt.PyJWKClient | None = None

    def _jwk_client(self) -> jwt.PyJWKClient:
        with self._lock:
            if self._client is None:
                self._client = jwt.PyJWKClient(
                    self._settings.jwks_url,
                    cache_keys=True,
                    lifespan=self._settings.jwks_cache_seconds,
                    timeout=int(self._settings.jwks_timeout_seconds),
                )
            return self._client

    def verify(self, token: str, *, now: float) -> CallerIdentity:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise Unauthenticated("malformed_token") from None
        if header.get("alg") != "RS256":
            raise Unauthenticated("algorithm_not_allowed")
        try:
            key = self._jwk_client().get_signing_key_from_jwt(token)
        except (jwt.PyJWKClientConnectionError, jwt.PyJWKSetError):
            raise DependencyUnavailable("jwks_unreachable", dependency="jwks") from None
        except jwt.PyJWKClientError:
            raise Unauthenticated("unknown_signing_key") from None
        try:
            claims = jwt.decode(
                token,
                key.key,
                algorithms=["RS256"],
                # iss, token_use, client and exp are checked below with the same code as gateway claims.
                options={"verify_aud": False, "verify_exp": False, "require": ["exp", "iss", "sub", "token_use"]},
            )
        except jwt.PyJWTError:
            raise Unauthenticated("invalid_token") from None
        return identity_from_claims(claims, self._settings, now=now)


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
