"""``token-broker rotate-now|revoke-previous|rotation-status``: the connected-app secret's rotation, on demand.

The rules are ``tableau_broker.rotation``'s (the rotation function's) and the actions
``token_broker_ops.rotation``'s (shared with the local stack); these commands only ask, confirm and print.
Tableau secret IDs are printed, secret values and the admin PAT never: the layer returns IDs only.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from tableau_broker.config import DEFAULT_SECRET_CACHE_TTL_SECONDS
from tableau_broker.rotation import (
    AWSCURRENT,
    AWSPENDING,
    AWSPREVIOUS,
    RotationError,
    RotationTooEarly,
    abandon_pending_version,
    describe_rotation,
    ensure_past_grace,
    iso,
    read_stage_secrets,
)
from tableau_broker.rotation_config import MAX_GRACE_SECONDS
from tableau_broker.tableau_rest import DEFAULT_PATH_FAMILY, PATH_FAMILIES, TableauRestError
from token_broker_cli.commands.secret import STAGE_ORDER
from token_broker_cli.context import ENV_ADMIN_SECRET_ARN, Context
from token_broker_cli.errors import EXIT_OK, OperationalError, UsageError
from token_broker_cli.parser import Parents, Subparsers
from token_broker_ops.rotation import RotationStatus, revoke_previous_secret, rotation_status, start_rotation

ENV_PATH_FAMILY = "TABLEAU_CONNECTED_APP_PATH_FAMILY"
WATCH_HINT = (
    "watch the rotation function's log (the stack's RotationLogGroup) and 'token-broker rotation-status' or "
    "'token-broker secret show' until that version is AWSCURRENT"
)


def register(commands: Subparsers, parents: Parents) -> None:
    common = [parents.aws, parents.secret]
    tableau = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    group = tableau.add_argument_group("Tableau")
    group.add_argument(
        "--admin-secret-arn",
        metavar="ARN",
        default=argparse.SUPPRESS,
        help="the Tableau admin PAT secret, ARN or name "
        f"(default: the stack's TableauAdminSecretArn, else {ENV_ADMIN_SECRET_ARN})",
    )
    group.add_argument(
        "--path-family",
        choices=PATH_FAMILIES,
        help=f"Tableau's connected-app REST paths (default: {ENV_PATH_FAMILY}, else {DEFAULT_PATH_FAMILY})",
    )

    rotate = commands.add_parser(
        "rotate-now",
        parents=common,
        help="start a rotation of the connected-app secret now",
        description="Ask Secrets Manager to rotate the secret at once (RotateSecret): it runs createSecret, "
        "setSecret, testSecret and finishSecret with the scheduled rotation function. Refused when rotation is "
        "not enabled on the secret. A stale AWSPENDING left by an unfinished or failed rotation is cleared first "
        "(Secrets Manager refuses to start a rotation while it is there). Tableau holds two secrets per app at "
        "most: within the grace period of the last rotation createSecret refuses and revokes nothing; "
        "'revoke-previous' makes room.",
    )
    rotate.set_defaults(handler=cmd_rotate_now)

    revoke = commands.add_parser(
        "revoke-previous",
        parents=[*common, tableau],
        help="EMERGENCY: delete AWSPREVIOUS's connected-app secret in Tableau now",
        description="After a leak, once 'rotate-now' has finished: delete the Tableau secret that AWSPREVIOUS "
        "holds, so tokens signed with it are refused. AWSCURRENT's secret is never touched. Prints the secret "
        "ID it will delete and asks for it to be typed back on a terminal; without a terminal, --yes is "
        "required. Brokers that still cache the old secret mint refused tokens until their cache expires.",
    )
    revoke.add_argument(
        "--grace-seconds",
        type=grace_seconds,
        default=0,
        metavar="N",
        help="refuse (exit 1, nothing deleted) unless AWSCURRENT has been current for N seconds "
        "(default %(default)s: revoke at once)",
    )
    revoke.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    revoke.set_defaults(handler=cmd_revoke_previous)

    status = commands.add_parser(
        "rotation-status",
        parents=[*common, tableau],
        help="version stages and the Tableau secret ID behind each (never a value)",
    )
    status.set_defaults(handler=cmd_rotation_status)


def grace_seconds(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError("must be a whole number of seconds") from None
    if not 0 <= value <= MAX_GRACE_SECONDS:
        raise argparse.ArgumentTypeError(f"must be between 0 and {MAX_GRACE_SECONDS}")
    return value


# --- settings ------------------------------------------------------------------------------------------


def path_family(ctx: Context, args: argparse.Namespace) -> str:
    if args.path_family:
        return str(args.path_family)
    family = ctx.env.get(ENV_PATH_FAMILY, "").strip() or DEFAULT_PATH_FAMILY
    if family not in PATH_FAMILIES:
        raise UsageError(f"{ENV_PATH_FAMILY} must be one of {', '.join(PATH_FAMILIES)}")
    return family


@contextmanager
def rotation_errors() -> Iterator[None]:
    """The layer's rotation and Tableau errors carry IDs, times and scrubbed details only: print them as they are."""
    try:
        yield
    except RotationTooEarly as exc:  # only revoke-previous checks a grace period
        raise OperationalError(f"{exc} (--grace-seconds 0 revokes at once)") from None
    except RotationError as exc:
        raise OperationalError(str(exc)) from None
    except TableauRestError as exc:
        raise OperationalError(f"{exc} (check the admin secret's tableau_url, site and PAT)") from None


