"""No log level may ever emit a secret: the root logger at DEBUG (Lambda's ApplicationLogLevel=DEBUG) included.

botocore at DEBUG logs request and response bodies: a GetSecretValue's SecretString, a PutSecretValue's new
secret. Both functions pin the libraries that log bodies (tableau_broker.log_policy); these tests run each
function's real entry point at every level, with every logger's output captured at the file-descriptor level.
"""

from __future__ import annotations

import contextlib
import io
import logging
import secrets
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
import requests

from local_stack.rotate import (
    ADMIN_SECRET_NAME,
    STEP_ORDER,
    admin_secret_json,
    begin_rotation,
    create_admin_secret,
    install_rotation_lambda_stub,
    rotation_event,
)
from sam_local import aws_resources
from sam_local.lambda_runtime import LocalLambdaContext
from sam_local.template import Template
from tableau_broker.log_policy import BODY_LOGGING_LIBRARIES
from tableau_broker.signing_secret import ConnectedAppSecret, read_connected_app_secret
from tableau_emulator import EmulatorState, serve
from tests.support.broker_stack import BrokerStack
from tests.support.moto_server import reset_moto

LEVELS = ["DEBUG", "INFO", "WARNING", "ERROR"]


@contextlib.contextmanager
def everything_logged(level: str, function_logger: Any) -> Iterator[io.StringIO]:
    """Root and the function's Powertools logger at ``level``; every record of every logger into one buffer."""
    buffer = io.StringIO()
    catch_all = logging.StreamHandler(buffer)
    catch_all.setLevel(logging.NOTSET)
    catch_all.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s %(args)s"))
    ours = logging.StreamHandler(buffer)
    ours.setFormatter(function_logger.registered_formatter)
    root = logging.getLogger()
    previous = root.level, function_logger.log_level
    root.setLevel(level)
    function_logger.setLevel(level)
    root.addHandler(catch_all)
    function_logger._logger.addHandler(ours)
    try:
        yield buffer
    finally:
        root.removeHandler(catch_all)
        function_logger._logger.removeHandler(ours)
        root.setLevel(previous[0])
        function_logger.setLevel(previous[1])


def assert_nothing_sensitive(output: str, *values: str) -> None:
    assert "SecretString" not in output  # botocore's body dump, the clearest sign of a leak
    for value in values:
        assert value and value not in output


def test_library_loggers_are_pinned_when_the_functions_are_imported() -> None:
    import secret_rotation.handler  # noqa: F401
    import token_broker.handler  # noqa: F401

    for name in BODY_LOGGING_LIBRARIES:
        assert logging.getLogger(name).level >= logging.WARNING, name  # its own level: root may be DEBUG


@pytest.mark.parametrize("level", LEVELS)
def test_broker_logs_no_secret_at_any_level(stack: BrokerStack, level: str, capfd: pytest.CaptureFixture[str]) -> None:
    from token_broker import handler

    id_token = stack.cognito_tokens("alice")["id_token"]
    with everything_logged(level, handler.logger) as buffer:
        handler.reset_runtime()  # a cold container: the secret and the key set are fetched inside the capture
        status_claims, _, body = stack.invoke(stack.http_event(stack.claims("alice")))
        status_bearer, _, bearer_body = stack.invoke(stack.bearer_event(id_token))
        denied, _, _ = stack.invoke(stack.bearer_event(id_token + "x"))
    assert (status_claims, status_bearer, denied) == (200, 200, 401)
    captured = capfd.readouterr()
    output = buffer.getvalue() + captured.out + captured.err
    if level == "DEBUG":
        assert "token issued" in output  # the capture does see the function's own lines
    assert_nothing_sensitive(output, stack.secret.secret_value, body["token"], bearer_body["token"], id_token)


@pytest.fixture
def rotation_world(moto_server_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    from secret_rotation import handler

    reset_moto(moto_server_url)
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server_url)
    state = EmulatorState()
    state.add_site("analytics")
    state.add_user("analytics", "admin@tableau.test", "SiteAdministratorCreator")
    state.add_user("analytics", "rotation-check@tableau.test", "Viewer")
    pat_secret = state.add_pat("analytics", "admin@tableau.test", "rotation")
    initial = ConnectedAppSecret(str(uuid.uuid4()), str(uuid.uuid4()), secrets.token_urlsafe(32))
    state.add_connected_app(
        "analytics",
        "token-broker",
        client_id=initial.client_id,
        domain_allowlist=["127.0.0.1"],
        secrets=[(initial.secret_id, initial.secret_value)],
    )
    server = serve(state)
    session = boto3.session.Session(region_name="us-east-1")
    sm = session.client("secretsmanager", endpoint_url=moto_server_url)
    template = Template()
    secret_arn = aws_resources.create_connected_app_secret(template, sm, "log-levels/connected-app", initial)
    admin_json = admin_secret_json(
        pat_name="rotation", pat_secret=pat_secret, site_content_url="analytics", tableau_url=server.url
    )
    admin_arn = create_admin_secret(template, sm, ADMIN_SECRET_NAME, admin_json)
    env = template.function_environment(
        "RotationFunction",
        {
            "ConnectedAppSecret": secret_arn,
            "TableauAdminSecret": admin_arn,
            "RotationTestUsername": "rotation-check@tableau.test",
        },
    )
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    handler.reset_runtime()
    try:
        yield {
            "sm": sm,
            "secret_arn": secret_arn,
            "function_arn": install_rotation_lambda_stub(moto_server_url, session),
            "sensitive": [initial.secret_value, pat_secret],
        }
    finally:
        server.shutdown()
        handler.reset_runtime()
        requests.post(f"{moto_server_url}/moto-api/config", json={"lambda": {"use_docker": True}}, timeout=10)


@pytest.mark.parametrize("level", LEVELS)
def test_rotation_logs_no_secret_at_any_level(
    rotation_world: dict[str, Any], level: str, capfd: pytest.CaptureFixture[str]
) -> None:
    from secret_rotation import handler

    sm, secret_arn = rotation_world["sm"], rotation_world["secret_arn"]
    token = begin_rotation(sm, secret_arn, rotation_world["function_arn"])
    context = LocalLambdaContext(function_name="RotationFunction")
    with everything_logged(level, handler.logger) as buffer:
        for step in STEP_ORDER:  # reads the PAT, creates and stores a new secret, signs in with it, promotes it
            handler.lambda_handler(rotation_event(step, secret_arn, token), context)
    new_secret = read_connected_app_secret(sm, secret_arn, stage="AWSCURRENT")
    assert new_secret.secret_value not in rotation_world["sensitive"]  # the rotation did happen
    captured = capfd.readouterr()
    output = buffer.getvalue() + captured.out + captured.err
    if level == "DEBUG":
        assert "rotation step done" in output
    assert_nothing_sensitive(output, new_secret.secret_value, *rotation_world["sensitive"])
