"""Lambda entry point for POST /token. Thin: parse, delegate to the service, map errors to HTTP."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from tableau_broker import aws
from tableau_broker.clock import Clock, system_clock
from tableau_broker.config import BrokerSettings, get_settings
from tableau_broker.deadline import Deadline, deadline_scope
from tableau_broker.entitlements import EntitlementStore
from tableau_broker.errors import BrokerError, DependencyUnavailable
from tableau_broker.identity import JwksVerifier, resolve_caller
from tableau_broker.log_policy import pin_library_log_levels
from tableau_broker.signing_secret import SecretCache
from tableau_broker.tenant_cache import TenantCache
from token_broker.http import error_response, requested_scopes, require_post, token_response
from token_broker.issued_line import IssuedLine
from token_broker.service import IssuedToken, TokenService

try:  # Lambda's Python runtimes include it (awslambdaric depends on it): SnapStart's runtime hooks
    from snapshot_restore_py import register_after_restore
except ImportError:  # pragma: no cover - elsewhere nothing is ever restored from a snapshot

    def register_after_restore(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Callable[..., Any]:
        return func


pin_library_log_levels()  # no log level, root DEBUG included, may let a library print a secret
logger = Logger()
metrics = Metrics()

# Kept back from Lambda's remaining time for the 503, its log line and the metric flush.
DEADLINE_MARGIN_SECONDS = 1.0

# Metric names and dimension names: template.yaml's alarms and dashboard name the same (a test checks).
TOKENS_ISSUED = "TokensIssued"
TOKEN_DENIED = "TokenDenied"  # nosec B105  # a metric name, not a credential
DEPENDENCY_FAILURE = "DependencyFailure"
REASON = "reason"
DEPENDENCY = "dependency"


@dataclass(frozen=True)
class Runtime:
    settings: BrokerSettings
    verifier: JwksVerifier
    service: TokenService
    clock: Clock
    issued_line: IssuedLine


@lru_cache(maxsize=1)
def runtime() -> Runtime:
    """Built on the first request and kept for the container's life (clients, caches, key set)."""
    settings = get_settings()
    service = TokenService(
        settings,
        EntitlementStore(
            aws.dynamodb_client(),
            settings.entitlements_table,
            TenantCache(settings.tenant_cache_ttl_seconds, system_clock),
        ),
        aws.secretsmanager_client(),
        SecretCache(settings.secret_cache_ttl_seconds, clock=system_clock),
        system_clock,
    )
    issued_line = IssuedLine.for_logger(
        logger, namespace=metrics.namespace, metric_name=TOKENS_ISSUED, location=f"{handle.__name__}:issued"
    )
    return Runtime(settings, JwksVerifier(settings.cognito), service, system_clock, issued_line)


def reset_runtime() -> None:
    """Forget settings, clients and caches (tests; a fresh container in all but name)."""
    runtime.cache_clear()
    get_settings.cache_clear()
    container.function_arn = None
    aws.reset_clients()


def after_restore() -> None:
    """SnapStart: an execution environment restored from the snapshot starts as a fresh container would. The
    snapshot is taken after init, when nothing per-environment exists yet (settings, clients, connections,
    credentials and caches are built on the first request; ``jti`` and retry jitter come from the kernel on
    every call); this hook makes that hold even if something ran before the snapshot."""
    reset_runtime()
    container.restored()


register_after_restore(after_restore)


def _service_dimensions(**extra: str) -> dict[str, str]:
    return {"service": metrics.service, **extra} if metrics.service else extra


def _record_denial(error: BrokerError) -> None:
    """Each metric of the invocation goes out under [service] (one alarmable total, whatever the reason or
    dependency) and under [service, reason] and [service, dependency] for the dashboard. EMF publishes every metric
    of a line under each dimension set of its ``Dimensions`` array, so one line carries all three."""
    metrics.add_metric(name=TOKEN_DENIED, unit=MetricUnit.Count, value=1)
    metrics.add_dimensions(**_service_dimensions(**{REASON: error.code}))
    if isinstance(error, DependencyUnavailable):
        metrics.add_metric(name=DEPENDENCY_FAILURE, unit=MetricUnit.Count, value=1)
        metrics.add_dimensions(**_service_dimensions(**{DEPENDENCY: error.dependency}))


