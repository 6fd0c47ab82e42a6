"""The four steps of Secrets Manager's rotation contract for a Tableau connected-app secret.

Tableau generates the secret, so ``createSecret`` creates it at Tableau and stores it as AWSPENDING;
``setSecret`` only confirms Tableau still holds it; ``testSecret`` signs in to the REST API with a JWT signed
with it; ``finishSecret`` promotes it. The previous Tableau secret is *not* deleted here: brokers cache the old
value for minutes. The next rotation's ``createSecret`` deletes it once its grace period has passed (see
``tableau_broker.rotation``). Every step is safe to run again.

A pending version is promoted only if it holds a parsed secret of the current secret's connected app, other
than the current secret, that Tableau holds. A step that finds the pending version unusable - no value, not a
secret of this app, the current secret again, or one Tableau no longer holds - takes AWSPENDING off it
(*abandons* it) before failing: while AWSPENDING sits on a version that is not AWSCURRENT, Secrets Manager
refuses every later RotateSecret, so leaving it would block the next rotation. A ``createSecret`` that fails
before storing a value abandons its (empty) version for the same reason; a Tableau secret it created but did
not store is unreferenced, and the next ``createSecret`` deletes it. A step that fails for a passing reason
(Tableau or AWS unreachable, slow, 5xx, a refused PAT) keeps a usable pending version: Secrets Manager
reattempts that rotation, and ``token-broker rotate-now`` clears it before starting a new one.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from aws_lambda_powertools import Logger
from botocore.exceptions import BotoCoreError, ClientError

from tableau_broker import aws
from tableau_broker.clock import Clock
from tableau_broker.deadline import Deadline, current_deadline, deadline_scope
from tableau_broker.errors import DependencyUnavailable, MalformedSecret
from tableau_broker.rotation import (
    AWSCURRENT,
    AWSPENDING,
    PendingVersionAbandoned,
    RotationStateError,
    VersionStages,
    abandon_pending_version,
    current_since_label,
    describe_rotation,
    is_not_found,
    parse_current_since,
    read_stage_secrets,
    secrets_to_delete_before_create,
)
from tableau_broker.rotation_config import RotationSettings
from tableau_broker.scopes import REST_SIGN_IN
from tableau_broker.signing_secret import ConnectedAppSecret, parse_connected_app_secret
from tableau_broker.tableau_jwt import mint_token
from tableau_broker.tableau_rest import (
    AdminConnection,
    Sleep,
    TableauAdminCredentials,
    TableauRestClient,
    admin_connection,
    read_admin_credentials,
)

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager import SecretsManagerClient

logger = Logger(child=True)

TEST_TOKEN_LIFETIME_SECONDS = 60  # the testSecret JWT is redeemed at once
FAILURE_CLEANUP_SECONDS = 2.0  # must stay below the handler's DEADLINE_MARGIN_SECONDS


def _budgeted_secrets_client() -> SecretsManagerClient:
    return aws.secretsmanager_client()


@dataclass(frozen=True)
class RotationContext:
    """Secrets Manager is always reached through ``aws.secretsmanager_client()``: every call budgeted from the
    invocation's deadline (``tableau_broker.aws.BudgetedClient``), never a raw boto3 client."""

    settings: RotationSettings
    clock: Clock
    sleep: Sleep = time.sleep
    secrets: SecretsManagerClient = field(default_factory=_budgeted_secrets_client)

    def _rest_options(self) -> dict[str, object]:
        return {
            "path_family": self.settings.path_family,
            "timeout_seconds": self.settings.rest_timeout_seconds,
            "max_attempts": self.settings.rest_max_attempts,
            "sleep": self.sleep,
        }

    def rest(self, admin: TableauAdminCredentials) -> TableauRestClient:
        return TableauRestClient.for_admin(admin, **self._rest_options())

    def tableau_admin(self) -> contextlib.AbstractContextManager[AdminConnection]:
        """The admin secret read, a REST client built and a PAT session open for the block."""
        return admin_connection(self.secrets, self.settings.admin_secret_arn, **self._rest_options())


Step = Callable[[RotationContext, str, str, VersionStages], None]


# --- reading and judging the versions ----------------------------------------------------------------------


def _raw_value(ctx: RotationContext, secret_arn: str, version_id: str, stage: str) -> str | None:
    try:
        response = ctx.secrets.get_secret_value(SecretId=secret_arn, VersionId=version_id, VersionStage=stage)
    except ClientError as exc:
        if not is_not_found(exc):
            raise
        return None  # Secrets Manager labelled the version, nobody stored a value in it (yet)
    return response.get("SecretString")


def _current_version(stages: VersionStages) -> str:
    current_version = stages.version_with(AWSCURRENT)
    if current_version is None:
        raise RotationStateError("the secret has no AWSCURRENT version")
    return current_version


