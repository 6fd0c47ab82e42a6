"""The secret rotation Lambda against moto's server and the Tableau emulator over HTTP.

Secrets Manager's own part of a rotation (enable rotation, label a fresh empty version AWSPENDING) is played by
moto's RotateSecret with a Docker-free Lambda stub (see local_stack/rotate.py); each step then runs the real
handler, as Secrets Manager would call it. One clock drives the rotation and the emulator, so tests can jump
past (or stay inside) the grace period.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from moto.secretsmanager.models import SecretsManagerBackend

from local_stack import secretsmanager_rules
from local_stack.rotate import (
    STEP_ORDER,
    rotation_event,
)
from sam_local.template import Template
from secret_rotation import handler
from secret_rotation.handler import handle
from tableau_broker.rotation import (
    AWSCURRENT,
    AWSPENDING,
    AWSPREVIOUS,
    PendingVersionAbandoned,
    RotationNotEnabled,
    RotationStateError,
    RotationTooEarly,
)
from tableau_broker.signing_secret import ConnectedAppSecret, SecretCache, read_connected_app_secret
from tableau_broker.tableau_rest import AdminSecretError, TableauRestError, TableauUnreachable
from tests.support import rotation_world
from tests.support.rotation_world import (
    EVENTS_DIR,
    GRACE,
    SITE,
    TEST_USER,
    FakeClock,
    World,
    assert_no_secret_in,
    assert_the_next_rotation_cleans_up,
    dead_port,
    exception_text,
    invoke_lambda,
    rotation_logs,
    set_admin_secret,
    wrong_pat,
)
from token_broker_ops.rotation import revoke_previous_secret, rotation_status, start_rotation

# The fixtures live with the world they build; naming them here makes them this module's fixtures.
world = rotation_world.world
docker_free_lambda = rotation_world.docker_free_lambda


@pytest.mark.parametrize("family", ["connected-applications", "connected-apps/direct-trust"])
def test_full_rotation_promotes_a_new_secret_and_tableau_accepts_old_and_new(world: World, family: str) -> None:
    # Given a connected app with one secret, stored as AWSCURRENT
    before = world.version(AWSCURRENT)

    # When the four steps run
    token = world.begin()
    world.run(token, world.context(TABLEAU_CONNECTED_APP_PATH_FAMILY=family))

    # Then AWSCURRENT holds a new Tableau secret of the same app, the old one is AWSPREVIOUS, none is pending
    current, previous = world.stage_secret(AWSCURRENT), world.stage_secret(AWSPREVIOUS)
    assert world.version(AWSCURRENT) == token != before
    assert world.version(AWSPREVIOUS) == before
    assert world.version(AWSPENDING) is None
    assert current.client_id == world.initial.client_id
    assert current.secret_id != world.initial.secret_id
    assert previous == world.initial
    # And Tableau holds exactly the new and the previous secret, and accepts tokens signed with either
    assert sorted(world.tableau_ids()) == sorted([world.initial.secret_id, current.secret_id])
    assert world.embed_status(current) == 200
    assert world.embed_status(world.initial) == 200
    # And testSecret really signed in to the REST API with the new secret
    jwt_signins = [s for s in world.state.signins() if s.kind == "rest-jwt"]
    assert [(s.kid, s.username, s.scopes) for s in jwt_signins] == [
        (current.secret_id, TEST_USER, ("tableau:content:read",))
    ]


def test_rotation_through_the_lambda_entry_point(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    token = world.begin()
    with rotation_logs() as logs:
        for step in STEP_ORDER:
            invoke_lambda(world, monkeypatch, step, token)

    current = world.stage_secret(AWSCURRENT)
    assert current.secret_id != world.initial.secret_id
    assert sorted(world.tableau_ids()) == sorted([world.initial.secret_id, current.secret_id])
    lines = [json.loads(line) for line in logs.getvalue().splitlines() if line.startswith('{"level"')]
    assert [line["step"] for line in lines if line["message"] == "rotation step done"] == list(STEP_ORDER)
    assert {line["function_name"] for line in lines} == {"RotationFunction"}
    assert_no_secret_in(world, logs.getvalue())


def test_every_sample_event_parses_and_dispatches(world: World) -> None:
    # Given the events for `sam local invoke`, pointed at this deployment and a rotation in progress
    events = {path.stem: json.loads(path.read_text()) for path in EVENTS_DIR.glob("*.json")}
    assert sorted(events) == sorted(STEP_ORDER)
    token = world.begin()
    for step in STEP_ORDER:
        event = events[step]
        assert set(event) == {"Step", "SecretId", "ClientRequestToken"}
        assert event["Step"] == step
        # When each is dispatched (retargeted at this deployment, its intent kept)
        handle({**event, "SecretId": world.secret_arn, "ClientRequestToken": token}, world.context())

    # Then together they rotated the secret
    assert world.version(AWSCURRENT) == token


# --- continuity for brokers --------------------------------------------------------------------------------


def test_a_broker_with_the_old_secret_cached_keeps_working_then_picks_up_the_new_one(world: World) -> None:
    # Given a warm broker whose cache holds the current secret (the broker's real cache, its own clock)
    broker_clock = FakeClock()
    cache = SecretCache(ttl_seconds=300, clock=broker_clock)
    assert cache.get(world.sm, world.secret_arn) == world.initial

    # When the secret rotates
    world.rotate()
    new = world.stage_secret(AWSCURRENT)

    # Then until its cache expires the broker still signs with the old secret, and Tableau still accepts it
    cached = cache.get(world.sm, world.secret_arn)
    assert cached == world.initial
    assert world.embed_status(cached) == 200
    # And once the cache expires it reads and signs with the new one
    broker_clock.advance(301)
    refreshed = cache.get(world.sm, world.secret_arn)
    assert refreshed == new
    assert world.embed_status(refreshed) == 200


def test_a_rotation_after_the_grace_period_revokes_the_first_secret(world: World) -> None:
    world.rotate()
    second = world.stage_secret(AWSCURRENT)

    world.clock.advance(GRACE + 1)
    world.rotate()
    third = world.stage_secret(AWSCURRENT)

    assert sorted(world.tableau_ids()) == sorted([second.secret_id, third.secret_id])
    assert world.stage_secret(AWSPREVIOUS) == second
    assert world.embed_status(world.initial) == 401
    assert world.embed_status(second) == 200
    assert world.embed_status(third) == 200


def test_a_rotation_inside_the_grace_period_refuses_and_revokes_nothing(world: World) -> None:
    # Given a rotation a minute ago
    world.rotate()
    second = world.stage_secret(AWSCURRENT)
    current_version = world.version(AWSCURRENT)
    world.clock.advance(60)

    # When another rotation starts
    token = world.begin()
    with pytest.raises(RotationTooEarly) as refused:
        world.step("createSecret", token)

    # Then it fails clearly, and nothing changed: both secrets stay valid in Tableau, AWSCURRENT is untouched
    message = str(refused.value)
    assert world.initial.secret_id in message and "900 s" in message and "Nothing was revoked" in message
    assert abs(refused.value.seconds_remaining - (GRACE - 60)) <= 2
    assert sorted(world.tableau_ids()) == sorted([world.initial.secret_id, second.secret_id])
    assert world.version(AWSCURRENT) == current_version
    assert world.embed_status(world.initial) == 200
    assert world.embed_status(second) == 200

    # And the refused rotation left no AWSPENDING behind: Secrets Manager (which refuses RotateSecret while
    # AWSPENDING sits on a version that is not AWSCURRENT) starts the next rotation, which succeeds once the
    # grace period is over
    assert world.version(AWSPENDING) is None
    assert token in world.stages() and world.stages()[token] == []
    world.clock.advance(GRACE)
    retried = world.rotate()
    assert world.version(AWSCURRENT) == retried != token
    assert world.initial.secret_id not in world.tableau_ids()


def test_the_grace_period_runs_from_promotion_not_from_creation(world: World) -> None:
    # Given a rotation whose new version was created long before it was promoted (stuck, retried hours later)
    token = world.begin()
    world.step("createSecret", token)
    world.clock.advance(3 * 3600)
    for step in STEP_ORDER[1:]:
        world.step(step, token)
    world.clock.advance(60)

    # When the next rotation comes a minute after the promotion, it must still wait: brokers only just moved on
    with pytest.raises(RotationTooEarly):
        world.step("createSecret", world.begin())
    assert world.initial.secret_id in world.tableau_ids()


def test_revoke_previous_waits_for_the_grace_period(world: World) -> None:
    # The shared-layer function behind the CLI's `revoke-previous`
    world.rotate()
    new = world.stage_secret(AWSCURRENT)

    def revoke() -> str | None:
        return revoke_previous_secret(
            world.sm, world.secret_arn, world.admin_arn, grace_seconds=GRACE, clock=world.clock
        )

    with pytest.raises(RotationTooEarly):
        revoke()
    assert len(world.tableau_ids()) == 2

    world.clock.advance(GRACE + 1)
    assert revoke() == world.initial.secret_id
    assert world.tableau_ids() == [new.secret_id]
    assert world.embed_status(world.initial) == 401
    assert revoke() is None  # nothing left to revoke

    status = rotation_status(world.sm, world.secret_arn, world.admin_arn)
    assert (status.current_secret_id, status.tableau_secret_ids) == (new.secret_id, [new.secret_id])
    assert status.rotation_enabled is True


# --- re-entrancy -------------------------------------------------------------------------------------------


def test_every_step_run_twice_changes_nothing_more(world: World) -> None:
    token = world.begin()
    for step in STEP_ORDER:
        world.step(step, token)
        world.step(step, token)

    current = world.stage_secret(AWSCURRENT)
    assert world.version(AWSCURRENT) == token
    assert world.version(AWSPENDING) is None
    assert sorted(world.tableau_ids()) == sorted([world.initial.secret_id, current.secret_id])
    assert len(world.seen_values) == 2  # the second createSecret reused the stored secret


def test_a_crash_between_create_and_store_is_cleaned_up_by_the_next_rotation(world: World) -> None:
    # Given a createSecret that dies after Tableau created the secret but before it was stored
    token = world.begin()
    world.state.inject_fault("create_secret", "server_error_after_commit")
    with pytest.raises(TableauRestError):
        world.step("createSecret", token)
    orphans = [sid for sid in world.tableau_ids() if sid != world.initial.secret_id]
    assert len(orphans) == 1

    # Then the next rotation proceeds: the orphan is gone, Tableau holds exactly the previous and the new secret
    assert_the_next_rotation_cleans_up(world, token, orphans)


# --- a pending version that must never be promoted ----------------------------------------------------------


def _store_pending(world: World, token: str, value: str) -> None:
    world.sm.put_secret_value(
        SecretId=world.secret_arn, ClientRequestToken=token, SecretString=value, VersionStages=[AWSPENDING]
    )


def _empty(world: World, token: str) -> None:
    """RotateSecret labelled the version; createSecret never ran (steps called out of order)."""


def _copy_of_current(world: World, token: str) -> None:
    _store_pending(world, token, world.initial.to_json())


def _other_app(world: World, token: str) -> None:
    other = ConnectedAppSecret(str(uuid.uuid4()), str(uuid.uuid4()), secrets.token_urlsafe(32))
    _store_pending(world, token, other.to_json())


def _current_id_new_value(world: World, token: str) -> None:
    same_id = ConnectedAppSecret(world.initial.client_id, world.initial.secret_id, secrets.token_urlsafe(32))
    _store_pending(world, token, same_id.to_json())


def _malformed(world: World, token: str) -> None:
    _store_pending(world, token, json.dumps({"client_id": world.initial.client_id}))


def _no_longer_in_tableau(world: World, token: str) -> None:
    world.step("createSecret", token)
    world.step("setSecret", token)
    pending = read_connected_app_secret(world.sm, world.secret_arn, stage=AWSPENDING, version_id=token)
    world.state.delete_secret(SITE, world.initial.client_id, pending.secret_id)


UNUSABLE_PENDING: dict[str, tuple[Callable[[World, str], None], bool]] = {
    # name: (how the pending version is left, whether testSecret passes as Secrets Manager's configuration test)
    "empty": (_empty, True),
    "copy_of_current": (_copy_of_current, True),
    "other_app": (_other_app, False),
    "current_secret_id_new_value": (_current_id_new_value, False),
    "malformed": (_malformed, False),
    "no_longer_in_tableau": (_no_longer_in_tableau, False),
}


@pytest.mark.parametrize("name", sorted(UNUSABLE_PENDING))
def test_test_and_finish_out_of_order_never_promote_an_unusable_version(world: World, name: str) -> None:
    # Given a rotation whose AWSPENDING version holds no new secret of this app that Tableau holds
    leave, configuration_test = UNUSABLE_PENDING[name]
    current_version = world.version(AWSCURRENT)
    token = world.begin()
    leave(world, token)

    # When testSecret and then finishSecret are called on it
    with rotation_logs() as logs:
        if configuration_test:
            world.step("testSecret", token)  # indistinguishable from the deploy's configuration test: it passes
        else:
            with pytest.raises(PendingVersionAbandoned):
                world.step("testSecret", token)
        with pytest.raises(RotationStateError) as refused:
            world.step("finishSecret", token)

    # Then nothing was promoted: brokers keep signing with the secret Tableau accepts
    assert world.version(AWSCURRENT) == current_version
    assert world.stage_secret(AWSCURRENT) == world.initial
    assert world.embed_status(world.initial) == 200
    # And AWSPENDING is gone from the version, so the next rotation starts (moto refuses it as AWS would
    # otherwise) and completes
    assert world.version(AWSPENDING) is None
    assert "nothing was promoted" in str(refused.value) or "not AWSPENDING" in str(refused.value)
    assert_no_secret_in(world, logs.getvalue(), exception_text(refused.value))
    next_token = world.rotate()
    assert world.version(AWSCURRENT) == next_token
    assert world.stage_secret(AWSCURRENT).secret_id != world.initial.secret_id


# --- the emulation of AWS's rule -------------------------------------------------------------------------------


def test_secrets_manager_refuses_to_start_a_rotation_while_one_is_unfinished(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    # AWS: while AWSPENDING sits on a version that is not AWSCURRENT, RotateSecret fails (secretsmanager_rules)
    first = world.begin()
    with pytest.raises(world.sm.exceptions.InvalidRequestException, match="previous rotation isn't complete"):
        world.begin()
    assert world.version(AWSPENDING) == first
    # AWSPENDING left on the current version (a finished rotation, as AWS allows) does not block
    world.run(first)
    world.sm.update_secret_version_stage(SecretId=world.secret_arn, VersionStage=AWSPENDING, MoveToVersionId=first)
    world.clock.advance(GRACE + 1)
    assert world.rotate() != first
    # moto alone is more lenient: it moves AWSPENDING to the new version, hiding a rotation AWS would block
    monkeypatch.setattr(SecretsManagerBackend, "rotate_secret", secretsmanager_rules.moto_rotate_secret)
    stuck = world.begin()
    assert world.begin() != stuck


# --- guards ------------------------------------------------------------------------------------------------


def test_guards(world: World) -> None:
    ctx = world.context()
    unknown = str(uuid.uuid4())
    # rotation never enabled on this secret
    other = world.sm.create_secret(Name="not-rotated", SecretString=world.initial.to_json())["ARN"]
    with pytest.raises(RotationNotEnabled):
        handle(rotation_event("createSecret", other, unknown), ctx)
    # a token that is no version of the secret
    token = world.begin()
    with pytest.raises(RotationStateError, match="not a version"):
        handle(rotation_event("createSecret", world.secret_arn, unknown), ctx)
    # a version that is neither current nor pending
    previous = world.version(AWSPREVIOUS)
    assert previous is not None
    with pytest.raises(RotationStateError, match="not AWSPENDING"):
        handle(rotation_event("setSecret", world.secret_arn, previous), ctx)
    # an unknown step
    with pytest.raises(RotationStateError, match="unknown rotation step"):
        handle({"Step": "dropSecret", "SecretId": world.secret_arn, "ClientRequestToken": unknown}, ctx)
    # setSecret before createSecret stored anything: refused, and the empty version is no longer AWSPENDING
    with pytest.raises(PendingVersionAbandoned, match="holds no value"):
        handle(rotation_event("setSecret", world.secret_arn, token), ctx)
    assert world.version(AWSPENDING) is None
    # an already current version: nothing to do, for every step
    token = world.begin()
    world.run(token)
    for step in STEP_ORDER:
        handle(rotation_event(step, world.secret_arn, token), ctx)
    assert world.version(AWSCURRENT) == token


def configuration_test_token(world: World, secret_arn: str) -> str:
    """RotateSecret with RotateImmediately=false, as CloudFormation calls it when it creates the schedule: Secrets
    Manager runs testSecret alone on a temporary AWSPENDING version (moto returns the current VersionId here, so
    the token is read from the stages)."""
    start_rotation(
        world.sm, secret_arn, rotation_lambda_arn=world.function_arn, rotation_rules={"AutomaticallyAfterDays": 30},
        rotate_immediately=False,
    )  # fmt: skip
    stages = world.sm.describe_secret(SecretId=secret_arn)["VersionIdsToStages"]
    return next(v for v, s in stages.items() if AWSPENDING in s and AWSCURRENT not in s)


def test_the_configuration_test_at_deploy_passes_before_credentials_are_stored(world: World) -> None:
    # Given a freshly deployed secret that still holds the template's placeholder
    placeholder = Template().properties("ConnectedAppSecret")["SecretString"]
    fresh = world.sm.create_secret(Name="fresh", SecretString=placeholder)["ARN"]
    # When the stack creates the schedule and Secrets Manager runs testSecret alone
    token = configuration_test_token(world, fresh)
    with rotation_logs() as logs:
        handle(rotation_event("testSecret", fresh, token), world.context())
    # Then it passes (the deploy must not fail), says why, and touches nothing
    assert "no connected-app credentials stored yet" in logs.getvalue()
    assert world.tableau_ids() == [world.initial.secret_id]


def test_the_configuration_test_signs_in_with_the_current_secret(world: World) -> None:
    # Created with its value directly: for RotateImmediately=false moto copies the value a secret was created
    # with, not AWSCURRENT's (AWS copies the current value or leaves the version empty).
    configured = world.sm.create_secret(Name="configured", SecretString=world.initial.to_json())["ARN"]
    token = configuration_test_token(world, configured)
    handle(rotation_event("testSecret", configured, token), world.context())
    assert [s.kid for s in world.state.signins() if s.kind == "rest-jwt"] == [world.initial.secret_id]
    assert world.tableau_ids() == [world.initial.secret_id]
    # a broken configuration (the test user is gone) fails the test - and so the schedule's deploy - clearly
    world.state.remove_user(SITE, TEST_USER)
    with pytest.raises(TableauRestError, match="user_unknown"):
        handle(rotation_event("testSecret", configured, token), world.context())


def test_refuses_to_start_with_a_grace_period_shorter_than_the_brokers_cache(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = world.begin()
    monkeypatch.setitem(world.env, "PREVIOUS_SECRET_GRACE_SECONDS", "120")
    with pytest.raises(Exception, match="PREVIOUS_SECRET_GRACE_SECONDS must be at least"):
        invoke_lambda(world, monkeypatch, "createSecret", token)
    assert world.tableau_ids() == [world.initial.secret_id]


# --- failures ----------------------------------------------------------------------------------------------


def _unreachable(world: World) -> None:
    set_admin_secret(world, tableau_url=f"http://127.0.0.1:{dead_port(world)}")


def _admin_unconfigured(world: World) -> None:
    placeholder = Template().properties("TableauAdminSecret")["SecretString"]
    world.sm.put_secret_value(SecretId=world.admin_arn, SecretString=placeholder)


def _create_fails(world: World) -> None:
    world.state.inject_fault("create_secret", "server_error", count=None)


def _test_user_removed(world: World) -> None:
    world.state.remove_user(SITE, TEST_USER)


FAILURES: dict[str, tuple[Callable[[World], None], str, type[Exception], str]] = {
    # name: (how it breaks, failing step, exception, text the error must carry)
    "tableau_unreachable": (_unreachable, "createSecret", TableauUnreachable, "no HTTP response"),
    "admin_secret_unconfigured": (_admin_unconfigured, "createSecret", AdminSecretError, "admin secret lacks"),
    "signin_401": (wrong_pat, "createSecret", TableauRestError, "HTTP 401"),
    "create_5xx": (_create_fails, "createSecret", TableauRestError, "HTTP 500"),
    "test_signin_refused": (_test_user_removed, "testSecret", TableauRestError, "user_unknown"),
}


@pytest.mark.parametrize("name", sorted(FAILURES))
def test_a_failing_step_raises_leaves_awscurrent_alone_and_leaks_nothing(
    world: World, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    breaks, failing_step, expected, text = FAILURES[name]
    current_version = world.version(AWSCURRENT)
    token = world.begin()

    with rotation_logs() as logs:
        for step in STEP_ORDER:
            if step == failing_step:
                breaks(world)
                with pytest.raises(expected) as failure:
                    invoke_lambda(world, monkeypatch, step, token)
                break
            invoke_lambda(world, monkeypatch, step, token)

    # The step failed with an error that says what happened ...
    assert text in str(failure.value)
    # ... AWSCURRENT is untouched, so brokers keep signing with the secret Tableau still accepts ...
    assert world.version(AWSCURRENT) == current_version
    assert world.stage_secret(AWSCURRENT) == world.initial
    assert world.initial.secret_id in world.tableau_ids()
    assert world.embed_status(world.initial) == 200
    # ... the failure is logged by name ...
    failed = [json.loads(line) for line in logs.getvalue().splitlines() if '"rotation step failed"' in line]
    assert any(line.get("step") == failing_step and line.get("error_type") == expected.__name__ for line in failed)
    # ... and no secret value, PAT secret or token appears in the logs or the exception
    assert_no_secret_in(world, logs.getvalue(), exception_text(failure.value))
    assert "eyJ" not in logs.getvalue() + exception_text(failure.value)


# --- `make rotate` -----------------------------------------------------------------------------------------


@pytest.fixture
def restored_process_state() -> Iterator[None]:
    """local_stack.rotate.main configures the process as `make rotate` does; undo that for later tests."""
    environ = dict(os.environ)
    service_logger = logging.getLogger(handler.logger.service)
    handlers = list(service_logger.handlers)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(environ)
        for extra in [h for h in service_logger.handlers if h not in handlers]:
            service_logger.removeHandler(extra)
            extra.close()
        for original in handlers:
            if original not in service_logger.handlers:
                service_logger.addHandler(original)
        handler.reset_runtime()


@pytest.mark.parametrize("interrupted_before", [False, True])
def test_make_rotate_against_a_running_stack(
    world: World,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    restored_process_state: None,
    interrupted_before: bool,
) -> None:
    from local_stack.rotate import main

    # An earlier `make rotate` interrupted after RotateSecret leaves AWSPENDING on an empty version
    stale = world.begin() if interrupted_before else None

    state_file = tmp_path / "stack.json"
    state_file.write_text(
        json.dumps(
            {
                "aws_endpoint_url": world.moto_url,
                "region": "us-east-1",
                "secret_arn": world.secret_arn,
                "admin_secret_arn": world.admin_arn,
                "rotation_test_username": TEST_USER,
            }
        )
    )
    assert main(["--state-file", str(state_file), "--log-file", str(tmp_path / "rotation.log")]) == 0

    out = capsys.readouterr().out
    current = world.stage_secret(AWSCURRENT)
    for number, step in enumerate(STEP_ORDER, start=1):
        assert f"{number}. {step} done" in out
    assert f"Tableau holds secret IDs: {world.initial.secret_id}, {current.secret_id}" in out
    assert f"AWSCURRENT -> {current.secret_id}" in out
    assert (f"cleared a stale AWSPENDING from version {stale}" in out) is interrupted_before
    assert_no_secret_in(world, out, (tmp_path / "rotation.log").read_text())
