"""No log level may ever emit a secret: the root logger at DEBUG (Lambda's ApplicationLogLevel=DEBUG) included.

botocore at DEBUG logs request and response bodies: a GetSecretValue's SecretString, a PutSecretValue's new
secret. Both functions pin the libraries that log bodies (tableau_broker.log_policy); these tests run each
function's real entry point at every level, with every logger's output captured at the file-descriptor level.
"""

from __future__ import annotations

import contextlib
import io
import logging
from collections.abc import Iterator
from typing import Any

import pytest

from local_stack.rotate import (
    STEP_ORDER,
)
from tableau_broker.log_policy import BODY_LOGGING_LIBRARIES
from tests.support import rotation_world
from tests.support.broker_stack import BrokerStack
from tests.support.rotation_world import World, invoke_lambda

world = rotation_world.world
docker_free_lambda = rotation_world.docker_free_lambda

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


@pytest.mark.parametrize("level", LEVELS)
def test_rotation_logs_no_secret_at_any_level(
    world: World, monkeypatch: pytest.MonkeyPatch, level: str, capfd: pytest.CaptureFixture[str]
) -> None:
    from secret_rotation import handler

    token = world.begin()
    with everything_logged(level, handler.logger) as buffer:
        for step in STEP_ORDER:  # reads the PAT, creates and stores a new secret, signs in with it, promotes it
            invoke_lambda(world, monkeypatch, step, token)
    new_secret = world.stage_secret("AWSCURRENT")
    assert new_secret != world.initial  # the rotation did happen
    captured = capfd.readouterr()
    output = buffer.getvalue() + captured.out + captured.err
    if level == "DEBUG":
        assert "rotation step done" in output
    assert_nothing_sensitive(output, new_secret.secret_value, *world.sensitive())
