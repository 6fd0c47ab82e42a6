"""The four steps of Secrets Manager's rotation contract for a Tableau connected-app secret.

Tableau generates the secret, so ``createSecret`` creates it at Tableau and stores it as AWSPENDING;
``setSecret`` only confirms Tableau still holds it; ``testSecret`` signs in to the REST API with a JWT signed
with it; ``finishSecret`` promotes it. The previous Tableau secret is *not* deleted here: brokers cache the old
value for minutes. The next rotation's ``createSecret`` deletes it once its grace period has passed (see
``tableau_broker.rotation``). Every step is safe to run again.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from aws_lambda_powertools import Logger

from tableau_broker.clock import Clock
from tableau_broker.errors import MalformedSecret
from tableau_broker.rotation import (
    AWSCURRENT,
    AWSPENDING,
    RotationStateError,
    VersionStages,
    current_since_label,
    describe_rotation,
    parse_current_since,
    read_stage_secrets,
    secrets_to_delete_before_create,
)
from tableau_broker.rotation_config import RotationSettings
from tableau_broker.signing_secret import ConnectedAppSecret, parse_connected_app_secret, read_connected_app_secret
from tableau_broker.tableau_jwt import mint_embed_token
from tableau_broker.tableau_rest import Sleep, TableauAdminCredentials, TableauRestClient, read_admin_credentials

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager import SecretsManagerClient

logger = Logger(child=True)

TEST_TOKEN_LIFETIME_SECONDS = 60  # the testSecret JWT is redeemed at once


@dataclass(frozen=True)
class RotationContext:
    settings: RotationSettings
    secrets: SecretsManagerClient
    clock: Clock
    sleep: Sleep = time.sleep

    def rest(self, admin: TableauAdminCredentials) -> TableauRestClient:
        return TableauRestClient.for_admin(
            admin,
            path_family=self.settings.path_family,
            timeout_seconds=self.settings.rest_timeout_seconds,
            max_attempts=self.settings.rest_max_attempts,
            sleep=self.sleep,
        )


Step = Callable[[RotationContext, str, str, VersionStages], None]


def _pending(ctx: RotationContext, secret_id: str, token: str) -> ConnectedAppSecret | None:
    try:
        return read_connected_app_secret(ctx.secrets, secret_id, stage=AWSPENDING, version_id=token)
    except ctx.secrets.exceptions.ResourceNotFoundException:
        return None  # Secrets Manager labelled the version AWSPENDING, createSecret has not stored a value yet


def _require_pending(ctx: RotationContext, secret_id: str, token: str) -> ConnectedAppSecret:
    pending = _pending(ctx, secret_id, token)
    if pending is None:
        raise RotationStateError(f"version {token} has no value: createSecret has not completed")
    return pending


def create_secret(ctx: RotationContext, secret_id: str, token: str, stages: VersionStages) -> None:
    stage = read_stage_secrets(ctx.secrets, secret_id, stages)
    existing = _pending(ctx, secret_id, token)
    if existing is not None:
        if existing.client_id != stage.client_id or existing.secret_id == stage.current_secret_id:
            raise RotationStateError(f"version {token} holds another app's secret or the current one: start over")
        logger.info("pending secret already stored; reusing it", extra={"kid": existing.secret_id})
        return
    admin = read_admin_credentials(ctx.secrets, ctx.settings.admin_secret_id)
    rest = ctx.rest(admin)
    with rest.admin_session(admin) as session:
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
        # A crash between these two lines leaves an unreferenced secret in Tableau: the retry deletes it above.
        ctx.secrets.put_secret_value(
            SecretId=secret_id, ClientRequestToken=token, SecretString=created.to_json(), VersionStages=[AWSPENDING]
        )
        logger.info("pending secret created", extra={"kid": created.secret_id})


def set_secret(ctx: RotationContext, secret_id: str, token: str, stages: VersionStages) -> None:
    pending = _require_pending(ctx, secret_id, token)
    admin = read_admin_credentials(ctx.secrets, ctx.settings.admin_secret_id)
    rest = ctx.rest(admin)
    with rest.admin_session(admin) as session:
        if not rest.connected_app_secret_exists(session, pending.client_id, pending.secret_id):
            raise RotationStateError(
                f"Tableau no longer holds the pending secret {pending.secret_id}: the rotation must start over"
            )
    logger.info("tableau holds the pending secret", extra={"kid": pending.secret_id})


def _raw_value(ctx: RotationContext, secret_id: str, version_id: str, stage: str) -> str | None:
    try:
        response = ctx.secrets.get_secret_value(SecretId=secret_id, VersionId=version_id, VersionStage=stage)
    except ctx.secrets.exceptions.ResourceNotFoundException:
        return None
    return response.get("SecretString")


def test_secret(ctx: RotationContext, secret_id: str, token: str, stages: VersionStages) -> None:
    current_version = stages.version_with(AWSCURRENT)
    if current_version is None:
        raise RotationStateError("the secret has no AWSCURRENT version")
    raw_pending = _raw_value(ctx, secret_id, token, AWSPENDING)
    raw_current = _raw_value(ctx, secret_id, current_version, AWSCURRENT)
    if raw_pending is not None and raw_pending != raw_current:
        secret = parse_connected_app_secret(raw_pending)
    else:
        # Not a rotation: Secrets Manager testing the configuration (RotateSecret with RotateImmediately=false,
        # e.g. when CloudFormation creates the schedule) on an empty or copied AWSPENDING version. Test the
        # current secret; at first deploy it is still the template's placeholder, and that must not fail the deploy.
        try:
            secret = parse_connected_app_secret(raw_current)
        except MalformedSecret as exc:
            logger.warning("configuration test: no connected-app credentials stored yet", extra={"reason": str(exc)})
            return
        logger.info("configuration test: signing in with the current secret", extra={"kid": secret.secret_id})
    _sign_in_with(ctx, secret)


def _sign_in_with(ctx: RotationContext, secret: ConnectedAppSecret) -> None:
    """Proof that Tableau accepts ``secret``: a REST sign-in as the test user with a JWT it signed."""
    admin = read_admin_credentials(ctx.secrets, ctx.settings.admin_secret_id)
    rest = ctx.rest(admin)

    def mint() -> str:
        return mint_embed_token(
            secret,
            username=ctx.settings.test_username,
            scopes=ctx.settings.test_scopes,
            attributes={},
            lifetime_seconds=TEST_TOKEN_LIFETIME_SECONDS,
            now=ctx.clock(),
            allow_rest_scopes=True,
        ).token

    session = rest.sign_in_with_jwt(mint, admin.site_content_url)
    rest.quiet_sign_out(session)
    logger.info(
        "tableau accepted a token signed with the secret",
        extra={"kid": secret.secret_id, "tableau_username": ctx.settings.test_username},
    )


def finish_secret(ctx: RotationContext, secret_id: str, token: str, stages: VersionStages) -> None:
    current_version = stages.version_with(AWSCURRENT)
    if current_version is None:
        raise RotationStateError("the secret has no AWSCURRENT version")
    if current_version != token:
        # The moment is recorded on the version before it becomes current, so it never postdates the move.
        ctx.secrets.update_secret_version_stage(
            SecretId=secret_id, VersionStage=current_since_label(ctx.clock()), MoveToVersionId=token
        )
        ctx.secrets.update_secret_version_stage(
            SecretId=secret_id, VersionStage=AWSCURRENT, MoveToVersionId=token, RemoveFromVersionId=current_version
        )
        logger.info("AWSCURRENT moved", extra={"from_version": current_version, "to_version": token})
    tidy_after_finish(ctx, secret_id, token)


def tidy_after_finish(ctx: RotationContext, secret_id: str, token: str) -> None:
    """Take AWSPENDING off the promoted version and drop bookkeeping labels that no longer matter (also run
    when a retried finishSecret finds the token already current)."""
    _, stages = describe_rotation(ctx.secrets, secret_id)
    if AWSPENDING in stages.stages_of(token):
        ctx.secrets.update_secret_version_stage(SecretId=secret_id, VersionStage=AWSPENDING, RemoveFromVersionId=token)
    keep = stages.current_since(token)
    for version, label in stages.bookkeeping_labels():
        if version != token or parse_current_since(label) != keep:
            ctx.secrets.update_secret_version_stage(SecretId=secret_id, VersionStage=label, RemoveFromVersionId=version)


STEPS: dict[str, Step] = {
    "createSecret": create_secret,
    "setSecret": set_secret,
    "testSecret": test_secret,
    "finishSecret": finish_secret,
}