def stage_rank(stage: str) -> int:
    return STAGE_ORDER.get(stage, 9)


# --- rotate-now ----------------------------------------------------------------------------------------


def cmd_rotate_now(ctx: Context, args: argparse.Namespace) -> int:
    arn = ctx.secret_arn(args)
    client = ctx.aws.secretsmanager()
    enabled, stages = describe_rotation(client, arn)
    if not enabled:
        raise UsageError(
            f"rotation is not enabled on {arn}: deploy the stack's rotation schedule "
            "(ConnectedAppSecretRotationSchedule) first; nothing was started"
        )
    stale = stages.pending_version()
    if stale is not None and abandon_pending_version(client, arn, stale):
        # Secrets Manager refuses RotateSecret while AWSPENDING sits on a version that is not AWSCURRENT. A failed
        # rotation's Tableau secret, if it created one, is referenced by no stage now: the next createSecret
        # deletes it.
        ctx.warn(
            f"cleared a stale AWSPENDING from version {stale} (an unfinished or failed rotation); "
            "if Secrets Manager was still running that rotation, its next step fails cleanly"
        )
    # No function or schedule passed: Secrets Manager rotates with the configuration the stack stored.
    token = start_rotation(client, arn, rotate_immediately=True)
    ctx.note(f"rotation started: Secrets Manager runs the four rotation steps on version {token}; {WATCH_HINT}")
    ctx.note("after a leak, run 'token-broker revoke-previous' once it is")
    ctx.emit({"arn": arn, "version_id": token})
    return EXIT_OK


# --- revoke-previous -----------------------------------------------------------------------------------


def _revocable(ctx: Context, status: RotationStatus) -> str | None:
    """AWSPREVIOUS's Tableau secret ID if Tableau may still hold it (the layer re-checks when deleting)."""
    target = status.previous_secret_id
    if target is None:
        ctx.note(
            "nothing to revoke: AWSPREVIOUS holds no other secret of this connected app "
            "(no rotation yet, the template's placeholder, or the same secret ID)"
        )
        return None
    if status.tableau_secret_ids is not None and target not in status.tableau_secret_ids:
        ctx.note(f"nothing to revoke: Tableau no longer holds AWSPREVIOUS's secret {target}")
        return None
    return target


def _confirmed(ctx: Context, target: str) -> bool:
    prompt = f"token-broker: type the secret ID {target} to delete it (anything else aborts): "
    print(ctx.redact(prompt), end="", file=ctx.stderr, flush=True)
    return ctx.stdin.readline().strip() == target


