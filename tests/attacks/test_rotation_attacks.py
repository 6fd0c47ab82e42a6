"""The attack catalogue, rotation: steps out of order, for other secrets and for versions that are not pending,
through ``secret_rotation.handler.handle`` against moto's server and the Tableau emulator.

Every refused step raises (Secrets Manager then retries the rotation), moves no stage, leaves Tableau's secrets
alone and names no secret value in its error or the logs. A refusal never leaves the secret stuck: the
rotation, run in order afterwards, completes.

One out-of-order step is not refused: ``testSecret`` on a version ``createSecret`` never filled is exactly what
Secrets Manager runs alone when a schedule is created with ``RotateImmediately=false`` (the deploy's configuration
test, see tests/integration/test_rotation.py). It must pass without effect; the ``finishSecret`` after it is
refused, and nothing is promoted.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest

from local_stack.rotate import STEP_ORDER, rotation_event
from secret_rotation.handler import handle
from tableau_broker.rotation import AWSCURRENT, AWSPENDING, AWSPREVIOUS
from tests.support import rotation_world as rotation_suite
from tests.support.rotation_world import World, assert_no_secret_in, exception_text, rotation_logs

pytestmark = pytest.mark.attack

# The rotation suite's deployment (moto server, Tableau emulator, one clock) and its Docker-free Lambda setting.
world = rotation_suite.world
docker_free_lambda = rotation_suite.docker_free_lambda

Target = Callable[[World], tuple[str, str, list[str]]]  # -> (SecretId, ClientRequestToken, secrets to watch)


def _unfilled(w: World) -> tuple[str, str, list[str]]:
    """A rotation Secrets Manager started (AWSPENDING on a fresh version) whose createSecret never ran."""
    return w.secret_arn, w.begin(), [w.secret_arn]


def _token_of_another_secret(w: World) -> tuple[str, str, list[str]]:
    other = w.sm.create_secret(Name=f"other-{uuid.uuid4().hex[:8]}", SecretString=w.initial.to_json())["ARN"]
    from local_stack.rotate import begin_rotation

    begin_rotation(w.sm, other, w.function_arn)
    return other, w.begin(), [w.secret_arn, other]


def _secret_without_rotation(w: World) -> tuple[str, str, list[str]]:
    plain = w.sm.create_secret(Name=f"plain-{uuid.uuid4().hex[:8]}", SecretString=w.initial.to_json())["ARN"]
    return plain, w.begin(), [w.secret_arn, plain]


def _previous_version(w: World) -> tuple[str, str, list[str]]:
    w.rotate()
    w.clock.advance(24 * 3600)
    w.begin()  # a rotation in progress, so a pending version exists that is not the one named
    previous = w.version(AWSPREVIOUS)
    assert previous is not None
    return w.secret_arn, previous, [w.secret_arn]


def _unknown_token(w: World) -> tuple[str, str, list[str]]:
    w.begin()
    return w.secret_arn, str(uuid.uuid4()), [w.secret_arn]


def _secret_name_with_wildcard(w: World) -> tuple[str, str, list[str]]:
    token = w.begin()
    return w.secret_arn.rsplit("-", 1)[0] + "-*", token, [w.secret_arn]


TARGETS: dict[str, Target] = {
    "unfilled-version": _unfilled,
    "token-of-another-secret": _token_of_another_secret,
    "secret-without-rotation": _secret_without_rotation,
    "previous-version": _previous_version,
    "unknown-token": _unknown_token,
    "wildcard-secret-id": _secret_name_with_wildcard,
}
CASES = [
    pytest.param(target, step, id=f"{target}-{step}")
    for target in TARGETS
    for step in STEP_ORDER
    if not (target == "unfilled-version" and step == "createSecret")  # that is the normal first step
]


def stages(world: World, arns: list[str]) -> dict[str, dict[str, list[str]]]:
    return {arn: world.sm.describe_secret(SecretId=arn)["VersionIdsToStages"] for arn in arns}


def without_pending(before: dict[str, dict[str, list[str]]], token: str) -> dict[str, dict[str, list[str]]]:
    """The stages with AWSPENDING taken off ``token``'s version (what un-sticking a refused rotation may do)."""
    return {
        arn: {v: [s for s in labels if not (v == token and s == AWSPENDING)] for v, labels in versions.items()}
        for arn, versions in before.items()
    }


@pytest.mark.parametrize(("target", "step"), CASES)
def test_attack_rotation_out_of_order(world: World, target: str, step: str) -> None:
    secret_id, token, watched = TARGETS[target](world)
    stages_before = stages(world, watched)
    current_before = world.stage_secret(AWSCURRENT)
    tableau_before = sorted(world.tableau_ids())
    configuration_test = target == "unfilled-version" and step == "testSecret"

    with rotation_logs() as logs:
        if configuration_test:
            handle(rotation_event(step, secret_id, token), world.context())
            with pytest.raises(Exception) as refused:  # noqa: PT011 - any error: Secrets Manager retries
                handle(rotation_event("finishSecret", secret_id, token), world.context())
        else:
            with pytest.raises(Exception) as refused:  # noqa: PT011 - any error: Secrets Manager retries
                handle(rotation_event(step, secret_id, token), world.context())

    # Nothing moved: AWSCURRENT and AWSPREVIOUS where they were (AWSPENDING at most taken off the refused
    # version), the current value, Tableau's secrets
    assert stages(world, watched) in (stages_before, without_pending(stages_before, token))
    assert world.stage_secret(AWSCURRENT) == current_before
    assert sorted(world.tableau_ids()) == tableau_before
    # Nothing leaked
    assert_no_secret_in(world, logs.getvalue(), exception_text(refused.value))
    assert "eyJ" not in logs.getvalue() + exception_text(refused.value)
    # And the secret is not stuck: the refused rotation, or (if its version was dropped) the next one, completes
    if target == "unfilled-version":
        if world.version(AWSPENDING) == token:
            world.run(token)
            assert world.version(AWSCURRENT) == token
        else:
            next_token = world.rotate()
            assert world.version(AWSCURRENT) == next_token
        assert world.stage_secret(AWSCURRENT).secret_id in world.tableau_ids()
