"""DynamoDB and Secrets Manager misbehaving, through real sockets, against the real Lambda handler.

One service at a time is pointed at a fault server (tests/support/fault_servers.py) with boto3's
service-specific endpoint variables, while the other stays on moto's server. The handler runs with a context
whose remaining time follows the real monotonic clock, as Lambda's does, with a short function timeout. For
every fault the answer must come before that timeout: a 503 with Retry-After, the DependencyFailure metric and
a log line naming the dependency when the fault is transient; a 500 configuration_error when it is not; never a
token. Attempts the fault server saw are bounded by the client's retry limit.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tableau_broker import aws
from tests.support.broker_stack import BrokerStack
from tests.support.fault_servers import (
    Action,
    AwsError,
    Delay,
    Forward,
    NeverAnswer,
    RawAnswer,
    Reset,
    running_fault_server,
)
from tests.support.figures import record
from tests.support.log_capture import captured_logs

pytestmark = pytest.mark.fault

FUNCTION_TIMEOUT_SECONDS = 4.0
ENDPOINT_VARIABLE = {"dynamodb": "AWS_ENDPOINT_URL_DYNAMODB", "secretsmanager": "AWS_ENDPOINT_URL_SECRETS_MANAGER"}
OPERATION = {"dynamodb": "GetItem", "secretsmanager": "GetSecretValue"}
DEPENDENCIES = sorted(ENDPOINT_VARIABLE)


class MonotonicContext:
    """Lambda's context object, whose remaining time runs down with the real monotonic clock."""

    def __init__(self, timeout_seconds: float) -> None:
        self.timeout_seconds = timeout_seconds
        self.function_name = "BrokerFunction"
        self.function_version = "$LATEST"
        self.memory_limit_in_mb = 512
        self.invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:BrokerFunction"
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = "/aws/lambda/BrokerFunction"
        self.log_stream_name = "local"
        self._ends_at = time.monotonic() + timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._ends_at - time.monotonic()) * 1000))


@dataclass
class Tally:
    cases: int = 0
    by_status: dict[int, int] = field(default_factory=dict)
    attempts: list[int] = field(default_factory=list)
    slowest_fraction_of_timeout: float = 0.0


@dataclass(frozen=True)
class Outcome:
    status: int
    headers: dict[str, str]
    body: dict[str, Any]
    raw_body: str
    elapsed: float
    logs: list[dict[str, Any]]
    metrics: list[dict[str, Any]]
    attempts: dict[str, int]


@pytest.fixture(scope="module")
def tally() -> Iterator[Tally]:
    counted = Tally()
    yield counted
    record(
        "faults_broker",
        faults_injected=counted.cases,
        answered_200=counted.by_status.get(200, 0),
        answered_500=counted.by_status.get(500, 0),
        answered_503=counted.by_status.get(503, 0),
        max_attempts_per_call=max(counted.attempts, default=0),
        function_timeout_seconds=FUNCTION_TIMEOUT_SECONDS,
        slowest_answer_fraction_of_timeout=round(counted.slowest_fraction_of_timeout, 3),
    )


@pytest.fixture
def inject(
    stack: BrokerStack, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tally: Tally
) -> Any:
    """``inject(dependency, default, script=())``: one request for Alice with ``dependency`` faulty."""
    from token_broker import handler

    def run(dependency: str, default: Action, script: tuple[Action, ...] = ()) -> Outcome:
        event = stack.http_event(stack.claims("alice"))
        with running_fault_server(dependency, script=script, default=default, upstream=stack.moto_url) as server:
            monkeypatch.setenv(ENDPOINT_VARIABLE[dependency], server.url)
            handler.reset_runtime()
            capsys.readouterr()
            context = MonotonicContext(FUNCTION_TIMEOUT_SECONDS)
            started = time.monotonic()
            with captured_logs() as logs:
                response = handler.lambda_handler(event, context)
            elapsed = time.monotonic() - started
            assert server.wait_for_requests(1), "the fault was never reached"
            attempts = server.seen()
        outcome = Outcome(
            status=response["statusCode"],
            headers=response["headers"],
            body=json.loads(response["body"]),
            raw_body=response["body"],
            elapsed=elapsed,
            logs=[json.loads(line) for line in logs.getvalue().splitlines() if line.startswith("{")],
            metrics=[json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith('{"_aws"')],
            attempts=attempts,
        )
        tally.cases += 1
        tally.by_status[outcome.status] = tally.by_status.get(outcome.status, 0) + 1
        tally.attempts.extend(attempts.values())
        tally.slowest_fraction_of_timeout = max(tally.slowest_fraction_of_timeout, elapsed / FUNCTION_TIMEOUT_SECONDS)
        # Whatever the fault: answered before Lambda would have killed the function, each call bounded.
        assert elapsed < FUNCTION_TIMEOUT_SECONDS, outcome
        assert all(count <= aws.MAX_ATTEMPTS for count in attempts.values()), attempts
        return outcome

    return run