@contextlib.contextmanager
def failure_cleanup_scope() -> Iterator[None]:
    """Time for the Secrets Manager calls that tidy up after a failure, even when the failure used up the step's
    deadline (a Tableau that never answered): at least ``FAILURE_CLEANUP_SECONDS``, taken from the margin the
    handler keeps back from Lambda's Timeout (``DEADLINE_MARGIN_SECONDS``, larger)."""
    outer = current_deadline()
    floor = time.monotonic() + FAILURE_CLEANUP_SECONDS
    with deadline_scope(outer if outer.expires_at >= floor else Deadline(floor)):
        yield


def _abandon(ctx: RotationContext, secret_arn: str, token: str, problem: str) -> PendingVersionAbandoned:
    """Take AWSPENDING off ``token`` (so the next rotation can start) and return the error to raise."""
    try:
        with failure_cleanup_scope():
            abandoned = abandon_pending_version(ctx.secrets, secret_arn, token)
    except (ClientError, BotoCoreError, RotationStateError, DependencyUnavailable) as exc:
        logger.error(
            "could not take AWSPENDING off the unusable version",
            extra={"problem": problem, "error_type": type(exc).__name__, "reason": aws.error_code(exc)},
        )
        return PendingVersionAbandoned(token, problem, abandoned=False)
    if abandoned:
        logger.warning("pending version abandoned", extra={"problem": problem})
    return PendingVersionAbandoned(token, problem, abandoned=abandoned)


def _usable_pending(
    ctx: RotationContext, secret_arn: str, token: str, stages: VersionStages, raw_pending: str | None
) -> ConnectedAppSecret:
    """The pending secret, if it is one this rotation may promote (Tableau's part is checked by the caller);
    otherwise the version is abandoned and the step fails."""
    if raw_pending is None:
        raise _abandon(ctx, secret_arn, token, f"version {token} holds no value: createSecret never stored one")
    current_version = _current_version(stages)
    try:
        current = parse_connected_app_secret(_raw_value(ctx, secret_arn, current_version, AWSCURRENT))
    except MalformedSecret as exc:
        raise _abandon(ctx, secret_arn, token, f"AWSCURRENT holds no connected-app secret ({exc.reason})") from None
    try:
        pending = parse_connected_app_secret(raw_pending)
    except MalformedSecret as exc:
        raise _abandon(
            ctx, secret_arn, token, f"version {token} holds no connected-app secret ({exc.reason})"
        ) from None
    if pending.client_id != current.client_id:
        raise _abandon(ctx, secret_arn, token, f"version {token} holds a secret of another connected app")
    if pending.secret_id == current.secret_id:
        raise _abandon(ctx, secret_arn, token, f"version {token} holds the current secret {current.secret_id}")
    return pending


def _require_held(
    ctx: RotationContext, tableau: AdminConnection, secret_arn: str, token: str, pending: ConnectedAppSecret
) -> None:
    if not tableau.rest.connected_app_secret_exists(tableau.session, pending.client_id, pending.secret_id):
        raise _abandon(ctx, secret_arn, token, f"Tableau no longer holds the pending secret {pending.secret_id}")


def _checked_pending(
    ctx: RotationContext, secret_arn: str, token: str, stages: VersionStages
) -> tuple[ConnectedAppSecret, TableauAdminCredentials]:
    """The pending secret after checking its value and that Tableau holds it (one admin session)."""
    pending = _usable_pending(ctx, secret_arn, token, stages, _raw_value(ctx, secret_arn, token, AWSPENDING))
    with ctx.tableau_admin() as tableau:
        _require_held(ctx, tableau, secret_arn, token, pending)
    return pending, tableau.credentials


# --- the steps ---------------------------------------------------------------------------------------------


def create_secret(ctx: RotationContext, secret_arn: str, token: str, stages: VersionStages) -> None:
    raw_pending = _raw_value(ctx, secret_arn, token, AWSPENDING)
    if raw_pending is not None:
        existing = _usable_pending(ctx, secret_arn, token, stages, raw_pending)
        logger.info("pending secret already stored; reusing it", extra={"kid": existing.secret_id})
        return
    try:
        _create_and_store(ctx, secret_arn, token, stages)
    except Exception:
        # Refused (grace period) or failed before a value was stored: an empty AWSPENDING would block every later
        # RotateSecret. If the value did get stored (an ambiguous failure of the write), keep it for the retry.
        # Whatever happens here, the error that ended the step is the one raised.
        with failure_cleanup_scope():
            try:
                stored = _raw_value(ctx, secret_arn, token, AWSPENDING) is not None
            except Exception as check:  # noqa: BLE001 - logged by type and code; the step's own error follows
                logger.error("could not check the pending version", extra={"reason": aws.error_code(check)})
            else:
                if not stored:
                    _abandon(ctx, secret_arn, token, f"createSecret stored no value in version {token}")
        raise


