"""The secret rotation Lambda against moto's server and the Tableau emulator over HTTP.

Secrets Manager's own part of a rotation (enable rotation, label a fresh empty version AWSPENDING) is played by
moto's RotateSecret with a Docker-free Lambda stub (see local_stack/rotate.py); each step then runs the real
handler, as Secrets Manager would call it. One clock drives the rotation and the emulator, so tests can jump
past (or stay inside) the grace period.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import secrets
import socket
import time
import traceback
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests
from moto.secretsmanager.models import SecretsManagerBackend

from local_stack import secretsmanager_rules
from local_stack.rotate import (
    ADMIN_SECRET_NAME,
    STEP_ORDER,
    admin_secret_json,
    begin_rotation,
    create_admin_secret,
    install_rotation_lambda_stub,
    rotation_event,
)
from sam_local import aws_resources
from sam_local.lambda_runtime import LocalLambdaContext
from sam_local.template import Template
from secret_rotation import handler
from secret_rotation.handler import build_context, handle
from secret_rotation.steps import RotationContext
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
from tableau_broker.tableau_jwt import mint_token
from tableau_broker.tableau_rest import AdminSecretError, TableauRestError, TableauUnreachable
from tableau_emulator import EMBED_SIGNIN_PATH, EmulatorServer, EmulatorState, serve
from tests.support.moto_server import reset_moto
from token_broker_ops.rotation import revoke_previous_secret, rotation_status, start_rotation

SITE = "analytics"
ADMIN = "admin@tableau.test"
PAT_NAME = "token-broker-rotation"
TEST_USER = "rotation-check@tableau.test"
VIEWER = "alice@acme.example"
ORIGIN = "http://127.0.0.1:8000"
EVENTS_DIR = Path(__file__).resolve().parents[2] / "events" / "secret_rotation"
GRACE = 900  # template default of PreviousSecretGraceSeconds
LAMBDA_CONTEXT = LocalLambdaContext(
    function_name="RotationFunction",
    invoked_function_arn="arn:aws:lambda:us-east-1:123456789012:function:RotationFunction",
    log_group_name="/aws/lambda/RotationFunction",
)


class FakeClock:
    """Real time plus an offset that tests move forward."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += seconds


@dataclass
class World:
    moto_url: str
    session: boto3.session.Session
    sm: Any
    state: EmulatorState
    server: EmulatorServer
    clock: FakeClock
    initial: ConnectedAppSecret
    secret_arn: str
    admin_arn: str
    function_arn: str
    pat_secret: str
    env: dict[str, str]
    seen_values: set[str] = field(default_factory=set)
    held_sockets: list[socket.socket] = field(default_factory=list)

    # --- the rotation ---------------------------------------------------------------------------------------
    def context(self, **env: str) -> RotationContext:
        return build_context({**self.env, **env}, clock=self.clock, sleep=lambda _s: None)

    def begin(self) -> str:
        return begin_rotation(self.sm, self.secret_arn, self.function_arn)

    def step(self, step: str, token: str, ctx: RotationContext | None = None) -> None:
        try:
            handle(rotation_event(step, self.secret_arn, token), ctx or self.context())
        finally:
            self.observe()

    def run(self, token: str, ctx: RotationContext | None = None) -> None:
        for step in STEP_ORDER:
            self.step(step, token, ctx)

    def rotate(self) -> str:
        token = self.begin()
        self.run(token)
        return token

    # --- what a user would look at --------------------------------------------------------------------------
    def stages(self) -> dict[str, list[str]]:
        stages: dict[str, list[str]] = self.sm.describe_secret(SecretId=self.secret_arn)["VersionIdsToStages"]
        return stages

    def version(self, stage: str) -> str | None:
        return next((v for v, s in self.stages().items() if stage in s), None)

    def stage_secret(self, stage: str) -> ConnectedAppSecret:
        return read_connected_app_secret(self.sm, self.secret_arn, stage=stage)

    def tableau_ids(self) -> list[str]:
        return self.state.secret_ids(SITE, self.initial.client_id)

    def observe(self) -> None:
        """Remember every secret value Tableau ever held (for the no-leak checks); Tableau never holds > 2."""
        held = self.state.app_view(SITE, self.initial.client_id).secrets
        assert len(held) <= 2
        self.seen_values.update(s.value for s in held)

    def sensitive(self) -> set[str]:
        self.observe()
        admin = json.loads(self.sm.get_secret_value(SecretId=self.admin_arn, VersionStage=AWSCURRENT)["SecretString"])
        return {*self.seen_values, self.initial.secret_value, self.pat_secret, admin.get("pat_secret", self.pat_secret)}

    def embed_status(self, secret: ConnectedAppSecret) -> int:
        """A viz load as the browser does it, with a token the shared layer minted from ``secret``."""
        minted = mint_token(
            secret,
            username=VIEWER,
            scopes=["tableau:views:embed"],
            attributes={"tenant": "acme"},
            lifetime_seconds=300,
            now=self.clock(),
        )
        response = requests.post(
            f"{self.server.url}{EMBED_SIGNIN_PATH}",
            json={"siteName": SITE, "jwt": minted.token},
            headers={"Origin": ORIGIN},
            timeout=10,
        )
        return response.status_code


@pytest.fixture(scope="module", autouse=True)
def docker_free_lambda(moto_server_url: str) -> Iterator[None]:
    yield
    requests.post(f"{moto_server_url}/moto-api/config", json={"lambda": {"use_docker": True}}, timeout=10)


