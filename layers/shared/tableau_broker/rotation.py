"""Rotation rules of the rotation Lambda (which the operator CLI applies too): which Tableau secrets may be
deleted, and since when the previous one stopped being current.

Tableau keeps at most two secrets per connected app. A rotation makes room before creating a new one:

* AWSCURRENT's secret is never touched.
* AWSPREVIOUS's secret is what warm brokers may still sign with (they cache AWSCURRENT for minutes, and a
  token minted from the cache is redeemed up to its lifetime later). It is deleted only once the grace
  period has passed since it stopped being current; before that a rotation refuses and deletes nothing.
* Any other secret of the app is referenced by no stage (e.g. one created by an attempt that crashed before
  storing it): nobody can be signing with it, so it is deleted at once.

When did the previous secret stop being current? When AWSCURRENT moved to today's current version. ``finishSecret``
records that moment on the version itself, as a staging label ``TABLEAU_BROKER_CURRENT_SINCE_<epoch>`` attached
just before it moves AWSCURRENT (labels are the one mutable part of a version; no extra permission is needed
beyond UpdateSecretVersionStage). A current version without the label was stored directly as AWSCURRENT
(``token-broker secret put``), so its ``CreatedDate`` - as GetSecretValue reports it, reliably in AWS and moto -
is the moment it became current. Not used: ``LastChangedDate`` (moved by any change, including starting a
rotation) and ``ListSecretVersionIds``' ``CreatedDate`` (moto reports "now").
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Final

from botocore.exceptions import ClientError

from tableau_broker import aws
from tableau_broker.errors import MalformedSecret
from tableau_broker.signing_secret import parse_connected_app_secret, read_connected_app_secret

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager import SecretsManagerClient

AWSCURRENT: Final = "AWSCURRENT"
AWSPENDING: Final = "AWSPENDING"
AWSPREVIOUS: Final = "AWSPREVIOUS"
CURRENT_SINCE_PREFIX: Final = "TABLEAU_BROKER_CURRENT_SINCE_"


class RotationError(Exception):
    """A rotation step (or an operator action) cannot proceed. The message holds IDs and times, never values."""


class RotationNotEnabled(RotationError):
    pass


class RotationStateError(RotationError):
    """The secret's versions or Tableau's secrets are not in a state this step can work from."""


class PendingVersionAbandoned(RotationStateError):
    """The pending version cannot be promoted; AWSPENDING was taken off it so the next rotation can start."""

    def __init__(self, version_id: str, problem: str, *, abandoned: bool) -> None:
        self.version_id = version_id
        self.abandoned = abandoned
        outcome = (
            f"AWSPENDING was taken off version {version_id}: the next rotation starts afresh"
            if abandoned
            else f"AWSPENDING could not be taken off version {version_id}: 'token-broker rotate-now' clears it"
        )
        super().__init__(f"{problem}; nothing was promoted, {outcome}")


class RotationTooEarly(RotationError):
    """The previous secret is still inside its grace period: deleting it could cut off a warm broker."""

    def __init__(self, secret_id: str, *, stopped_being_current: float, grace_seconds: int, now: float) -> None:
        self.secret_id = secret_id
        self.not_before = stopped_being_current + grace_seconds
        self.seconds_remaining = max(0, math.ceil(self.not_before - now))
        elapsed = max(0, int(now - stopped_being_current))
        super().__init__(
            f"the previous Tableau secret {secret_id} stopped being current {elapsed} s ago; it may be revoked "
            f"only {grace_seconds} s after that (not before {iso(self.not_before)}, {self.seconds_remaining} s "
            "from now). Nothing was revoked; retry the rotation later."
        )


def iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def current_since_label(epoch: float) -> str:
    # Rounded up: the label is written just before AWSCURRENT moves, so it must not claim an earlier moment.
    return f"{CURRENT_SINCE_PREFIX}{math.ceil(epoch)}"


def parse_current_since(label: str) -> int | None:
    if not label.startswith(CURRENT_SINCE_PREFIX):
        return None
    digits = label.removeprefix(CURRENT_SINCE_PREFIX)
    return int(digits) if digits.isdigit() else None


# --- version stages ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class VersionStages:
    """``VersionIdsToStages`` of one secret."""

    versions: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    @classmethod
    def of(cls, raw: Mapping[str, Iterable[str]] | None) -> VersionStages:
        return cls({version: tuple(stages) for version, stages in (raw or {}).items()})

    def version_with(self, stage: str) -> str | None:
        return next((version for version, stages in self.versions.items() if stage in stages), None)

    def stages_of(self, version_id: str) -> tuple[str, ...]:
        return self.versions.get(version_id, ())

    def pending_version(self) -> str | None:
        """The version of a rotation in progress: AWSPENDING on a version that is not (yet) AWSCURRENT."""
        version = self.version_with(AWSPENDING)
        return version if version is not None and AWSCURRENT not in self.stages_of(version) else None

    def current_since(self, version_id: str) -> int | None:
        """The latest ``TABLEAU_BROKER_CURRENT_SINCE_`` label on a version (latest = the conservative choice)."""
        times = [t for t in map(parse_current_since, self.stages_of(version_id)) if t is not None]
        return max(times) if times else None

    def bookkeeping_labels(self) -> list[tuple[str, str]]:
        """Every (version, label) pair of our own labels."""
        return [(v, s) for v, stages in self.versions.items() for s in stages if parse_current_since(s) is not None]

    def to_json(self) -> dict[str, list[str]]:
        return {version: list(stages) for version, stages in self.versions.items()}


def is_not_found(exc: ClientError) -> bool:
    """A read of a version Secrets Manager labelled but nobody stored a value in. Matched by error code, not by
    ``client.exceptions``: the budgeted client may raise from another boto3 client, whose classes differ."""
    return aws.error_code(exc) == "ResourceNotFoundException"


def abandon_pending_version(client: SecretsManagerClient, secret_arn: str, version_id: str) -> bool:
    """Take AWSPENDING off ``version_id`` unless it is also AWSCURRENT; ``True`` when a label was removed. While
    AWSPENDING sits on a version that is not AWSCURRENT, Secrets Manager refuses every RotateSecret ("A previous
    rotation isn't complete"): a failed rotation that leaves it behind blocks all later ones."""
    _, stages = describe_rotation(client, secret_arn)
    version_stages = stages.stages_of(version_id)
    if AWSPENDING not in version_stages or AWSCURRENT in version_stages:
        return False
    client.update_secret_version_stage(SecretId=secret_arn, VersionStage=AWSPENDING, RemoveFromVersionId=version_id)
    return True


def describe_rotation(client: SecretsManagerClient, secret_arn: str) -> tuple[bool, VersionStages]:
    """Whether rotation is enabled, and the version stages. ``RotationEnabled`` is absent until rotation was
    ever configured, hence ``.get()``."""
    described = client.describe_secret(SecretId=secret_arn)
    return bool(described.get("RotationEnabled")), VersionStages.of(described.get("VersionIdsToStages"))


@dataclass(frozen=True)
class StageSecrets:
    """What the stages mean in Tableau terms: Tableau's secret IDs (the JWT ``kid``), never a value."""

    client_id: str
    current_secret_id: str
    current_version_id: str
    current_since: float
    previous_secret_id: str | None


def read_stage_secrets(client: SecretsManagerClient, secret_arn: str, stages: VersionStages) -> StageSecrets:
    current_version = stages.version_with(AWSCURRENT)
    if current_version is None:
        raise RotationStateError("the secret has no AWSCURRENT version")
    response = client.get_secret_value(SecretId=secret_arn, VersionId=current_version, VersionStage=AWSCURRENT)
    current = parse_connected_app_secret(response.get("SecretString"))
    since: float | None = stages.current_since(current_version)
    if since is None:
        since = response["CreatedDate"].timestamp()
    previous_secret_id = None
    previous_version = stages.version_with(AWSPREVIOUS)
    if previous_version is not None:
        try:
            previous = read_connected_app_secret(client, secret_arn, stage=AWSPREVIOUS, version_id=previous_version)
        except MalformedSecret:
            previous = None  # the template's placeholder: never a signing key, nothing to protect
        if previous is not None and previous.client_id == current.client_id:
            previous_secret_id = previous.secret_id if previous.secret_id != current.secret_id else None
    return StageSecrets(
        client_id=current.client_id,
        current_secret_id=current.secret_id,
        current_version_id=current_version,
        current_since=since,
        previous_secret_id=previous_secret_id,
    )


# --- the rules ---------------------------------------------------------------------------------------------


def _known_ids(tableau_ids: Sequence[str] | None, stage: StageSecrets) -> list[str]:
    if tableau_ids is not None:
        if stage.current_secret_id not in tableau_ids:
            raise RotationStateError(
                f"Tableau does not hold AWSCURRENT's secret {stage.current_secret_id} for connected app "
                f"{stage.client_id}: check the admin secret's site and the app before rotating"
            )
        return list(dict.fromkeys(tableau_ids))
    # Tableau did not list the app's secrets: work from the IDs the stages name (a leftover then shows up as
    # Tableau refusing a third secret, error 128).
    return [stage.current_secret_id, *([stage.previous_secret_id] if stage.previous_secret_id else [])]


def ensure_past_grace(previous_secret_id: str, *, current_since: float, now: float, grace_seconds: int) -> None:
    """Raise ``RotationTooEarly`` while the previous secret is inside its grace period. A grace of 0 is the
    operator's emergency revoke: no wait at all (``current_since`` is rounded up and may lie a second ahead)."""
    if grace_seconds > 0 and now < current_since + grace_seconds:
        raise RotationTooEarly(
            previous_secret_id, stopped_being_current=current_since, grace_seconds=grace_seconds, now=now
        )


def _check_grace(stage: StageSecrets, *, now: float, grace_seconds: int) -> None:
    assert stage.previous_secret_id is not None  # nosec B101  # type narrowing; both callers pass a str
    ensure_past_grace(stage.previous_secret_id, current_since=stage.current_since, now=now, grace_seconds=grace_seconds)


def secrets_to_delete_before_create(
    tableau_ids: Sequence[str] | None, stage: StageSecrets, *, now: float, grace_seconds: int
) -> list[str]:
    """Tableau secret IDs to delete so a new one fits. Raises before anything is deleted when the previous
    secret is still inside its grace period."""
    delete = [sid for sid in _known_ids(tableau_ids, stage) if sid != stage.current_secret_id]
    if stage.previous_secret_id in delete:
        _check_grace(stage, now=now, grace_seconds=grace_seconds)
    return delete


def previous_secret_to_revoke(
    tableau_ids: Sequence[str] | None, stage: StageSecrets, *, now: float, grace_seconds: int
) -> str | None:
    """AWSPREVIOUS's Tableau secret if it is still in Tableau and past its grace period; ``None`` if there is
    nothing to revoke; raises ``RotationTooEarly`` inside the grace period."""
    if stage.previous_secret_id is None:
        return None
    if stage.previous_secret_id not in _known_ids(tableau_ids, stage):
        return None
    _check_grace(stage, now=now, grace_seconds=grace_seconds)
    return stage.previous_secret_id