def cmd_revoke_previous(ctx: Context, args: argparse.Namespace) -> int:
    arn = ctx.secret_arn(args)
    admin = ctx.admin_secret_arn(args)
    family = path_family(ctx, args)
    grace: int = args.grace_seconds
    client = ctx.aws.secretsmanager()
    with rotation_errors():
        status = rotation_status(client, arn, admin, path_family=family)
        target = _revocable(ctx, status)
        now = ctx.clock()
        if target is not None:
            # Refused before asking; the layer checks again when it deletes.
            ensure_past_grace(target, current_since=status.current_since, now=now, grace_seconds=grace)
    if target is None:
        ctx.emit({"arn": arn, "revoked_secret_id": None, "current_secret_id": status.current_secret_id})  # nosec B105  # no secret here
        return EXIT_OK

    ctx.note(
        f"will delete Tableau secret {target} (AWSPREVIOUS of {arn}); AWSCURRENT's secret "
        f"{status.current_secret_id} stays (current since {iso(status.current_since)}, "
        f"{max(0, int(now - status.current_since))} s ago)"
    )
    in_progress = status.stages.pending_version()
    if in_progress is not None:
        ctx.warn(
            f"a rotation is still in progress (AWSPENDING on version {in_progress}): AWSCURRENT has not moved "
            "yet, so the secret deleted here is the one before the current one"
        )
    ctx.warn(
        f"Tableau refuses tokens signed with {target} at once: brokers that still cache it mint refused tokens "
        f"until their cache expires (SECRET_CACHE_TTL_SECONDS, default {DEFAULT_SECRET_CACHE_TTL_SECONDS} s after "
        "AWSCURRENT moved), and tokens already minted with it stop working"
    )
    if not args.yes:
        if not ctx.stdin.isatty():
            raise UsageError(
                f"refusing to delete Tableau secret {target} without confirmation: stdin is not a terminal, "
                "pass --yes; nothing was revoked"
            )
        if not _confirmed(ctx, target):
            raise UsageError("not confirmed; nothing was revoked")
        # The operator took their time: delete only what they confirmed (the layer deletes AWSPREVIOUS's secret).
        _, stages = describe_rotation(client, arn)
        if read_stage_secrets(client, arn, stages).previous_secret_id != target:
            raise OperationalError(
                "AWSPREVIOUS changed while waiting for confirmation; nothing was revoked: run the command again"
            )

    with rotation_errors():
        revoked = revoke_previous_secret(client, arn, admin, grace_seconds=grace, path_family=family, clock=ctx.clock)
    if revoked is None:
        ctx.note("nothing to revoke: the previous secret is already gone from Tableau")
    else:
        ctx.note(f"revoked Tableau secret {revoked}; AWSCURRENT's secret {status.current_secret_id} is untouched")
    ctx.emit({"arn": arn, "revoked_secret_id": revoked, "current_secret_id": status.current_secret_id})
    return EXIT_OK


# --- rotation-status -----------------------------------------------------------------------------------


def cmd_rotation_status(ctx: Context, args: argparse.Namespace) -> int:
    arn = ctx.secret_arn(args)
    admin = ctx.admin_secret_arn(args)
    family = path_family(ctx, args)
    with rotation_errors():
        status = rotation_status(ctx.aws.secretsmanager(), arn, admin, path_family=family)
    secret_ids = {
        AWSCURRENT: status.current_secret_id,
        AWSPREVIOUS: status.previous_secret_id,
        AWSPENDING: status.pending_secret_id,
    }
    staged = [(vid, sorted(stages, key=stage_rank)) for vid, stages in status.stages.versions.items() if stages]
    staged.sort(key=lambda entry: (stage_rank(entry[1][0]), entry[0]))
    versions: list[dict[str, Any]] = [
        {"version_id": version_id, "stages": stages, "secret_id": secret_ids.get(stages[0])}
        for version_id, stages in staged
    ]
    ctx.emit(
        {
            "arn": arn,
            "rotation_enabled": status.rotation_enabled,
            "current_since": iso(status.current_since),
            "current_secret_id": status.current_secret_id,
            "previous_secret_id": status.previous_secret_id,
            "pending_secret_id": status.pending_secret_id,
            "tableau_secret_ids": status.tableau_secret_ids,
            "path_family": family,
            "versions": versions,
        }
    )
    return EXIT_OK
