from __future__ import annotations

from typing import Any

import pytest

from tableau_broker.config import settings_from_env
from tableau_broker.errors import ConfigurationError

BASE = {
    "COGNITO_USER_POOL_ID": "eu-west-1_AbCdEf123",
    "COGNITO_APP_CLIENT_IDS": "client-a, client-b",
    "ENTITLEMENTS_TABLE": "entitlements",
    "CONNECTED_APP_SECRET_ARN": "arn:aws:secretsmanager:eu-west-1:1:secret:tableau",
}


def settings(**overrides: Any) -> Any:
    return settings_from_env({**BASE, **overrides})


def test_defaults() -> None:
    s = settings()
    assert s.token_lifetime_seconds == 300
    assert s.clock_skew_seconds == 5
    assert s.tenant_attribute == "tenant"
    assert s.default_scopes == ("tableau:views:embed",)
    assert s.cognito.issuer == "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbCdEf123"
    assert s.cognito.jwks_url == s.cognito.issuer + "/.well-known/jwks.json"
    assert s.cognito.app_client_ids == {"client-a", "client-b"}
    assert s.cognito.token_use == {"id", "access"}
    assert s.allowed_secret_ids == {BASE["CONNECTED_APP_SECRET_ARN"]}


def test_jwks_url_is_configurable_separately_from_the_issuer() -> None:
    s = settings(COGNITO_JWKS_URL="http://127.0.0.1:5000/pool/.well-known/jwks.json")
    assert s.cognito.jwks_url.startswith("http://127.0.0.1:5000")
    assert s.cognito.issuer.startswith("https://cognito-idp.eu-west-1")


@pytest.mark.parametrize(
    "overrides",
    [
        {"TOKEN_LIFETIME_SECONDS": "601"},
        {"TOKEN_LIFETIME_SECONDS": "600"},  # plus the 5 s back-dating exceeds Tableau's maximum
        {"TOKEN_LIFETIME_SECONDS": "five"},
        {"COGNITO_TOKEN_USE": "refresh"},
        {"COGNITO_APP_CLIENT_IDS": ""},
        {"ENTITLEMENTS_TABLE": ""},
        {"CONNECTED_APP_SECRET_ARN": ""},
        {"TENANT_ATTRIBUTE_NAME": "sub"},
        {"DEFAULT_SCOPES": "tableau:content:read"},
        {"EXTRA_EMBED_SCOPES": "tableau:content:read"},
        {"COGNITO_JWKS_URL": "http://evil.example/jwks.json"},
    ],
)
def test_unsafe_settings_refuse_to_start(overrides: dict[str, str]) -> None:
    with pytest.raises(ConfigurationError):
        settings(**overrides)


def test_additional_secrets_and_retired_scopes_are_opt_in() -> None:
    s = settings(ADDITIONAL_CONNECTED_APP_SECRET_ARNS="arn:x,arn:y", EXTRA_EMBED_SCOPES="tableau:metrics:embed")
    assert s.allowed_secret_ids == {BASE["CONNECTED_APP_SECRET_ARN"], "arn:x", "arn:y"}
    assert "tableau:metrics:embed" in s.embed_scopes
