"""Which AWS failures are transient (retry, then 503) and how each call is budgeted from the deadline.

The classification must follow botocore's standard retry mode, not a hand-kept list: the cases named below
(TooManyRequestsException, LimitExceededException, RequestTimeout(Exception), 408, 429) were 500s under the
old list. Budgeting through real sockets is in tests/integration/test_aws_budget.py.
"""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    ParamValidationError,
    ReadTimeoutError,
)
from botocore.retries.standard import ThrottledRetryableChecker, TransientRetryableChecker

from tableau_broker import aws
from tableau_broker.deadline import (
    DEFAULT_BUDGET_SECONDS,
    MIN_ATTEMPT_SECONDS,
    Deadline,
    DeadlineExceeded,
    current_deadline,
    deadline_scope,
)
from tableau_broker.errors import DependencyUnavailable


def client_error(code: str, status: int) -> ClientError:
    response: Any = {"Error": {"Code": code, "Message": "m"}, "ResponseMetadata": {"HTTPStatusCode": status}}
    return ClientError(response, "GetItem")


# --- Classification ------------------------------------------------------------------------------------------

ISSUE_CODES = ["TooManyRequestsException", "LimitExceededException", "RequestTimeout", "RequestTimeoutException"]
BOTOCORE_CODES = sorted(
    set(ThrottledRetryableChecker._THROTTLED_ERROR_CODES) | set(TransientRetryableChecker._TRANSIENT_ERROR_CODES)
)


@pytest.mark.parametrize("code", ISSUE_CODES)
def test_throttling_and_timeout_codes_the_old_list_missed_are_transient(code: str) -> None:
    assert aws.is_transient(client_error(code, 400))


@pytest.mark.parametrize("code", BOTOCORE_CODES)
def test_every_code_botocore_standard_mode_retries_is_transient(code: str) -> None:
    assert aws.is_transient(client_error(code, 400))


@pytest.mark.parametrize("status", [408, 429, 500, 501, 502, 503, 504, 599])
def test_retryable_status_classes_are_transient_whatever_the_code(status: int) -> None:
    assert aws.is_transient(client_error("SomeCodeNobodyListed", status))


@pytest.mark.parametrize(
    "code",
    [
        "AccessDeniedException",
        "ResourceNotFoundException",
        "ValidationException",
        "InvalidRequestException",
        "DecryptionFailure",
        "UnrecognizedClientException",
        "ConditionalCheckFailedException",
    ],
)
def test_request_and_permission_errors_are_not_transient(code: str) -> None:
    assert not aws.is_transient(client_error(code, 400))


@pytest.mark.parametrize("status", [400, 403, 404, 409, 413])
def test_other_client_statuses_are_not_transient(status: int) -> None:
    assert not aws.is_transient(client_error("SomeCodeNobodyListed", status))


@pytest.mark.parametrize(
    "exc",
    [
        EndpointConnectionError(endpoint_url="http://127.0.0.1:9"),
        ConnectTimeoutError(endpoint_url="http://127.0.0.1:9"),
        ReadTimeoutError(endpoint_url="http://127.0.0.1:9"),
        ConnectionClosedError(endpoint_url="http://127.0.0.1:9"),
        DeadlineExceeded("dynamodb"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_network_failures_and_the_deadline_are_transient(exc: Exception) -> None:
    assert aws.is_transient(exc)


@pytest.mark.parametrize(
    "exc",
    [NoCredentialsError(), NoRegionError(), ParamValidationError(report="Key is missing")],
    ids=lambda e: type(e).__name__,
)
def test_local_configuration_errors_are_not_transient(exc: Exception) -> None:
    # Retrying cannot fix them, and a 503 would tell the caller to come back to a broken deployment.
    assert not aws.is_transient(exc)


def test_error_code_names_the_aws_code_or_the_exception_type() -> None:
    assert aws.error_code(client_error("ThrottlingException", 400)) == "ThrottlingException"
    assert aws.error_code(ReadTimeoutError(endpoint_url="x")) == "ReadTimeoutError"


# --- Deadline arithmetic -------------------------------------------------------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Remaining:
    def __init__(self, millis: Any) -> None:
        self.millis = millis

    def get_remaining_time_in_millis(self) -> int:
        return int(self.millis)


def test_deadline_is_lambdas_remaining_time_less_the_margin() -> None:
    clock = FakeClock()
    deadline = Deadline.for_invocation(Remaining(4000), margin_seconds=1.0, clock=clock)
    assert deadline.remaining() == pytest.approx(3.0)
    clock.now += 2.0
    assert deadline.remaining() == pytest.approx(1.0)
    assert deadline.attempt_timeout("dynamodb", cap=3.0) == pytest.approx(1.0)
    assert deadline.attempt_timeout("dynamodb", cap=0.75) == pytest.approx(0.75)


def test_no_attempt_starts_when_less_than_the_minimum_is_left() -> None:
    clock = FakeClock()
    deadline = Deadline.after(MIN_ATTEMPT_SECONDS, clock=clock)
    clock.now += 0.01
    with pytest.raises(DeadlineExceeded) as raised:
        deadline.attempt_timeout("secretsmanager", cap=3.0)
    assert isinstance(raised.value, DependencyUnavailable)
    assert (raised.value.status, raised.value.dependency) == (503, "secretsmanager")
    assert raised.value.reason == "secretsmanager_deadline_exceeded"


def test_an_unusable_context_gets_the_bounded_default() -> None:
    clock = FakeClock()
    deadline = Deadline.for_invocation(Remaining("soon"), margin_seconds=1.0, clock=clock)
    assert deadline.remaining() == pytest.approx(DEFAULT_BUDGET_SECONDS - 1.0)
    assert Deadline.for_invocation(None, margin_seconds=5.0, default_seconds=2.0, clock=clock).remaining() == 0.0


def test_deadline_scope_is_the_current_deadline_and_is_restored() -> None:
    outer = current_deadline()
    assert 0 < outer.remaining() <= DEFAULT_BUDGET_SECONDS
    inner = Deadline.after(1.0)
    with deadline_scope(inner):
        assert current_deadline() is inner
    assert current_deadline() is not inner


def test_attempt_timeouts_always_fit_the_budget() -> None:
    budget = MIN_ATTEMPT_SECONDS
    while budget < 5.0:
        connect, read = aws._attempt_timeouts(budget)
        assert connect + read <= budget + 1e-9, budget
        assert 0 < connect <= aws.CONNECT_TIMEOUT_SECONDS and 0 < read <= aws.READ_TIMEOUT_SECONDS, budget
        budget += 0.01
    assert aws._attempt_timeouts(10.0) == (aws.CONNECT_TIMEOUT_SECONDS, aws.READ_TIMEOUT_SECONDS)
