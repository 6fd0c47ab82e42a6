"""Settings of the secret rotation function, parsed once per container from environment variables."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from tableau_broker.config import signing_times_from_env
from tableau_broker.env import env_int, env_list, env_required
from tableau_broker.errors import ConfigurationError
from tableau_broker.scopes import REST_SIGN_IN
from tableau_broker.tableau_rest import DEFAULT_PATH_FAMILY, PATH_FAMILIES

DEFAULT_TEST_SCOPES = ("tableau:content:read",)
DEFAULT_GRACE_SECONDS = 900
MAX_GRACE_SECONDS = 30 * 86400


@dataclass(frozen=True)
class RotationSettings:
    admin_secret_arn: str
    test_username: str
    test_scopes: tuple[str, ...]
    path_family: str
    previous_secret_grace_seconds: int
    secret_cache_ttl_seconds: int
    token_lifetime_seconds: int
    rest_timeout_seconds: int
    rest_max_attempts: int


def minimum_grace_seconds(secret_cache_ttl_seconds: int, token_lifetime_seconds: int) -> int:
    """A broker may sign with the old secret until its cache expires, and the token it mints last is redeemed
    up to its lifetime later: the old secret must outlive both."""
    return secret_cache_ttl_seconds + token_lifetime_seconds


def rotation_settings_from_env(env: Mapping[str, str]) -> RotationSettings:
    scopes = tuple(dict.fromkeys(env_list(env, "ROTATION_TEST_SCOPE", ",".join(DEFAULT_TEST_SCOPES))))
    if not scopes or not all(REST_SIGN_IN.allows_scope(s) for s in scopes):
        raise ConfigurationError("ROTATION_TEST_SCOPE must list REST API scopes (tableau:<resource>:<action>)")
    family = env.get("TABLEAU_CONNECTED_APP_PATH_FAMILY", "").strip() or DEFAULT_PATH_FAMILY
    if family not in PATH_FAMILIES:
        raise ConfigurationError(f"TABLEAU_CONNECTED_APP_PATH_FAMILY must be one of {', '.join(PATH_FAMILIES)}")
    times = signing_times_from_env(env)
    minimum = minimum_grace_seconds(times.secret_cache_ttl_seconds, times.token_lifetime_seconds)
    grace = env_int(env, "PREVIOUS_SECRET_GRACE_SECONDS", DEFAULT_GRACE_SECONDS, minimum=0, maximum=MAX_GRACE_SECONDS)
    if grace < minimum:
        # Revoking sooner could cut off a warm broker still signing with the old secret: refuse to run at all.
        raise ConfigurationError(
            "PREVIOUS_SECRET_GRACE_SECONDS must be at least SECRET_CACHE_TTL_SECONDS + TOKEN_LIFETIME_SECONDS "
            f"({minimum})"
        )
    username = env_required(env, "ROTATION_TEST_USERNAME")
    return RotationSettings(
        admin_secret_arn=env_required(env, "TABLEAU_ADMIN_SECRET_ARN"),
        test_username=username,
        test_scopes=scopes,
        path_family=family,
        previous_secret_grace_seconds=grace,
        secret_cache_ttl_seconds=times.secret_cache_ttl_seconds,
        token_lifetime_seconds=times.token_lifetime_seconds,
        rest_timeout_seconds=env_int(env, "TABLEAU_REST_TIMEOUT_SECONDS", 10, minimum=1, maximum=60),
        rest_max_attempts=env_int(env, "TABLEAU_REST_MAX_ATTEMPTS", 3, minimum=1, maximum=5),
    )
