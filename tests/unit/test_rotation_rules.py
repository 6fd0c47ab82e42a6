"""Rotation rules without AWS or Tableau: which secrets may go, since when, settings and the admin secret."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ReadTimeoutError

from sam_local.template import Template
from secret_rotation.handler import DEADLINE_MARGIN_SECONDS, failed_dependency, parse_event, safe_reason
from secret_rotation.steps import FAILURE_CLEANUP_SECONDS
from tableau_broker.deadline import DeadlineExceeded
from tableau_broker.errors import ConfigurationError
from tableau_broker.rotation import (
    RotationStateError,
    RotationTooEarly,
    StageSecrets,
    VersionStages,
    current_since_label,
    parse_current_since,
    previous_secret_to_revoke,
    secrets_to_delete_before_create,
)
from tableau_broker.rotation_config import rotation_settings_from_env
from tableau_broker.tableau_rest import (
    AdminSecretError,
    TableauRestClient,
    TableauRestError,
    parse_admin_credentials,
    scrub,
)

NOW = 1_900_000_000.0
GRACE = 900
CURRENT, PREVIOUS, LEFTOVER = "secret-current", "secret-previous", "secret-leftover"


def stage(previous: str | None = PREVIOUS, *, current_since: float = NOW - 3600) -> StageSecrets:
    return StageSecrets(
        client_id="client",
        current_secret_id=CURRENT,
        current_version_id="v-current",
        current_since=current_since,
        previous_secret_id=previous,
    )


# --- making room for a new secret --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("held", "previous", "expected"),
    [
        pytest.param([CURRENT], PREVIOUS, [], id="only-current"),
        pytest.param([CURRENT, PREVIOUS], PREVIOUS, [PREVIOUS], id="previous-past-grace"),
        pytest.param([LEFTOVER, CURRENT], PREVIOUS, [LEFTOVER], id="unreferenced-leftover"),
        pytest.param([CURRENT, LEFTOVER], None, [LEFTOVER], id="leftover-no-previous"),
        pytest.param(None, PREVIOUS, [PREVIOUS], id="list-unavailable-uses-known-ids"),
        pytest.param(None, None, [], id="list-unavailable-nothing-known"),
    ],
)
def test_what_is_deleted_before_a_new_secret_is_created(
    held: list[str] | None, previous: str | None, expected: list[str]
) -> None:
    assert secrets_to_delete_before_create(held, stage(previous), now=NOW, grace_seconds=GRACE) == expected


def test_the_previous_secret_inside_its_grace_period_blocks_the_rotation() -> None:
    recent = stage(current_since=NOW - 100)
    with pytest.raises(RotationTooEarly) as refused:
        secrets_to_delete_before_create([CURRENT, PREVIOUS], recent, now=NOW, grace_seconds=GRACE)
    assert refused.value.secret_id == PREVIOUS
    assert refused.value.seconds_remaining == GRACE - 100
    assert refused.value.not_before == NOW - 100 + GRACE
    # a leftover never blocks, even right after a rotation
    assert secrets_to_delete_before_create([CURRENT, LEFTOVER], recent, now=NOW, grace_seconds=GRACE) == [LEFTOVER]


def test_the_grace_period_ends_exactly_on_time() -> None:
    assert secrets_to_delete_before_create(
        [CURRENT, PREVIOUS], stage(current_since=NOW - GRACE), now=NOW, grace_seconds=GRACE
    ) == [PREVIOUS]


def test_a_tableau_without_the_current_secret_is_refused() -> None:
    with pytest.raises(RotationStateError, match="does not hold AWSCURRENT"):
        secrets_to_delete_before_create([PREVIOUS, LEFTOVER], stage(), now=NOW, grace_seconds=GRACE)


def test_revoke_previous() -> None:
    assert previous_secret_to_revoke([CURRENT, PREVIOUS], stage(), now=NOW, grace_seconds=GRACE) == PREVIOUS
    assert previous_secret_to_revoke([CURRENT], stage(), now=NOW, grace_seconds=GRACE) is None
    assert previous_secret_to_revoke([CURRENT, LEFTOVER], stage(None), now=NOW, grace_seconds=GRACE) is None
    with pytest.raises(RotationTooEarly):
        previous_secret_to_revoke([CURRENT, PREVIOUS], stage(current_since=NOW - 1), now=NOW, grace_seconds=GRACE)


# --- bookkeeping labels ------------------------------------------------------------------------------------


def test_current_since_labels() -> None:
    label = current_since_label(NOW + 0.2)
    assert label == f"TABLEAU_BROKER_CURRENT_SINCE_{int(NOW) + 1}"  # rounded up, never earlier than the move
    assert len(label) <= 256
    assert parse_current_since(label) == int(NOW) + 1
    assert parse_current_since("AWSCURRENT") is None
    assert parse_current_since("TABLEAU_BROKER_CURRENT_SINCE_x") is None
    stages = VersionStages.of(
        {
            "v2": ["AWSCURRENT", current_since_label(NOW - 10), current_since_label(NOW)],
            "v1": ["AWSPREVIOUS", current_since_label(NOW - 5000)],
            "v0": [],
        }
    )
    assert stages.version_with("AWSCURRENT") == "v2"
    assert stages.version_with("AWSPENDING") is None
    assert stages.current_since("v2") == int(NOW)  # the latest label counts
    assert stages.current_since("v0") is None
    assert len(stages.bookkeeping_labels()) == 3


# --- settings ----------------------------------------------------------------------------------------------


def template_env(**overrides: str) -> dict[str, str]:
    env = Template().function_environment(
        "RotationFunction",
        {"TableauAdminSecret": "arn:admin", "ConnectedAppSecret": "arn:app", "RotationTestUsername": "check@x"},
    )
    return {**env, **overrides}


def test_settings_from_the_templates_defaults() -> None:
    settings = rotation_settings_from_env(template_env())
    assert settings.admin_secret_arn == "arn:admin"
    assert settings.test_username == "check@x"
    assert settings.test_scopes == ("tableau:content:read",)
    assert settings.path_family == "connected-applications"
    assert settings.previous_secret_grace_seconds == 900
    assert settings.previous_secret_grace_seconds >= settings.secret_cache_ttl_seconds


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        pytest.param({"PREVIOUS_SECRET_GRACE_SECONDS": "299"}, "at least", id="grace-below-cache-ttl"),
        pytest.param(
            {"SECRET_CACHE_TTL_SECONDS": "800", "PREVIOUS_SECRET_GRACE_SECONDS": "900"}, "at least", id="ttl+life"
        ),
        pytest.param({"TABLEAU_CONNECTED_APP_PATH_FAMILY": "connected-apps"}, "PATH_FAMILY", id="bad-family"),
        pytest.param({"ROTATION_TEST_SCOPE": "tableau:views:embed"}, "REST API scopes", id="embed-scope"),
        pytest.param({"ROTATION_TEST_SCOPE": "content:read"}, "REST API scopes", id="not-a-scope"),
        pytest.param({"ROTATION_TEST_USERNAME": " "}, "ROTATION_TEST_USERNAME", id="no-user"),
        pytest.param({"TABLEAU_ADMIN_SECRET_ARN": ""}, "TABLEAU_ADMIN_SECRET_ARN", id="no-admin"),
    ],
)
def test_settings_refuse_to_start(overrides: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        rotation_settings_from_env(template_env(**overrides))


def test_the_other_path_family_and_several_scopes() -> None:
    settings = rotation_settings_from_env(
        template_env(
            TABLEAU_CONNECTED_APP_PATH_FAMILY="connected-apps/direct-trust",
            ROTATION_TEST_SCOPE="tableau:content:read, tableau:users:read",
        )
    )
    assert settings.path_family == "connected-apps/direct-trust"
    assert settings.test_scopes == ("tableau:content:read", "tableau:users:read")


# --- the admin secret --------------------------------------------------------------------------------------

ADMIN = {
    "pat_name": "rotation",
    "pat_secret": "pat-secret-value-0123456789",
    "site_content_url": "analytics",
    "tableau_url": "https://tableau.example.com/",
}


def test_admin_credentials() -> None:
    creds = parse_admin_credentials(json.dumps(ADMIN))
    assert creds.tableau_url == "https://tableau.example.com"
    assert creds.api_version == "3.21"
    assert "pat-secret-value" not in repr(creds)
    assert parse_admin_credentials(json.dumps({**ADMIN, "api_version": "3.24"})).api_version == "3.24"
    assert parse_admin_credentials(json.dumps({**ADMIN, "site_content_url": ""})).site_content_url == ""  # Default
    local = parse_admin_credentials(json.dumps({**ADMIN, "tableau_url": "http://127.0.0.1:8088"}))
    assert local.tableau_url == "http://127.0.0.1:8088"


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        pytest.param(Template().properties("TableauAdminSecret")["SecretString"], "lacks", id="template-placeholder"),
        pytest.param(None, "no SecretString", id="none"),
        pytest.param("pat-secret-value-0123456789", "not valid JSON", id="not-json"),
        pytest.param(json.dumps({**ADMIN, "pat_secret": ""}), "pat_secret", id="empty-pat"),
        pytest.param(json.dumps({**ADMIN, "password": "x"}), "unexpected", id="unknown-field"),
        pytest.param(json.dumps({**ADMIN, "api_version": "latest"}), "api_version", id="bad-version"),
        pytest.param(json.dumps({**ADMIN, "tableau_url": "http://tableau.example.com"}), "https", id="plain-http"),
        pytest.param(json.dumps({**ADMIN, "tableau_url": "http://127.0.0.1.evil.com"}), "https", id="fake-loopback"),
        pytest.param(json.dumps({**ADMIN, "tableau_url": "http://localhost.attacker.example"}), "https", id="fake-lo"),
        pytest.param(json.dumps({**ADMIN, "tableau_url": "https://u:p@tableau.example"}), "credentials", id="userinfo"),
        pytest.param(json.dumps({**ADMIN, "tableau_url": "https://tableau.example/?x=1"}), "query", id="query"),
        pytest.param(json.dumps({**ADMIN, "tableau_url": "https://tableau.example:99999"}), "valid URL", id="port"),
    ],
)
def test_admin_secret_refused_without_echoing_it(raw: str | None, message: str) -> None:
    with pytest.raises(AdminSecretError, match=message) as refused:
        parse_admin_credentials(raw)
    assert "pat-secret-value" not in str(refused.value)


# --- errors never carry credentials ------------------------------------------------------------------------


def test_scrub_removes_known_credentials_and_anything_jwt_shaped() -> None:
    jwt_like = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl"
    text = scrub(
        f"bad token {jwt_like} for pat pat-secret-value-0123456789 " + "x" * 500, ("pat-secret-value-0123456789",)
    )
    assert "eyJ" not in text and "pat-secret-value" not in text
    assert "[redacted]" in text and "[redacted-jwt]" in text
    assert len(text) <= 200


def test_rest_error_text() -> None:
    error = TableauRestError("sign-in (PAT)", status=401, code="401001", detail="Signin Error")
    assert str(error) == "Tableau REST sign-in (PAT) failed: HTTP 401, Tableau error 401001 (Signin Error)"
    assert not error.transient
    assert TableauRestError("x", status=503).transient and TableauRestError("x").transient
    assert TableauRestError("x", status=429).transient


def test_rest_client_refuses_plain_http_off_loopback_and_unknown_families() -> None:
    with pytest.raises(ConfigurationError):
        TableauRestClient("http://tableau.example.com")
    with pytest.raises(ConfigurationError):
        TableauRestClient("https://tableau.example.com", path_family="connected-apps")
    with pytest.raises(ConfigurationError):
        TableauRestClient("https://tableau.example.com", api_version="3")


# --- the event ---------------------------------------------------------------------------------------------


def test_parse_event() -> None:
    event: dict[str, Any] = {"Step": "createSecret", "SecretId": "arn:x", "ClientRequestToken": "t" * 36}
    request = parse_event(event)
    assert (request.step, request.secret_arn, request.token) == ("createSecret", "arn:x", "t" * 36)
    no_token = {k: v for k, v in event.items() if k != "ClientRequestToken"}
    for broken in ({**event, "Step": "rotate"}, {**event, "SecretId": ""}, no_token):
        with pytest.raises(RotationStateError):
            parse_event(broken)


def test_the_cleanup_after_a_failure_fits_in_the_handlers_margin() -> None:
    # createSecret's cleanup may run after the step's deadline; it must still end before Lambda's Timeout
    assert 0 < FAILURE_CLEANUP_SECONDS < DEADLINE_MARGIN_SECONDS


def test_failures_name_their_dependency() -> None:
    timeout = ReadTimeoutError(endpoint_url="http://127.0.0.1:1/")
    assert (failed_dependency(timeout), safe_reason(timeout)) == ("secretsmanager", "Secrets Manager: ReadTimeoutError")
    refused = TableauRestError("sign-in (PAT)", status=401)
    assert failed_dependency(refused) == "tableau"
    assert failed_dependency(DeadlineExceeded("tableau")) == "tableau"
    assert failed_dependency(RotationStateError("version v1 is not AWSPENDING")) is None


def test_safe_reason_never_uses_the_text_of_foreign_exceptions() -> None:
    assert safe_reason(ValueError("secret-value-in-a-message")) == "ValueError"
    assert safe_reason(RotationStateError("version v1 is not AWSPENDING")) == "version v1 is not AWSPENDING"
