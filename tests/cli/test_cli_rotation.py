"""`token-broker rotate-now|revoke-previous|rotation-status` against moto's server and the Tableau emulator.

The setup is the rotation tests' own (imported, not copied): a connected-app secret and an admin PAT secret in
moto's server, a Docker-free rotation Lambda stub, and the emulator holding the app's first secret. Every call
also checks that no secret value, PAT secret or token reaches stdout or stderr.
"""

from __future__ import annotations

import io
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tableau_broker.rotation import AWSCURRENT, AWSPENDING, AWSPREVIOUS
from tableau_broker.tableau_rest import TableauRestError
from tests.support import rotation_world as rotation_world
from tests.support.cli import Cli, Result, isolate_environment
from tests.support.rotation_world import GRACE, World, assert_no_secret_in, wrong_pat
from token_broker_cli.context import REDACTED
from token_broker_cli.main import main

# Fixtures of tests/integration/test_rotation.py: `world` (moto server + emulator + secrets + Lambda stub) and
# the module-wide switch back to moto's Docker Lambda backend afterwards.
world = rotation_world.world
docker_free_lambda = rotation_world.docker_free_lambda
REGION = "us-east-1"  # the world's region


class Terminal(io.StringIO):
    """stdin as an operator's terminal: what they type, and isatty() true. ``meanwhile`` runs while they type."""

    def __init__(self, typed: str, meanwhile: Callable[[], None] | None = None) -> None:
        super().__init__(typed)
        self.meanwhile = meanwhile

    def isatty(self) -> bool:
        return True

    def readline(self, size: int = -1, /) -> str:  # type: ignore[override]  # as typeshed declares StringIO
        if self.meanwhile is not None:
            self.meanwhile()
        return super().readline(size)


@dataclass
class RotationCli:
    cli: Cli
    world: World

    def __call__(self, *argv: str) -> Result:
        result = self.cli(*argv)
        self._check(result)
        return result

    def on_terminal(self, *argv: str, typed: str, meanwhile: Callable[[], None] | None = None) -> Result:
        self.cli.capsys.readouterr()
        self.cli.monkeypatch.setattr(sys, "stdin", Terminal(typed, meanwhile))
        code = main(list(argv))
        out, err = self.cli.capsys.readouterr()
        result = Result(code, out, err)
        assert "Traceback" not in out + err
        assert REDACTED not in out + err
        self._check(result)
        return result

    def _check(self, result: Result) -> None:
        assert_no_secret_in(self.world, result.out, result.err)  # every value Tableau held, and the PAT secret
        assert "eyJ" not in result.out + result.err


@pytest.fixture
def aws_like_rotate_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    """RotateSecret without a function ARN starts a rotation with the stored configuration in Secrets Manager;
    moto instead forgets the stored function and promotes the new, empty version at once. The moto server runs
    in this process, so its backend is made to behave as AWS does (the CLI passes no configuration)."""
    from moto.secretsmanager.models import SecretsManagerBackend

    original = SecretsManagerBackend.rotate_secret

    def rotate_secret(self: Any, secret_id: str, rotation_lambda_arn: str | None = None, **kwargs: Any) -> str:
        if not rotation_lambda_arn and self._is_valid_identifier(secret_id):
            rotation_lambda_arn = self.secrets[secret_id].rotation_lambda_arn or None
        result: str = original(self, secret_id=secret_id, rotation_lambda_arn=rotation_lambda_arn, **kwargs)
        return result

    monkeypatch.setattr(SecretsManagerBackend, "rotate_secret", rotate_secret)


