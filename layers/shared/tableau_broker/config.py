"""Settings of the token broker, parsed once per container from environment variables.

Nothing here runs at import time: ``get_settings()`` parses on first use and caches the result, and tests
call ``get_settings.cache_clear()`` after changing the environment.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache

from tableau_broker.env import csv_list, env_int, env_list, env_required
from tableau_broker.errors import ConfigurationError
from tableau_broker.scopes import DEFAULT_EMBED_SCOPES, TABLEAU_MAX_LIFETIME_SECONDS, enabled_embed_scopes
from tableau_broker.tenant_cache import DEFAULT_TENANT_CACHE_TTL_SECONDS, MAX_TENANT_CACHE_TTL_SECONDS
from tableau_broker.urls import service_url_problem

DEFAULT_TOKEN_LIFETIME_SECONDS = 300
DEFAULT_SECRET_CACHE_TTL_SECONDS = 300
TOKEN_USE_KINDS = frozenset({"id", "access"})
# A user pool's IssuerConfiguration.Type: the host its tokens' ``iss`` names.
ISSUER_HOSTS = {"ORIGINAL": "cognito-idp", "UPDATED": "issuer-cognito-idp"}
_REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-[0-9]{1,2}")
_USER_POOL_ID = re.compile(r"([a-z]{2}(-[a-z]+)+-[0-9]{1,2})_[0-9A-Za-z]+")


@dataclass(frozen=True)
class CognitoSettings:
    user_pool_id: str
    region: str  # the pool's (primary) region
    issuer: str  # the primary issuer: the one API Gateway's JWT authorizer is configured with
    issuers: frozenset[str]  # every accepted ``iss``, compared exactly (the primary plus ORIGINAL replicas)
    jwks_url: str
    app_client_ids: frozenset[str]
    token_use: frozenset[str]
    jwks_timeout_seconds: float
    jwks_cache_seconds: int
    clock_tolerance_seconds: int  # one tolerance for exp, nbf and iat (see identity.check_times)


@dataclass(frozen=True)
class SigningTimes:
    """Settings both functions read: how long a minted token lives and how long a broker caches the signing
    secret (the rotation function derives the old secret's minimum grace period from them)."""

    token_lifetime_seconds: int
    secret_cache_ttl_seconds: int


@dataclass(frozen=True)
class BrokerSettings:
    cognito: CognitoSettings
    entitlements_table: str
    allowed_secret_arns: frozenset[str]
    default_secret_arn: str
    token_lifetime_seconds: int
    clock_skew_seconds: int
    tenant_attribute: str
    default_scopes: tuple[str, ...]
    embed_scopes: frozenset[str]
    secret_cache_ttl_seconds: int
    max_request_bytes: int
    tenant_cache_ttl_seconds: int  # tableau_broker.tenant_cache: how long a tenant change may take; 0 = no cache


def signing_times_from_env(env: Mapping[str, str]) -> SigningTimes:
    """``TOKEN_LIFETIME_SECONDS`` and ``SECRET_CACHE_TTL_SECONDS``: one default and one range for both functions.
    A lifetime Tableau would reject (10096 / 16) refuses to start rather than fail every viz load."""
    return SigningTimes(
        token_lifetime_seconds=env_int(
            env,
            "TOKEN_LIFETIME_SECONDS",
            DEFAULT_TOKEN_LIFETIME_SECONDS,
            minimum=30,
            maximum=TABLEAU_MAX_LIFETIME_SECONDS,
        ),
        secret_cache_ttl_seconds=env_int(
            env, "SECRET_CACHE_TTL_SECONDS", DEFAULT_SECRET_CACHE_TTL_SECONDS, minimum=0, maximum=3600
        ),
    )


def cognito_issuer(issuer_type: str, region: str, user_pool_id: str) -> str:
    """``iss`` of a pool's tokens: ORIGINAL names the issuing region, UPDATED the pool's primary region."""
    return f"https://{ISSUER_HOSTS[issuer_type]}.{region}.amazonaws.com/{user_pool_id}"


def _region(value: str, name: str) -> str:
    if not _REGION.fullmatch(value):
        raise ConfigurationError(f"{name} is not an AWS region name")
    return value


def _issuers(env: Mapping[str, str], user_pool_id: str, region: str) -> tuple[str, ...]:
    """The primary issuer first. With ORIGINAL, each replica region issues under its own name; with UPDATED
    every region issues under the primary's, so replicas add nothing."""
    if env.get("COGNITO_ISSUER", "").strip():
        raise ConfigurationError("COGNITO_ISSUER was replaced by COGNITO_ISSUERS (an exact, comma-separated list)")
    explicit = env_list(env, "COGNITO_ISSUERS")
    if explicit:
        for issuer in explicit:
            if not issuer.startswith("https://") or service_url_problem(issuer) or issuer.endswith("/"):
                raise ConfigurationError("COGNITO_ISSUERS must list https URLs without a trailing slash")
        return tuple(dict.fromkeys(explicit))
    issuer_type = env.get("COGNITO_ISSUER_TYPE", "").strip().upper() or "ORIGINAL"
    if issuer_type not in ISSUER_HOSTS:
        raise ConfigurationError("COGNITO_ISSUER_TYPE must be ORIGINAL or UPDATED")
    primary = cognito_issuer(issuer_type, region, user_pool_id)
    replicas = [_region(r, "COGNITO_REPLICA_REGIONS") for r in env_list(env, "COGNITO_REPLICA_REGIONS")]
    if issuer_type == "UPDATED":
        return (primary,)
    return tuple(dict.fromkeys([primary, *(cognito_issuer(issuer_type, r, user_pool_id) for r in replicas)]))


def cognito_settings_from_env(env: Mapping[str, str]) -> CognitoSettings:
    user_pool_id = env_required(env, "COGNITO_USER_POOL_ID")
    pool_id_match = _USER_POOL_ID.fullmatch(user_pool_id)
    if not pool_id_match:
        raise ConfigurationError("COGNITO_USER_POOL_ID is not a user pool ID (<region>_<id>)")
    region = _region(env.get("COGNITO_REGION", "").strip() or pool_id_match.group(1), "COGNITO_REGION")
    issuers = _issuers(env, user_pool_id, region)
    jwks_url = env.get("COGNITO_JWKS_URL", "").strip() or f"{issuers[0]}/.well-known/jwks.json"
    client_ids = frozenset(csv_list(env_required(env, "COGNITO_APP_CLIENT_IDS")))
    token_use = frozenset(env_list(env, "COGNITO_TOKEN_USE", "id,access"))
    if not token_use or not token_use <= TOKEN_USE_KINDS:
        raise ConfigurationError("COGNITO_TOKEN_USE must list 'id' and/or 'access'")
    if service_url_problem(jwks_url):
        raise ConfigurationError("COGNITO_JWKS_URL must be https (plain http only on loopback)")
    return CognitoSettings(
        user_pool_id=user_pool_id,
        region=region,
        issuer=issuers[0],
        issuers=frozenset(issuers),
        jwks_url=jwks_url,
        app_client_ids=client_ids,
        token_use=token_use,
        jwks_timeout_seconds=env_int(env, "JWKS_TIMEOUT_SECONDS", 3, minimum=1, maximum=10),
        jwks_cache_seconds=env_int(env, "JWKS_CACHE_SECONDS", 3600, minimum=60, maximum=86400),
        clock_tolerance_seconds=env_int(env, "COGNITO_CLOCK_TOLERANCE_SECONDS", 5, minimum=0, maximum=60),
    )


def settings_from_env(env: Mapping[str, str]) -> BrokerSettings:
    default_secret = env_required(env, "CONNECTED_APP_SECRET_ARN")
    allowed = frozenset([default_secret, *env_list(env, "ADDITIONAL_CONNECTED_APP_SECRET_ARNS")])
    embed_scopes = enabled_embed_scopes(env_list(env, "EXTRA_EMBED_SCOPES"))
    if embed_scopes is None:
        raise ConfigurationError("EXTRA_EMBED_SCOPES may only enable retired embed scopes")
    default_scopes = tuple(env_list(env, "DEFAULT_SCOPES", ",".join(DEFAULT_EMBED_SCOPES)))
    if not default_scopes or not set(default_scopes) <= embed_scopes:
        raise ConfigurationError("DEFAULT_SCOPES must be a non-empty list of embed scopes")
    tenant_attribute = env.get("TENANT_ATTRIBUTE_NAME", "tenant").strip()
    # Imported here to keep the dependency one-way (tableau_jwt knows nothing of settings).
    from tableau_broker.tableau_jwt import check_attribute_name

    check_attribute_name(tenant_attribute)
    times = signing_times_from_env(env)
    skew = env_int(env, "CLOCK_SKEW_SECONDS", 5, minimum=0, maximum=60)
    if times.token_lifetime_seconds + skew > TABLEAU_MAX_LIFETIME_SECONDS:
        # iat is back-dated by the skew, so Tableau measures lifetime + skew against its ten-minute cap.
        raise ConfigurationError(
            f"TOKEN_LIFETIME_SECONDS + CLOCK_SKEW_SECONDS must not exceed {TABLEAU_MAX_LIFETIME_SECONDS}"
        )
    return BrokerSettings(
        cognito=cognito_settings_from_env(env),
        entitlements_table=env_required(env, "ENTITLEMENTS_TABLE"),
        allowed_secret_arns=allowed,
        default_secret_arn=default_secret,
        token_lifetime_seconds=times.token_lifetime_seconds,
        clock_skew_seconds=skew,
        tenant_attribute=tenant_attribute,
        default_scopes=default_scopes,
        embed_scopes=embed_scopes,
        secret_cache_ttl_seconds=times.secret_cache_ttl_seconds,
        max_request_bytes=env_int(env, "MAX_REQUEST_BYTES", 4096, minimum=256, maximum=65536),
        tenant_cache_ttl_seconds=env_int(
            env,
            "TENANT_CACHE_TTL_SECONDS",
            DEFAULT_TENANT_CACHE_TTL_SECONDS,
            minimum=0,
            maximum=MAX_TENANT_CACHE_TTL_SECONDS,
        ),
    )


@lru_cache(maxsize=1)
def get_settings() -> BrokerSettings:
    return settings_from_env(os.environ)