def _create_and_store(ctx: RotationContext, secret_arn: str, token: str, stages: VersionStages) -> None:
    stage = read_stage_secrets(ctx.secrets, secret_arn, stages)
    with ctx.tableau_admin() as tableau:
        rest, session = tableau.rest, tableau.session
        held = rest.connected_app_secret_ids(session, stage.client_id)
        doomed = secrets_to_delete_before_create(
            held, stage, now=ctx.clock(), grace_seconds=ctx.settings.previous_secret_grace_seconds
        )
        for secret_to_delete in doomed:
            was_there = rest.delete_connected_app_secret(session, stage.client_id, secret_to_delete)
            reason = "previous_past_grace" if secret_to_delete == stage.previous_secret_id else "unreferenced"
            logger.info(
                "tableau secret deleted", extra={"kid": secret_to_delete, "reason": reason, "was_present": was_there}
            )
        created = rest.create_connected_app_secret(session, stage.client_id)
        # A crash between these two lines leaves an unreferenced secret in Tableau: the next createSecret deletes it.
        ctx.secrets.put_secret_value(
            SecretId=secret_arn, ClientRequestToken=token, SecretString=created.to_json(), VersionStages=[AWSPENDING]
        )
        logger.info("pending secret created", extra={"kid": created.secret_id})


def set_secret(ctx: RotationContext, secret_arn: str, token: str, stages: VersionStages) -> None:
    pending, _ = _checked_pending(ctx, secret_arn, token, stages)
    logger.info("tableau holds the pending secret", extra={"kid": pending.secret_id})


def test_secret(ctx: RotationContext, secret_arn: str, token: str, stages: VersionStages) -> None:
    current_version = _current_version(stages)
    raw_pending = _raw_value(ctx, secret_arn, token, AWSPENDING)
    raw_current = _raw_value(ctx, secret_arn, current_version, AWSCURRENT)
    if raw_pending is not None and raw_pending != raw_current:
        pending, admin = _checked_pending(ctx, secret_arn, token, stages)
        _sign_in_with(ctx, pending, admin)
        return
    # Secrets Manager testing the configuration (RotateSecret with RotateImmediately=false: CloudFormation creating
    # or updating the schedule) on an empty or copied AWSPENDING version: test the current secret. At first deploy
    # it is still the template's placeholder, and that must not fail the deploy. Nothing is promoted from here:
    # finishSecret refuses a version that holds no new secret.
    try:
        current = parse_connected_app_secret(raw_current)
    except MalformedSecret as exc:
        logger.warning("configuration test: no connected-app credentials stored yet", extra={"reason": str(exc)})
        return
    logger.info("configuration test: signing in with the current secret", extra={"kid": current.secret_id})
    _sign_in_with(ctx, current, read_admin_credentials(ctx.secrets, ctx.settings.admin_secret_arn))


def _sign_in_with(ctx: RotationContext, secret: ConnectedAppSecret, admin: TableauAdminCredentials) -> None:
    """Proof that Tableau accepts ``secret``: a REST sign-in as the test user with a JWT it signed."""
    rest = ctx.rest(admin)

    def mint() -> str:
        return mint_token(
            secret,
            username=ctx.settings.test_username,
            scopes=ctx.settings.test_scopes,
            attributes={},
            lifetime_seconds=TEST_TOKEN_LIFETIME_SECONDS,
            now=ctx.clock(),
            kind=REST_SIGN_IN,
        ).token

    session = rest.sign_in_with_jwt(mint, admin.site_content_url)
    rest.quiet_sign_out(session)
    logger.info(
        "tableau accepted a token signed with the secret",
        extra={"kid": secret.secret_id, "tableau_username": ctx.settings.test_username},
    )


def finish_secret(ctx: RotationContext, secret_arn: str, token: str, stages: VersionStages) -> None:
    current_version = _current_version(stages)
    # Never promote what brokers could not sign with: the same checks as setSecret, whatever ran before.
    pending, _ = _checked_pending(ctx, secret_arn, token, stages)
    # The moment is recorded on the version before it becomes current, so it never postdates the move.
    ctx.secrets.update_secret_version_stage(
        SecretId=secret_arn, VersionStage=current_since_label(ctx.clock()), MoveToVersionId=token
    )
    ctx.secrets.update_secret_version_stage(
        SecretId=secret_arn, VersionStage=AWSCURRENT, MoveToVersionId=token, RemoveFromVersionId=current_version
    )
    logger.info(
        "AWSCURRENT moved", extra={"from_version": current_version, "to_version": token, "kid": pending.secret_id}
    )
    tidy_after_finish(ctx, secret_arn, token)


def tidy_after_finish(ctx: RotationContext, secret_arn: str, token: str) -> None:
    """Take AWSPENDING off the promoted version and drop bookkeeping labels that no longer matter (also run
    when a retried finishSecret finds the token already current)."""
    _, stages = describe_rotation(ctx.secrets, secret_arn)
    if AWSPENDING in stages.stages_of(token):
        ctx.secrets.update_secret_version_stage(SecretId=secret_arn, VersionStage=AWSPENDING, RemoveFromVersionId=token)
    keep = stages.current_since(token)
    for version, label in stages.bookkeeping_labels():
        if version != token or parse_current_since(label) != keep:
            ctx.secrets.update_secret_version_stage(
                SecretId=secret_arn, VersionStage=label, RemoveFromVersionId=version
            )


STEPS: dict[str, Step] = {
    "createSecret": create_secret,
    "setSecret": set_secret,
    "testSecret": test_secret,
    "finishSecret": finish_secret,
}