@pytest.fixture
def cli(
    world: World, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> RotationCli:
    isolate_environment(monkeypatch, tmp_path)
    monkeypatch.setenv("AWS_ENDPOINT_URL", world.moto_url)
    monkeypatch.setenv("AWS_REGION", REGION)
    # The world's rotation function reaches moto through the budgeted client, which reads the default region
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("CONNECTED_APP_SECRET_ARN", world.secret_arn)
    monkeypatch.setenv("TABLEAU_ADMIN_SECRET_ARN", world.admin_arn)
    monkeypatch.setenv("TOKEN_BROKER_OUTPUT", "json")  # these tests read each command's JSON result
    return RotationCli(Cli(capsys, monkeypatch), world)


def rotated_long_ago(world: World, seconds: float) -> None:
    """A completed rotation whose new version became AWSCURRENT ``seconds`` ago (the CLI reads the real clock)."""
    world.clock.advance(-seconds)
    world.rotate()
    world.clock.advance(seconds)


# --- rotate-now --------------------------------------------------------------------------------------------


def test_rotate_now_refuses_when_rotation_is_not_enabled(cli: RotationCli, world: World) -> None:
    before = world.stages()

    result = cli("rotate-now")

    assert result.code == 2
    assert "rotation is not enabled" in result.err and "nothing was started" in result.err
    assert result.out == ""
    assert world.stages() == before


def test_rotate_now_starts_a_rotation_with_the_stored_configuration(
    cli: RotationCli, world: World, aws_like_rotate_secret: None
) -> None:
    # Given a secret whose rotation is enabled (a scheduled rotation completed, past its grace period)
    rotated_long_ago(world, GRACE + 60)
    current = world.version(AWSCURRENT)
    before = world.stages()

    # When the operator rotates now
    result = cli("rotate-now", "--secret-arn", world.secret_arn)

    # Then a new version waits as AWSPENDING for the rotation function, AWSCURRENT has not moved yet
    assert result.code == 0, result.err
    token = result.json()["version_id"]
    assert token not in before
    assert world.version(AWSPENDING) == token
    assert world.version(AWSCURRENT) == current
    assert token in result.err and "rotation function's log" in result.err and "secret show" in result.err
    # And it is a real rotation token: the rotation function's four steps complete it
    world.run(token)
    assert world.version(AWSCURRENT) == token


def test_rotate_now_clears_a_failed_rotations_pending_version_and_the_new_rotation_completes(
    cli: RotationCli, world: World, aws_like_rotate_secret: None
) -> None:
    # Given a rotation whose setSecret failed while Tableau was down: a usable AWSPENDING version stays behind, and
    # Secrets Manager (as in AWS) refuses a new RotateSecret while it is there
    rotated_long_ago(world, GRACE + 60)
    current = world.version(AWSCURRENT)
    stale = world.begin()
    world.step("createSecret", stale)
    world.state.inject_fault("rest_signin", "unavailable", count=None)
    with pytest.raises(TableauRestError):
        world.step("setSecret", stale)
    world.state.clear_faults()
    assert world.version(AWSPENDING) == stale
    with pytest.raises(ClientError, match="previous rotation isn't complete"):
        world.begin()

    # When the operator rotates now
    result = cli("rotate-now")

    # Then it says it cleared the stale AWSPENDING, and starts a rotation that completes, deleting the failed
    # rotation's Tableau secret (referenced by no stage any more)
    assert result.code == 0, result.err
    assert f"cleared a stale AWSPENDING from version {stale}" in result.err
    token = result.json()["version_id"]
    assert token != stale and world.version(AWSPENDING) == token
    assert world.version(AWSCURRENT) == current
    world.run(token)
    assert world.version(AWSCURRENT) == token
    assert sorted(world.tableau_ids()) == sorted([world.stage_secret(AWSPREVIOUS).secret_id,
                                                  world.stage_secret(AWSCURRENT).secret_id])  # fmt: skip


def test_rotate_now_fails_with_exit_1_when_aws_does(cli: RotationCli) -> None:
    result = cli("rotate-now", "--secret-arn", "no-such-secret")

    assert result.code == 1
    assert "ResourceNotFoundException" in result.err


# --- revoke-previous ---------------------------------------------------------------------------------------


def test_revoke_without_yes_and_without_a_terminal_refuses_and_deletes_nothing(cli: RotationCli, world: World) -> None:
    world.rotate()
    held = sorted(world.tableau_ids())

    result = cli("revoke-previous")

    assert result.code == 2
    assert f"refusing to delete Tableau secret {world.initial.secret_id}" in result.err
    assert "--yes" in result.err and "nothing was revoked" in result.err
    assert sorted(world.tableau_ids()) == held


def test_revoke_with_yes_deletes_the_previous_secret_and_keeps_the_current_one(cli: RotationCli, world: World) -> None:
    # Given a completed rotation (seconds ago: the emergency command has no grace period by default)
    world.rotate()
    current = world.stage_secret(AWSCURRENT)
    assert world.embed_status(world.initial) == 200

    result = cli("revoke-previous", "--yes")

    assert result.code == 0, result.err
    assert result.json() == {
        "arn": world.secret_arn,
        "revoked_secret_id": world.initial.secret_id,
        "current_secret_id": current.secret_id,
    }
    assert f"will delete Tableau secret {world.initial.secret_id}" in result.err
    assert "mint refused tokens until their cache expires" in result.err
    assert world.tableau_ids() == [current.secret_id]
    assert world.embed_status(world.initial) == 401
    assert world.embed_status(current) == 200
    assert world.stage_secret(AWSPREVIOUS) == world.initial  # Secrets Manager keeps its versions

    again = cli("revoke-previous", "--yes")
    assert again.code == 0, again.err
    assert again.json()["revoked_secret_id"] is None
    assert "nothing to revoke" in again.err


def test_revoke_inside_the_grace_period_fails_and_deletes_nothing(cli: RotationCli, world: World) -> None:
    rotated_long_ago(world, 120)
    held = sorted(world.tableau_ids())

    result = cli("revoke-previous", "--yes", "--grace-seconds", str(GRACE))

    assert result.code == 1
    assert "Nothing was revoked" in result.err and f"{GRACE} s" in result.err
    assert sorted(world.tableau_ids()) == held
    assert world.embed_status(world.initial) == 200


def test_revoke_past_the_grace_period_given_deletes(cli: RotationCli, world: World) -> None:
    rotated_long_ago(world, 120)
    current = world.stage_secret(AWSCURRENT)

    result = cli("revoke-previous", "--yes", "--grace-seconds", "60")

    assert result.code == 0, result.err
    assert result.json()["revoked_secret_id"] == world.initial.secret_id
    assert world.tableau_ids() == [current.secret_id]


@pytest.mark.parametrize("yes", [True, False])
def test_revoke_with_no_previous_secret_exits_0(cli: RotationCli, world: World, yes: bool) -> None:
    # Never rotated: AWSPREVIOUS is the template's placeholder
    result = cli("revoke-previous", *(["--yes"] if yes else []))

    assert result.code == 0, result.err
    assert "nothing to revoke" in result.err
    assert result.json()["revoked_secret_id"] is None
    assert world.tableau_ids() == [world.initial.secret_id]


def test_on_a_terminal_the_secret_id_typed_back_confirms(cli: RotationCli, world: World) -> None:
    world.rotate()
    current = world.stage_secret(AWSCURRENT)

    refused = cli.on_terminal("revoke-previous", typed="y\n")
    assert refused.code == 2
    assert "type the secret ID" in refused.err and "not confirmed" in refused.err
    assert world.initial.secret_id in world.tableau_ids()

    confirmed = cli.on_terminal("revoke-previous", typed=f"{world.initial.secret_id}\n")
    assert confirmed.code == 0, confirmed.err
    assert confirmed.json()["revoked_secret_id"] == world.initial.secret_id
    assert world.tableau_ids() == [current.secret_id]


def test_only_the_confirmed_secret_is_deleted(cli: RotationCli, world: World) -> None:
    # Given a rotation, and an operator who confirms the previous secret's ID ...
    world.rotate()
    second = world.stage_secret(AWSCURRENT)

    def rolled_back() -> None:  # ... while someone stores the first secret as AWSCURRENT again
        world.sm.put_secret_value(SecretId=world.secret_arn, SecretString=world.initial.to_json())

    result = cli.on_terminal("revoke-previous", typed=f"{world.initial.secret_id}\n", meanwhile=rolled_back)

    # Then the new AWSPREVIOUS (never confirmed) is not deleted, nor anything else
    assert world.stage_secret(AWSPREVIOUS) == second
    assert result.code == 1
    assert "AWSPREVIOUS changed while waiting for confirmation" in result.err
    assert sorted(world.tableau_ids()) == sorted([world.initial.secret_id, second.secret_id])


def test_revoke_settings_from_flags_and_environment(
    cli: RotationCli, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    world.rotate()
    monkeypatch.delenv("TABLEAU_ADMIN_SECRET_ARN")
    missing = cli("revoke-previous", "--yes")
    assert missing.code == 2
    assert "--admin-secret-arn" in missing.err

    monkeypatch.setenv("TABLEAU_CONNECTED_APP_PATH_FAMILY", "connected-apps/legacy")
    wrong_family = cli("revoke-previous", "--yes", "--admin-secret-arn", world.admin_arn)
    assert wrong_family.code == 2
    assert "TABLEAU_CONNECTED_APP_PATH_FAMILY must be one of" in wrong_family.err

    monkeypatch.setenv("TABLEAU_CONNECTED_APP_PATH_FAMILY", "connected-apps/direct-trust")
    revoked = cli("revoke-previous", "--yes", "--admin-secret-arn", world.admin_arn)
    assert revoked.code == 0, revoked.err
    assert world.initial.secret_id not in world.tableau_ids()


def test_a_tableau_failure_exits_1_without_leaking_the_pat(cli: RotationCli, world: World) -> None:
    world.rotate()
    wrong_pat(world)

    result = cli("revoke-previous", "--yes")

    assert result.code == 1
    assert "HTTP 401" in result.err
    assert len(world.tableau_ids()) == 2


# --- rotation-status ---------------------------------------------------------------------------------------


def test_rotation_status_names_stages_and_secret_ids(
    cli: RotationCli, world: World, aws_like_rotate_secret: None
) -> None:
    world.rotate()
    current = world.stage_secret(AWSCURRENT)
    started = cli("rotate-now").json()["version_id"]

    result = cli("rotation-status")

    assert result.code == 0, result.err
    status = result.json()
    assert status["rotation_enabled"] is True
    assert (status["current_secret_id"], status["previous_secret_id"]) == (current.secret_id, world.initial.secret_id)
    assert status["pending_secret_id"] is None  # createSecret has not stored a value yet
    assert sorted(status["tableau_secret_ids"]) == sorted([world.initial.secret_id, current.secret_id])
    by_stage = {entry["stages"][0]: entry for entry in status["versions"]}
    assert by_stage[AWSCURRENT]["secret_id"] == current.secret_id
    assert by_stage[AWSPREVIOUS]["secret_id"] == world.initial.secret_id
    assert by_stage[AWSPENDING]["version_id"] == started