def issued_fields(issued: IssuedToken) -> dict[str, object]:
    """What the ``token issued`` line says of a token (the saved Logs Insights queries read these)."""
    minted = issued.minted
    return {
        "tenant": issued.entitlement.tenant_id,
        "tableau_username": issued.entitlement.tableau_username,
        "kid": issued.kid,
        "jti": minted.jti,
        "scopes": list(minted.scopes),
        "expires_at": minted.expires_at,
        "dynamodb_ms": issued.dynamodb_ms,
        "secretsmanager_ms": issued.secretsmanager_ms,
    }


def handle(event: dict[str, Any]) -> dict[str, Any]:
    try:
        require_post(event)
        rt = runtime()
        # Authenticate first: an anonymous caller learns nothing about what the body parser accepts.
        caller = resolve_caller(event, rt.settings.cognito, rt.verifier, now=rt.clock())
        logger.append_keys(sub=caller.sub)
        scopes = requested_scopes(event, max_bytes=rt.settings.max_request_bytes)
        issued = rt.service.issue(caller, scopes)
    except BrokerError as error:
        log = logger.error if error.status >= 500 else logger.warning
        extra: dict[str, object] = {"status": error.status, "code": error.code, "reason": error.reason}
        if isinstance(error, DependencyUnavailable):
            extra["dependency"] = error.dependency  # a field to query, not only a prefix of the reason
        log("token denied", extra=extra)
        _record_denial(error)
        metrics.flush_metrics()
        return error_response(error)
    except Exception as exc:  # noqa: BLE001 - the caller gets a fixed 500; the type goes to the log
        logger.error("unexpected error", extra={"status": 500, "error_type": type(exc).__name__})
        unexpected = BrokerError("unexpected_error")
        _record_denial(unexpected)
        metrics.flush_metrics()
        return error_response(unexpected)

    minted = issued.minted
    # One line: the "token issued" log record and the TokensIssued metric (token_broker.issued_line).
    now = rt.clock()
    rt.issued_line.write(issued_fields(issued), now=now)
    return token_response(
        minted,
        tableau_url=issued.entitlement.tableau_url,
        site=issued.entitlement.site,
        scopes=minted.scopes,
        now=now,
    )


def _request_id(event: object) -> str | None:
    """API Gateway's request ID (HTTP API and REST API events alike): the log lines' ``correlation_id``."""
    context = event.get("requestContext") if isinstance(event, dict) else None
    request_id = context.get("requestId") if isinstance(context, dict) else None
    return request_id if isinstance(request_id, str) else None


class _Container:
    """``cold_start``: True for the container's first invocation only; and the function ARN the container's
    log keys were last appended for."""

    def __init__(self) -> None:
        self._first = True
        self._lock = threading.Lock()
        self.function_arn: str | None = None

    def cold_start(self) -> bool:
        with self._lock:
            first, self._first = self._first, False
        return first

    def restored(self) -> None:
        """The first invocation after a SnapStart restore is this environment's first: a cold start."""
        with self._lock:
            self._first = True


container = _Container()


def _append_invocation_keys(event: object, context: LambdaContext) -> None:
    """The keys ``Logger.inject_lambda_context`` appends, and the ``correlation_id`` its API Gateway path
    extracts, set directly: the decorator rebuilds a context model and runs a JMESPath query per request.
    The previous invocation's ``sub`` is cleared here (a None key is never written) before anything logs."""
    if container.function_arn != context.invoked_function_arn:
        # The same for every invocation of the container: appended once.
        logger.append_keys(
            function_name=context.function_name,
            function_memory_size=int(context.memory_limit_in_mb),
            function_arn=context.invoked_function_arn,
        )
        container.function_arn = context.invoked_function_arn
    logger.append_keys(
        cold_start=container.cold_start(),
        function_request_id=context.aws_request_id,
        correlation_id=_request_id(event),
        sub=None,
    )


def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    _append_invocation_keys(event, context)
    with deadline_scope(Deadline.for_invocation(context, margin_seconds=DEADLINE_MARGIN_SECONDS)):
        return handle(event)