def assert_unavailable(outcome: Outcome, dependency: str) -> None:
    assert outcome.status == 503, outcome
    assert outcome.body == {
        "error": {"code": "dependency_unavailable", "message": "A dependency is temporarily unavailable. Retry later."}
    }
    assert int(outcome.headers["Retry-After"]) > 0
    assert "eyJ" not in outcome.raw_body
    denied = [line for line in outcome.logs if line.get("message") == "token denied"]
    assert len(denied) == 1 and denied[0]["status"] == 503, outcome.logs
    assert denied[0]["reason"].startswith(f"{dependency}_"), denied
    (emf,) = outcome.metrics
    assert emf["DependencyFailure"] == [1.0]
    assert (emf["reason"], emf["dependency"]) == ("dependency_unavailable", dependency)
    dimensions = {
        name for metric in emf["_aws"]["CloudWatchMetrics"] for group in metric["Dimensions"] for name in group
    }
    assert "dependency" in dimensions


def assert_retried(outcome: Outcome, dependency: str) -> None:
    """An instant transient answer is tried again (the attempts may stop early when the deadline is near)."""
    assert set(outcome.attempts) == {OPERATION[dependency]}
    assert 2 <= outcome.attempts[OPERATION[dependency]] <= aws.MAX_ATTEMPTS, outcome.attempts


def assert_misconfigured(outcome: Outcome) -> None:
    assert outcome.status == 500, outcome
    assert outcome.body["error"]["code"] == "configuration_error"
    assert "Retry-After" not in outcome.headers
    assert "eyJ" not in outcome.raw_body
    (emf,) = outcome.metrics
    assert emf["reason"] == "configuration_error" and "DependencyFailure" not in emf


def assert_token(outcome: Outcome) -> None:
    assert outcome.status == 200, outcome
    assert outcome.body["token"].startswith("eyJ")


# --- Throttling and timeout codes (AWS answers 400 with the code): retried, then 503 ---------------------------

THROTTLING_CODES = [
    "ThrottlingException",
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
    "LimitExceededException",
    "TooManyRequestsException",
    "RequestTimeout",
    "RequestTimeoutException",
]


@pytest.mark.parametrize("code", THROTTLING_CODES)
@pytest.mark.parametrize("dependency", DEPENDENCIES)
def test_throttling_and_timeout_codes_are_retried_then_503(inject: Any, dependency: str, code: str) -> None:
    outcome = inject(dependency, AwsError(400, code))
    assert_unavailable(outcome, dependency)
    assert_retried(outcome, dependency)


# --- Status classes: any 5xx, 429, 408, with or without an AWS body ---------------------------------------------

STATUS_FAULTS: list[tuple[str, Action]] = [
    ("500-internal", AwsError(500, "InternalServerError")),
    ("500-internal-failure", AwsError(500, "InternalFailure")),
    ("502-html", RawAnswer(502)),
    ("503-unavailable", AwsError(503, "ServiceUnavailable")),
    ("504-html", RawAnswer(504, b"<html>Gateway Timeout</html>")),
    ("429-unknown-code", AwsError(429, "SlowDownPlease")),
    ("408-unknown-code", AwsError(408, "ClientTookTooLong")),
]


@pytest.mark.parametrize("fault", [f for _, f in STATUS_FAULTS], ids=[name for name, _ in STATUS_FAULTS])
@pytest.mark.parametrize("dependency", DEPENDENCIES)
def test_5xx_429_and_408_are_retried_then_503(inject: Any, dependency: str, fault: Action) -> None:
    outcome = inject(dependency, fault)
    assert_unavailable(outcome, dependency)
    assert_retried(outcome, dependency)


# --- Permanent errors: an operator must act; no retry ----------------------------------------------------------


