"""Lambda entry point for POST /token. Thin: parse, delegate to the service, map errors to HTTP."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.logging import correlation_paths
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
from token_broker.service import TokenService

pin_library_log_levels()  # no log level, root DEBUG included, may let a library print a secret
logger = Logger()
metrics = Metrics()
tracer = Tracer()

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
    return Runtime(settings, JwksVerifier(settings.cognito), service, system_clock)


def reset_runtime() -> None:
    """Forget settings, clients and caches (tests; a fresh container in all but name)."""
    runtime.cache_clear()
    get_settings.cache_clear()
    aws.reset_clients()


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
        return error_response(error)
    except Exception as exc:  # noqa: BLE001 - the caller gets a fixed 500; the type goes to the log
        logger.error("unexpected error", extra={"status": 500, "error_type": type(exc).__name__})
        unexpected = BrokerError("unexpected_error")
        _record_denial(unexpected)
        return error_response(unexpected)

    minted = issued.minted
    logger.info(
        "token issued",
        extra={
            "tenant": issued.entitlement.tenant_id,
            "tableau_username": issued.entitlement.tableau_username,
            "kid": issued.kid,
            "jti": minted.jti,
            "scopes": list(minted.scopes),
            "expires_at": minted.expires_at,
        },
    )
    metrics.add_metric(name=TOKENS_ISSUED, unit=MetricUnit.Count, value=1)
    return token_response(
        minted,
        tableau_url=issued.entitlement.tableau_url,
        site=issued.entitlement.site,
        scopes=minted.scopes,
        now=rt.clock(),
    )


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, log_event=False)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    try:
        with deadline_scope(Deadline.for_invocation(context, margin_seconds=DEADLINE_MARGIN_SECONDS)):
            return handle(event)
    finally:
        logger.remove_keys(["sub"])
