"""Lambda entry point for Secrets Manager rotation. Thin: parse the event, guard, dispatch one step.

Guards (as in AWS's rotation templates): rotation enabled; the token is a version of this secret; a token
already AWSCURRENT means there is nothing to do; a token that is not AWSPENDING is an error. A failing step
raises, and Secrets Manager retries the whole rotation later.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import BotoCoreError, ClientError

from secret_rotation.steps import STEPS, RotationContext, tidy_after_finish
from tableau_broker import aws
from tableau_broker.clock import Clock, system_clock
from tableau_broker.deadline import Deadline, deadline_scope
from tableau_broker.errors import BrokerError, DependencyUnavailable
from tableau_broker.log_policy import pin_library_log_levels
from tableau_broker.rotation import (
    AWSCURRENT,
    AWSPENDING,
    RotationError,
    RotationNotEnabled,
    RotationStateError,
    VersionStages,
    describe_rotation,
)
from tableau_broker.rotation_config import rotation_settings_from_env
from tableau_broker.tableau_rest import DEPENDENCY as TABLEAU
from tableau_broker.tableau_rest import Sleep, TableauRestError

pin_library_log_levels()  # no log level, root DEBUG included, may let a library print a secret
logger = Logger()
metrics = Metrics()

# Kept back from Lambda's remaining time so a step that runs out of time fails cleanly, naming the dependency.
DEADLINE_MARGIN_SECONDS = 5.0
SECRETSMANAGER = "secretsmanager"  # as aws.secretsmanager_client() names it in DeadlineExceeded

# Outcome metrics, one per invocation (template.yaml's dashboard names the same; a test checks).
ROTATION_STEP_SUCCEEDED = "RotationStepSucceeded"
ROTATION_STEP_FAILED = "RotationStepFailed"
STEP = "step"


@dataclass(frozen=True)
class RotationRequest:
    step: str
    secret_arn: str  # the event's SecretId: the Secrets Manager secret being rotated
    token: str


def parse_event(event: Mapping[str, Any]) -> RotationRequest:
    step, secret_arn, token = (event.get(k) for k in ("Step", "SecretId", "ClientRequestToken"))
    if step not in STEPS:
        raise RotationStateError(f"unknown rotation step {str(step)[:40]!r}")
    if not isinstance(secret_arn, str) or not secret_arn or not isinstance(token, str) or not token:
        raise RotationStateError("the event lacks SecretId or ClientRequestToken")
    return RotationRequest(step=str(step), secret_arn=secret_arn, token=token)


def build_context(
    env: Mapping[str, str] | None = None,
    *,
    clock: Clock = system_clock,
    sleep: Sleep = time.sleep,
) -> RotationContext:
    """Settings are checked here: a grace period shorter than the brokers' cache refuses to run at all. Secrets
    Manager is reached through ``aws.secretsmanager_client()``, budgeted from the invocation's deadline."""
    settings = rotation_settings_from_env(os.environ if env is None else env)
    return RotationContext(settings, clock, sleep, aws.secretsmanager_client())


@lru_cache(maxsize=1)
def runtime() -> RotationContext:
    return build_context()


def reset_runtime() -> None:
    """Forget settings and clients (tests; a fresh container in all but name)."""
    runtime.cache_clear()
    aws.reset_clients()


def guard(ctx: RotationContext, request: RotationRequest) -> VersionStages | None:
    """The version stages to work from, or ``None`` when the token is already current (nothing to do)."""
    enabled, stages = describe_rotation(ctx.secrets, request.secret_arn)
    if not enabled:
        raise RotationNotEnabled(f"rotation is not enabled for secret {request.secret_arn}")
    if request.token not in stages.versions:
        raise RotationStateError(f"version {request.token} is not a version of secret {request.secret_arn}")
    token_stages = stages.stages_of(request.token)
    if AWSCURRENT in token_stages:
        return None
    if AWSPENDING not in token_stages:
        raise RotationStateError(
            f"version {request.token} is not AWSPENDING (a failed step may have abandoned it): start a new rotation"
        )
    return stages


def failed_dependency(exc: BaseException) -> str | None:
    """The dependency a failure came from, for the log line: this function talks to Tableau's REST API and,
    through boto3, to Secrets Manager only."""
    if isinstance(exc, DependencyUnavailable):
        return exc.dependency
    if isinstance(exc, TableauRestError):
        return TABLEAU
    if isinstance(exc, ClientError | BotoCoreError):
        return SECRETSMANAGER
    return None


def safe_reason(exc: BaseException) -> str:
    """Our own errors carry safe messages by construction; for anything else only the type or AWS error code."""
    if isinstance(exc, RotationError | TableauRestError | BrokerError):
        return str(exc)
    if isinstance(exc, ClientError | BotoCoreError):
        return f"Secrets Manager: {aws.error_code(exc)}"
    return type(exc).__name__


def handle(event: Mapping[str, Any], ctx: RotationContext | None = None) -> None:
    try:
        request = parse_event(event)
        logger.append_keys(step=request.step, secret_arn=request.secret_arn, version_id=request.token)
        ctx = ctx or runtime()
        stages = guard(ctx, request)
        if stages is None:
            if request.step == "finishSecret":
                tidy_after_finish(ctx, request.secret_arn, request.token)
            logger.info("version is already AWSCURRENT; nothing to do")
            return
        STEPS[request.step](ctx, request.secret_arn, request.token, stages)
    except Exception as exc:
        logger.error(
            "rotation step failed",
            extra={"error_type": type(exc).__name__, "dependency": failed_dependency(exc), "reason": safe_reason(exc)},
        )
        raise
    logger.info("rotation step done")


def record_outcome(event: Mapping[str, Any], *, succeeded: bool) -> None:
    """Counted under [service] and, for a known step, [service, step]; an unknown ``Step`` is never a dimension
    value (whatever the event says would become a new metric)."""
    metrics.add_metric(
        name=ROTATION_STEP_SUCCEEDED if succeeded else ROTATION_STEP_FAILED, unit=MetricUnit.Count, value=1
    )
    step = event.get("Step")
    if isinstance(step, str) and step in STEPS:
        extra = {STEP: step}
        metrics.add_dimensions(**({"service": metrics.service, **extra} if metrics.service else extra))


@logger.inject_lambda_context(log_event=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> None:
    try:
        with deadline_scope(Deadline.for_invocation(context, margin_seconds=DEADLINE_MARGIN_SECONDS)):
            handle(event)
    except Exception:
        record_outcome(event, succeeded=False)
        raise
    else:
        record_outcome(event, succeeded=True)
    finally:
        logger.remove_keys(["step", "secret_arn", "version_id"])
