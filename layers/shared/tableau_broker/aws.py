"""boto3 clients built lazily, once per container, whose every call is budgeted from the invocation's deadline.

botocore's own retries are off. Each API call goes through ``BudgetedClient``: up to ``MAX_ATTEMPTS`` attempts,
each with connect and read timeouts cut down to what the current deadline leaves (``tableau_broker.deadline``),
with a short jittered back-off between them, retrying only what botocore's standard retry mode itself treats
as transient or throttling (plus any 5xx, 429 and 408). When no attempt fits into the time left, the call is
not made and ``DeadlineExceeded`` names the service instead.
"""

from __future__ import annotations

import functools
import math
import random
import threading
from typing import TYPE_CHECKING, Any, cast

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotoConnectionError
from botocore.retries.standard import RetryContext, ThrottledRetryableChecker, TransientRetryableChecker

from tableau_broker.deadline import DeadlineExceeded, call_within_deadline

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_secretsmanager import SecretsManagerClient

CONNECT_TIMEOUT_SECONDS = 1.0  # in-region AWS endpoints connect in milliseconds
READ_TIMEOUT_SECONDS = 2.0  # a GetItem or GetSecretValue answers in tens of milliseconds when healthy
MAX_ATTEMPTS = 3
BACKOFF_BASE_SECONDS = 0.05
BACKOFF_CAP_SECONDS = 0.5
_TIMEOUT_STEP_SECONDS = 0.25  # per-attempt timeouts are rounded down to this, so few clients are ever built

# Status classes that mean "try again later" whatever the error code says (RFC 9110: 408, 429, 5xx).
_RETRYABLE_STATUSES = frozenset({408, 429})
_TRANSIENT = TransientRetryableChecker()
_THROTTLED = ThrottledRetryableChecker()
# The network-level failures botocore's standard mode retries (connect refused or timed out, read timeout,
# connection reset or closed early). Other botocore errors (missing credentials or region, invalid parameters)
# are our configuration, not a passing fault: retrying them wastes the deadline and 503 would hide them.
_NETWORK_ERRORS = (BotoConnectionError, HTTPClientError)


def error_code(exc: BaseException) -> str:
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code", "Unknown"))
    return type(exc).__name__


def _status(exc: ClientError) -> int:
    try:
        return int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
    except (TypeError, ValueError):
        return 0


def is_transient(exc: BaseException) -> bool:
    """Worth retrying, and a 503 rather than a 500 when retries run out: what botocore's standard retry mode
    classifies as transient or throttling (its own lists of codes and exception classes), any 5xx, 429 or 408
    status, and the network-level botocore errors that mode retries (connect, read timeout, reset)."""
    if isinstance(exc, DeadlineExceeded):
        return True
    if isinstance(exc, ClientError):
        status = _status(exc)
        if status >= 500 or status in _RETRYABLE_STATUSES:
            return True
        context = RetryContext(attempt_number=1, parsed_response=cast(dict[str, Any], exc.response))
        return bool(_TRANSIENT.is_retryable(context) or _THROTTLED.is_retryable(context))
    return isinstance(exc, _NETWORK_ERRORS)


def _round_down(seconds: float) -> float:
    return max(_TIMEOUT_STEP_SECONDS, math.floor(seconds / _TIMEOUT_STEP_SECONDS) * _TIMEOUT_STEP_SECONDS)


_SESSION_LOCK = threading.Lock()


@functools.lru_cache(maxsize=128)
def _raw_client(service: str, connect_timeout: float, read_timeout: float) -> Any:
    # AWS_ENDPOINT_URL (honoured by boto3 itself) points every client at moto's server locally.
    config = Config(
        retries={"mode": "standard", "total_max_attempts": 1},  # our own loop retries, within the deadline
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
    )
    with _SESSION_LOCK:  # a boto3 Session is not thread-safe; the clients it makes are
        return _session().client(service, config=config)  # type: ignore[call-overload]


@functools.lru_cache(maxsize=1)
def _session() -> boto3.session.Session:
    """One session for every client of the container: its loader reads the endpoint, partition and model files
    once (a session per client read them again for each, on the cold start's path). Built on first use, never at
    import: credentials are resolved when a client is made, after any SnapStart restore."""
    return boto3.session.Session()


def _attempt_timeouts(budget: float) -> tuple[float, float]:
    """Connect and read timeouts whose sum fits ``budget`` (the normal ones when there is time). Needs
    ``budget >= 2 * _TIMEOUT_STEP_SECONDS`` (``MIN_ATTEMPT_SECONDS`` guarantees it): both are whole steps."""
    if budget >= CONNECT_TIMEOUT_SECONDS + READ_TIMEOUT_SECONDS:
        return CONNECT_TIMEOUT_SECONDS, READ_TIMEOUT_SECONDS
    connect = _round_down(min(CONNECT_TIMEOUT_SECONDS, budget / 3))
    read = _round_down(min(READ_TIMEOUT_SECONDS, budget - connect))
    return connect, read


class BudgetedClient:
    """A boto3 client whose API calls respect the current deadline; everything else is the real client's."""

    def __init__(self, service: str, *, dependency: str | None = None) -> None:
        self._service = service
        self._dependency = dependency or service
        self._base = _raw_client(service, CONNECT_TIMEOUT_SECONDS, READ_TIMEOUT_SECONDS)

    def __getattr__(self, name: str) -> Any:
        if name in self._base.meta.method_to_api_mapping:
            return functools.partial(self._call, name)
        return getattr(self._base, name)  # exceptions, meta, ...

    def _call(self, operation: str, /, **params: Any) -> Any:
        def attempt(budget: float) -> Any:
            return getattr(_raw_client(self._service, *_attempt_timeouts(budget)), operation)(**params)

        return call_within_deadline(
            attempt,
            dependency=self._dependency,
            cap_seconds=CONNECT_TIMEOUT_SECONDS + READ_TIMEOUT_SECONDS,
            max_attempts=MAX_ATTEMPTS,
            retryable=lambda exc: isinstance(exc, ClientError | BotoCoreError) and is_transient(exc),
            pause_seconds=jittered_pause,
        )


# Jitter from the kernel on every draw: a generator seeded at import would be copied into every execution
# environment restored from one SnapStart snapshot, and their retries would fall in step.
_JITTER = random.SystemRandom()


def jittered_pause(attempt: int) -> float:
    return _JITTER.uniform(0, min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2**attempt))


@functools.lru_cache(maxsize=1)
def dynamodb_client() -> DynamoDBClient:
    return cast("DynamoDBClient", BudgetedClient("dynamodb"))


@functools.lru_cache(maxsize=1)
def secretsmanager_client() -> SecretsManagerClient:
    return cast("SecretsManagerClient", BudgetedClient("secretsmanager"))


def built_clients() -> int:
    """How many boto3 sessions and clients this container holds (0 until the first AWS call; SnapStart checks)."""
    return _raw_client.cache_info().currsize + _session.cache_info().currsize


def reset_clients() -> None:
    """For tests that switch endpoints or credentials."""
    dynamodb_client.cache_clear()
    secretsmanager_client.cache_clear()
    _raw_client.cache_clear()
    _session.cache_clear()