@pytest.mark.parametrize("dependency", DEPENDENCIES)
def test_access_denied_is_a_500_configuration_error_without_retry(inject: Any, dependency: str) -> None:
    outcome = inject(dependency, AwsError(400, "AccessDeniedException", "User is not authorized to perform"))
    assert_misconfigured(outcome)
    assert outcome.attempts == {OPERATION[dependency]: 1}


@pytest.mark.parametrize("dependency", DEPENDENCIES)
def test_missing_table_or_deleted_secret_is_a_500_configuration_error(inject: Any, dependency: str) -> None:
    outcome = inject(dependency, AwsError(400, "ResourceNotFoundException", "Requested resource not found"))
    assert_misconfigured(outcome)
    assert outcome.attempts == {OPERATION[dependency]: 1}


def test_garbage_secret_value_is_a_500_without_the_value(inject: Any, stack: BrokerStack) -> None:
    garbage = "not-json-at-all:" + uuid.uuid4().hex
    stack.secretsmanager.put_secret_value(SecretId=stack.secret_arn, SecretString=garbage)
    outcome = inject("secretsmanager", Forward())
    assert_misconfigured(outcome)
    assert garbage not in json.dumps(outcome.logs) + outcome.raw_body
    assert any(line.get("reason") == "secret is not valid JSON" for line in outcome.logs), outcome.logs


def test_secret_scheduled_for_deletion_is_a_500(inject: Any, stack: BrokerStack) -> None:
    stack.secretsmanager.delete_secret(SecretId=stack.secret_arn, RecoveryWindowInDays=7)
    outcome = inject("secretsmanager", Forward())
    assert_misconfigured(outcome)
    assert outcome.attempts == {"GetSecretValue": 1}


# --- The network itself: silence, slowness, resets ---------------------------------------------------------------


@pytest.mark.parametrize("dependency", DEPENDENCIES)
def test_an_endpoint_that_never_answers_gets_a_503_before_the_deadline(inject: Any, dependency: str) -> None:
    assert_unavailable(inject(dependency, NeverAnswer()), dependency)


@pytest.mark.parametrize("dependency", DEPENDENCIES)
def test_a_reset_connection_is_retried_then_503(inject: Any, dependency: str) -> None:
    outcome = inject(dependency, Reset())
    assert_unavailable(outcome, dependency)
    assert_retried(outcome, dependency)


@pytest.mark.parametrize("dependency", DEPENDENCIES)
def test_an_answer_slower_than_an_attempt_may_wait_is_a_503(inject: Any, dependency: str) -> None:
    too_slow = aws.CONNECT_TIMEOUT_SECONDS + aws.READ_TIMEOUT_SECONDS + 1.0
    assert_unavailable(inject(dependency, Delay(too_slow)), dependency)


@pytest.mark.parametrize("dependency", DEPENDENCIES)
def test_an_answer_within_an_attempts_time_still_gets_a_token(inject: Any, dependency: str) -> None:
    slow_but_fine = aws.READ_TIMEOUT_SECONDS / 8
    outcome = inject(dependency, Delay(slow_but_fine))
    assert_token(outcome)
    # Every call answered on its first attempt: DynamoDB's two reads (user, tenant), the one secret read.
    assert outcome.attempts == {"dynamodb": {"GetItem": 2}, "secretsmanager": {"GetSecretValue": 1}}[dependency]


@pytest.mark.parametrize("dependency", DEPENDENCIES)
def test_a_single_throttle_is_retried_and_the_caller_gets_a_token(inject: Any, dependency: str) -> None:
    outcome = inject(dependency, Forward(), script=(AwsError(400, "ThrottlingException"),))
    assert_token(outcome)
    assert outcome.attempts == {"dynamodb": {"GetItem": 3}, "secretsmanager": {"GetSecretValue": 2}}[dependency]


def test_the_server_counts_what_it_was_sent(stack: BrokerStack) -> None:
    # The attempt bounds above rest on this count: check it against a plain client making known calls.
    with running_fault_server("dynamodb", default=AwsError(400, "AccessDeniedException")) as server:
        client = boto3.client("dynamodb", endpoint_url=server.url, config=Config(retries={"total_max_attempts": 1}))
        for _ in range(2):
            with pytest.raises(ClientError):
                client.get_item(TableName=stack.table, Key={"pk": {"S": "x"}})
        assert server.seen() == {"GetItem": 2}
