"""How each AWS call is budgeted from the deadline, checked through real sockets (tests/support/fault_servers.py)
in front of moto's server, never by patching ours. Classification of failures: tests/unit/test_aws.py.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError, ConnectionClosedError, EndpointConnectionError, ReadTimeoutError

from tableau_broker import aws
from tableau_broker.deadline import Deadline, DeadlineExceeded, deadline_scope
from tests.support.fault_servers import AwsError, Forward, NeverAnswer, Reset, running_fault_server
from tests.support.moto_server import reset_moto

# What the handler keeps back from Lambda's remaining time: the most a call may overrun its deadline.
HANDLER_MARGIN_SECONDS = 1.0


@pytest.fixture
def secret_in_moto(moto_server_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    reset_moto(moto_server_url)
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server_url)
    boto3.client("secretsmanager", endpoint_url=moto_server_url).create_secret(Name="s", SecretString="v")
    aws.reset_clients()
    yield moto_server_url
    aws.reset_clients()


def pointed_at(url: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("AWS_ENDPOINT_URL_SECRETS_MANAGER", url)
    aws.reset_clients()
    return aws.BudgetedClient("secretsmanager")


def test_a_throttle_is_retried_and_the_next_answer_is_used(
    secret_in_moto: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    throttle = AwsError(400, "ThrottlingException")
    with running_fault_server("secretsmanager", script=[throttle], default=Forward(), upstream=secret_in_moto) as srv:
        value = pointed_at(srv.url, monkeypatch).get_secret_value(SecretId="s")["SecretString"]
    assert value == "v"
    assert srv.seen() == {"GetSecretValue": 2}


def test_persistent_throttling_gives_up_after_the_attempt_limit(
    secret_in_moto: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with (
        running_fault_server("secretsmanager", default=AwsError(400, "LimitExceededException")) as srv,
        pytest.raises(ClientError) as raised,
    ):
        pointed_at(srv.url, monkeypatch).get_secret_value(SecretId="s")
    assert aws.error_code(raised.value) == "LimitExceededException"
    assert srv.attempts("GetSecretValue") == aws.MAX_ATTEMPTS


def test_a_permanent_error_is_not_retried(secret_in_moto: str, monkeypatch: pytest.MonkeyPatch) -> None:
    with (
        running_fault_server("secretsmanager", default=AwsError(400, "AccessDeniedException")) as srv,
        pytest.raises(ClientError) as raised,
    ):
        pointed_at(srv.url, monkeypatch).get_secret_value(SecretId="s")
    assert aws.error_code(raised.value) == "AccessDeniedException"
    assert srv.attempts() == 1


def test_a_reset_connection_is_retried_then_reported(secret_in_moto: str, monkeypatch: pytest.MonkeyPatch) -> None:
    with (
        running_fault_server("secretsmanager", default=Reset()) as srv,
        pytest.raises((ConnectionClosedError, EndpointConnectionError)) as raised,
    ):
        pointed_at(srv.url, monkeypatch).get_secret_value(SecretId="s")
    assert aws.is_transient(raised.value)
    assert srv.attempts() == aws.MAX_ATTEMPTS


@pytest.mark.parametrize("budget", [0.6, 2.0, 4.0])
def test_a_silent_endpoint_is_abandoned_within_the_deadline(
    secret_in_moto: str, monkeypatch: pytest.MonkeyPatch, budget: float
) -> None:
    with running_fault_server("secretsmanager", default=NeverAnswer()) as srv:
        client = pointed_at(srv.url, monkeypatch)
        started = time.monotonic()
        with deadline_scope(Deadline.after(budget)), pytest.raises((ReadTimeoutError, DeadlineExceeded)) as raised:
            client.get_secret_value(SecretId="s")
        elapsed = time.monotonic() - started
        assert srv.wait_for_requests(1)
    assert aws.is_transient(raised.value)
    assert elapsed < budget + HANDLER_MARGIN_SECONDS
    assert 1 <= srv.attempts() <= aws.MAX_ATTEMPTS