@pytest.fixture
def world(moto_server_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    reset_moto(moto_server_url)
    # AWS refuses RotateSecret while AWSPENDING sits on a version that is not AWSCURRENT; moto does not.
    monkeypatch.setattr(SecretsManagerBackend, "rotate_secret", secretsmanager_rules.rotate_secret_as_aws)
    # The rotation reaches moto through the project's budgeted client (aws.secretsmanager_client()).
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server_url)
    handler.reset_runtime()
    clock = FakeClock()
    state = EmulatorState(clock=clock)
    state.add_site(SITE)
    state.add_user(SITE, ADMIN, "SiteAdministratorCreator")
    state.add_user(SITE, TEST_USER, "Viewer")
    state.add_user(SITE, VIEWER, "Viewer")
    pat_secret = state.add_pat(SITE, ADMIN, PAT_NAME)
    initial = ConnectedAppSecret(str(uuid.uuid4()), str(uuid.uuid4()), secrets.token_urlsafe(32))
    state.add_connected_app(
        SITE,
        "token-broker",
        client_id=initial.client_id,
        domain_allowlist=["127.0.0.1"],
        secrets=[(initial.secret_id, initial.secret_value)],
    )
    server = serve(state)
    session = boto3.session.Session(region_name="us-east-1")
    sm = session.client("secretsmanager", endpoint_url=moto_server_url)
    template = Template()
    secret_arn = aws_resources.create_connected_app_secret(template, sm, "tableau-token-broker/connected-app", initial)
    admin_arn = create_admin_secret(
        template,
        sm,
        ADMIN_SECRET_NAME,
        admin_secret_json(pat_name=PAT_NAME, pat_secret=pat_secret, site_content_url=SITE, tableau_url=server.url),
    )
    function_arn = install_rotation_lambda_stub(moto_server_url, session)
    env = template.function_environment(
        "RotationFunction",
        {"ConnectedAppSecret": secret_arn, "TableauAdminSecret": admin_arn, "RotationTestUsername": TEST_USER},
    )
    world = World(
        moto_server_url, session, sm, state, server, clock, initial, secret_arn, admin_arn, function_arn,
        pat_secret, env,
    )  # fmt: skip
    try:
        yield world
    finally:
        for held in world.held_sockets:
            held.close()
        server.shutdown()
        handler.reset_runtime()


@contextlib.contextmanager
def rotation_logs() -> Iterator[io.StringIO]:
    """Every log line of the rotation (Powertools JSON, as in Lambda) and of everything else, extras included."""
    buffer = io.StringIO()
    ours = logging.StreamHandler(buffer)
    ours.setFormatter(handler.logger.registered_formatter)
    everyone = logging.StreamHandler(buffer)
    everyone.setFormatter(_AllFieldsFormatter())
    root = logging.getLogger()
    previous_level = root.level
    handler.logger._logger.addHandler(ours)
    root.addHandler(everyone)
    root.setLevel(logging.INFO)
    try:
        yield buffer
    finally:
        handler.logger._logger.removeHandler(ours)
        root.removeHandler(everyone)
        root.setLevel(previous_level)


class _AllFieldsFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return json.dumps({k: v for k, v in record.__dict__.items() if k != "exc_info"}, default=str)


def invoke_lambda(world: World, monkeypatch: pytest.MonkeyPatch, step: str, token: str) -> None:
    """Through the deployed entry point (``lambda_handler``), configured as template.yaml configures it."""
    for name, value in world.env.items():
        monkeypatch.setenv(name, value)
    handler.reset_runtime()
    try:
        handler.lambda_handler(rotation_event(step, world.secret_arn, token), LAMBDA_CONTEXT)
    finally:
        world.observe()


def assert_no_secret_in(world: World, *texts: str) -> None:
    for value in world.sensitive():
        for text in texts:
            assert value not in text


def exception_text(exc: BaseException) -> str:
    return "".join([str(exc), repr(exc), *traceback.format_exception(exc)])


# --- a full rotation ---------------------------------------------------------------------------------------


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


def assert_the_next_rotation_cleans_up(world: World, token: str, orphans: list[str]) -> None:
    """After a createSecret that created a Tableau secret but stored nothing: its version is no longer AWSPENDING,
    so the next rotation starts, deletes the orphan (referenced by no stage) and promotes a fresh secret."""
    assert world.version(AWSPENDING) is None
    assert world.version(AWSCURRENT) != token
    next_token = world.rotate()
    current = world.stage_secret(AWSCURRENT)
    assert current.secret_id not in orphans
    assert sorted(world.tableau_ids()) == sorted([world.initial.secret_id, current.secret_id])
    assert world.stage_secret(AWSPREVIOUS) == world.initial
    assert world.version(AWSCURRENT) == next_token and world.version(AWSPENDING) is None
    assert world.embed_status(current) == 200


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


def _dead_port(world: World) -> int:
    """A loopback port that refuses connections: bound (so no other process can take it) but never listening."""
    probe = socket.socket()
    world.held_sockets.append(probe)
    probe.bind(("127.0.0.1", 0))
    return int(probe.getsockname()[1])


def _admin(world: World, **changes: str) -> None:
    value = {
        "pat_name": PAT_NAME,
        "pat_secret": world.pat_secret,
        "site_content_url": SITE,
        "tableau_url": world.server.url,
        **changes,
    }
    world.sm.put_secret_value(SecretId=world.admin_arn, SecretString=admin_secret_json(**value))


def _unreachable(world: World) -> None:
    _admin(world, tableau_url=f"http://127.0.0.1:{_dead_port(world)}")


def _wrong_pat(world: World) -> None:
    _admin(world, pat_secret="wrong-" + secrets.token_urlsafe(24))


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
    "signin_401": (_wrong_pat, "createSecret", TableauRestError, "HTTP 401"),
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
