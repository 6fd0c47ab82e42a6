"""On-demand rotation of the connected-app secret: start one, revoke the previous Tableau secret, report the
state. The rules are the rotation function's (``tableau_broker.rotation``); these actions only apply them.
Results carry Tableau secret IDs and times, never a value.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from tableau_broker.clock import Clock, system_clock
from tableau_broker.rotation import (
    AWSPENDING,
    VersionStages,
    describe_rotation,
    is_not_found,
    previous_secret_to_revoke,
    read_stage_secrets,
)
from tableau_broker.signing_secret import read_connected_app_secret
from tableau_broker.tableau_rest import DEFAULT_PATH_FAMILY, admin_connection

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager import SecretsManagerClient


def start_rotation(
    client: SecretsManagerClient,
    secret_arn: str,
    *,
    client_request_token: str | None = None,
    rotation_lambda_arn: str | None = None,
    rotation_rules: Mapping[str, Any] | None = None,
    rotate_immediately: bool = True,
) -> str:
    """Ask Secrets Manager to rotate now (``RotateSecret`` with ``RotateImmediately``); returns the new version's
    token. Secrets Manager then runs the four steps; a failure shows in the rotation function's log.
    ``rotate_immediately=False`` only (re)configures rotation and has Secrets Manager run ``testSecret``."""
    kwargs: dict[str, Any] = {"SecretId": secret_arn, "RotateImmediately": rotate_immediately}
    if client_request_token is not None:
        kwargs["ClientRequestToken"] = client_request_token
    if rotation_lambda_arn is not None:
        kwargs["RotationLambdaARN"] = rotation_lambda_arn
    if rotation_rules is not None:
        kwargs["RotationRules"] = dict(rotation_rules)
    return str(client.rotate_secret(**kwargs)["VersionId"])


def revoke_previous_secret(
    client: SecretsManagerClient,
    secret_arn: str,
    admin_secret_arn: str,
    *,
    grace_seconds: int,
    path_family: str = DEFAULT_PATH_FAMILY,
    clock: Clock = system_clock,
    timeout_seconds: float = 10.0,
) -> str | None:
    """Delete AWSPREVIOUS's secret from Tableau once its grace period has passed (e.g. right after a rotation
    forced by a leak, once brokers have moved on). Returns the deleted Tableau secret ID, or ``None`` when there
    was nothing to revoke. Raises ``RotationTooEarly`` inside the grace period; nothing is deleted then."""
    _, stages = describe_rotation(client, secret_arn)
    stage = read_stage_secrets(client, secret_arn, stages)
    with admin_connection(
        client, admin_secret_arn, path_family=path_family, timeout_seconds=timeout_seconds
    ) as tableau:
        ids = tableau.rest.connected_app_secret_ids(tableau.session, stage.client_id)
        target = previous_secret_to_revoke(ids, stage, now=clock(), grace_seconds=grace_seconds)
        if target is None:
            return None
        tableau.rest.delete_connected_app_secret(tableau.session, stage.client_id, target)
        return target


@dataclass(frozen=True)
class RotationStatus:
    """The secret's stages and the Tableau secret ID (``kid``) behind each; the IDs Tableau holds."""

    rotation_enabled: bool
    stages: VersionStages
    current_secret_id: str
    previous_secret_id: str | None
    pending_secret_id: str | None
    current_since: float
    tableau_secret_ids: list[str] | None


def rotation_status(
    client: SecretsManagerClient,
    secret_arn: str,
    admin_secret_arn: str,
    *,
    path_family: str = DEFAULT_PATH_FAMILY,
    timeout_seconds: float = 10.0,
) -> RotationStatus:
    """Stages, the Tableau secret ID behind each, and the IDs Tableau holds. Never a value."""
    enabled, stages = describe_rotation(client, secret_arn)
    stage = read_stage_secrets(client, secret_arn, stages)
    pending_version = stages.pending_version()
    pending_secret_id = None
    if pending_version is not None:
        try:
            pending = read_connected_app_secret(client, secret_arn, stage=AWSPENDING, version_id=pending_version)
            pending_secret_id = pending.secret_id
        except ClientError as exc:
            if not is_not_found(exc):
                raise
            pending_secret_id = None  # a rotation started but createSecret has not stored a value (yet)
    with admin_connection(
        client, admin_secret_arn, path_family=path_family, timeout_seconds=timeout_seconds
    ) as tableau:
        ids = tableau.rest.connected_app_secret_ids(tableau.session, stage.client_id)
    return RotationStatus(
        rotation_enabled=enabled,
        stages=stages,
        current_secret_id=stage.current_secret_id,
        previous_secret_id=stage.previous_secret_id,
        pending_secret_id=pending_secret_id,
        current_since=stage.current_since,
        tableau_secret_ids=ids,
    )
