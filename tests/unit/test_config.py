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
    assert s.allowed_secret_arns == {BASE["CONNECTED_APP_SECRET_ARN"]}


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
        {"COGNITO_JWKS_URL": "http://localhost.attacker.example/jwks.json"},  # parsed, not prefix-matched
        {"COGNITO_JWKS_URL": "http://127.0.0.1.attacker.example/jwks.json"},
        {"COGNITO_JWKS_URL": "http://localhost@attacker.example/jwks.json"},
        {"COGNITO_JWKS_URL": "https://user:pw@cognito.example/jwks.json"},
        {"COGNITO_ISSUER_TYPE": "NEWEST"},
        {"COGNITO_REGION": "mars"},
        {"COGNITO_REPLICA_REGIONS": "us-west-2,evil.example/x"},
        {"COGNITO_ISSUERS": "http://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbCdEf123"},
        {"COGNITO_ISSUERS": "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbCdEf123/"},
        {"COGNITO_ISSUER": "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbCdEf123"},
        {"COGNITO_USER_POOL_ID": "AbCdEf123"},
        {"COGNITO_CLOCK_TOLERANCE_SECONDS": "61"},
        {"COGNITO_CLOCK_TOLERANCE_SECONDS": "-1"},
    ],
)
def test_unsafe_settings_refuse_to_start(overrides: dict[str, str]) -> None:
    with pytest.raises(ConfigurationError):
        settings(**overrides)


def test_additional_secrets_and_retired_scopes_are_opt_in() -> None:
    s = settings(ADDITIONAL_CONNECTED_APP_SECRET_ARNS="arn:x,arn:y", EXTRA_EMBED_SCOPES="tableau:metrics:embed")
    assert s.allowed_secret_arns == {BASE["CONNECTED_APP_SECRET_ARN"], "arn:x", "arn:y"}
    assert "tableau:metrics:embed" in s.embed_scopes


POOL = BASE["COGNITO_USER_POOL_ID"]


def test_original_issuer_names_the_issuing_region_and_replicas_are_accepted_exactly() -> None:
    s = settings(COGNITO_ISSUER_TYPE="ORIGINAL", COGNITO_REPLICA_REGIONS="eu-central-1, us-east-1")
    primary = f"https://cognito-idp.eu-west-1.amazonaws.com/{POOL}"
    assert s.cognito.issuer == primary
    assert s.cognito.issuers == {
        primary,
        f"https://cognito-idp.eu-central-1.amazonaws.com/{POOL}",
        f"https://cognito-idp.us-east-1.amazonaws.com/{POOL}",
    }
    assert s.cognito.jwks_url == f"{primary}/.well-known/jwks.json"


def test_updated_issuer_names_the_primary_region_for_every_replica() -> None:
    s = settings(COGNITO_ISSUER_TYPE="UPDATED", COGNITO_REPLICA_REGIONS="eu-central-1")
    issuer = f"https://issuer-cognito-idp.eu-west-1.amazonaws.com/{POOL}"
    assert (s.cognito.issuer, s.cognito.issuers) == (issuer, {issuer})
    assert s.cognito.jwks_url == f"{issuer}/.well-known/jwks.json"


def test_pool_region_can_be_given_and_issuers_can_be_listed_exactly() -> None:
    assert (
        settings(COGNITO_REGION="eu-north-1").cognito.issuer == f"https://cognito-idp.eu-north-1.amazonaws.com/{POOL}"
    )
    listed = f"https://issuer-cognito-idp.eu-west-1.amazonaws.com/{POOL},https://idp.example/{POOL}"
    s = settings(COGNITO_ISSUERS=listed)
    assert s.cognito.issuer == listed.split(",")[0]
    assert s.cognito.issuers == set(listed.split(","))


def test_clock_tolerance_defaults_to_five_seconds() -> None:
    assert settings().cognito.clock_tolerance_seconds == 5
    assert settings(COGNITO_CLOCK_TOLERANCE_SECONDS="0").cognito.clock_tolerance_seconds == 0
