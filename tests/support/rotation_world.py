"""The rotation world: moto's Secrets Manager, the Tableau emulator and the rotation Lambda, one clock for
all; shared by the rotation, CLI, fault and attack suites."""

from __future__ import annotations

import contextlib
import io
import json
import logging
import secrets
import socket
import time
import traceback
import uuid
from collections.abc import Iterator
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
)
from tableau_broker.signing_secret import ConnectedAppSecret, read_connected_app_secret
from tableau_broker.tableau_jwt import mint_token
from tableau_emulator import EMBED_SIGNIN_PATH, EmulatorServer, EmulatorState, serve
from tests.support.moto_server import reset_moto

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


def dead_port(world: World) -> int:
    """A loopback port that refuses connections: bound (so no other process can take it) but never listening."""
    probe = socket.socket()
    world.held_sockets.append(probe)
    probe.bind(("127.0.0.1", 0))
    return int(probe.getsockname()[1])


def set_admin_secret(world: World, **changes: str) -> None:
    value = {
        "pat_name": PAT_NAME,
        "pat_secret": world.pat_secret,
        "site_content_url": SITE,
        "tableau_url": world.server.url,
        **changes,
    }
    world.sm.put_secret_value(SecretId=world.admin_arn, SecretString=admin_secret_json(**value))


def wrong_pat(world: World) -> None:
    set_admin_secret(world, pat_secret="wrong-" + secrets.token_urlsafe(24))
