"""Every sample event, run through what ships: the built functions and layer in a fresh python3.13 driven by
awslambdaric against a local Runtime API, with the local stack's AWS (moto server) and Tableau emulator."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import jwt
import pytest

from local_stack.invoke import function_spec, retarget
from sam_local.built_function import BuiltFunction
from sam_local.host_build import HostBuild
from sam_local.template import REPO_ROOT, Template
from tableau_broker.rotation import AWSCURRENT, describe_rotation
from tests.support.local_stack_process import source_pythonpath

EVENTS = REPO_ROOT / "events"
BROKER_OUTCOMES = {  # as tests/integration/test_sample_events.py documents them
    "http_api_valid.json": (200, None),
    "rest_api_valid.json": (200, None),
    "no_claims.json": (401, "unauthenticated"),
    "wrong_app_client.json": (401, "unauthenticated"),
    "unentitled_user.json": (403, "not_entitled"),
    "disallowed_scope.json": (403, "scope_not_allowed"),
}
ROTATION_STEPS = ("createSecret", "setSecret", "testSecret", "finishSecret")


def _event(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


@pytest.fixture(scope="module")
def broker(
    host_build: HostBuild, lambda_python: str, local_stack: dict[str, Any], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[BuiltFunction]:
    spec = function_spec(Template(), host_build, "BrokerFunction", local_stack)
    with BuiltFunction(spec, lambda_python, tmp_path_factory.mktemp("broker")) as function:
        yield function


def test_the_run_uses_only_the_built_artefacts(host_build: HostBuild, local_stack: dict[str, Any]) -> None:
    spec = function_spec(Template(), host_build, "BrokerFunction", local_stack)
    assert spec.function_dir.is_relative_to(REPO_ROOT / ".aws-sam")
    assert all(layer.is_relative_to(REPO_ROOT / ".aws-sam") for layer in spec.layer_dirs)
    # The built function holds its package only: its imports of the layer must resolve from the layer.
    assert sorted(p.name for p in spec.function_dir.iterdir()) == ["token_broker"]


def test_every_broker_sample_event_is_covered() -> None:
    assert {p.name for p in (EVENTS / "token_broker").glob("*.json")} == set(BROKER_OUTCOMES)


@pytest.mark.parametrize("name", sorted(BROKER_OUTCOMES))
def test_broker_sample_event(broker: BuiltFunction, local_stack: dict[str, Any], name: str) -> None:
    status, code = BROKER_OUTCOMES[name]
    event = retarget("BrokerFunction", _event(EVENTS / "token_broker" / name), local_stack)
    outcome = broker.invoke(event)
    assert outcome.ok, outcome.payload
    assert outcome.payload["statusCode"] == status, outcome.payload
    body = json.loads(outcome.payload["body"])
    if code is None:
        header = jwt.get_unverified_header(body["token"])
        claims = jwt.decode(body["token"], options={"verify_signature": False})
        assert header["kid"] == local_stack["tableau_secret_id"]
        assert claims["iss"] == local_stack["tableau_client_id"]
    else:
        assert body["error"]["code"] == code


def test_handler_import_time_is_reported(broker: BuiltFunction, record_property: Any) -> None:
    broker.invoke(retarget("BrokerFunction", _event(EVENTS / "token_broker" / "no_claims.json"), {}))
    seconds = broker.handler_import_seconds()
    record_property("broker_handler_import_ms", round(seconds * 1000, 1))
    print(f"built BrokerFunction handler import: {seconds * 1000:.0f} ms")
    assert 0 < seconds < 10  # Lambda's init phase limit


def test_rotation_sample_events_rotate_the_stacks_secret(
    host_build: HostBuild, lambda_python: str, local_stack: dict[str, Any], tmp_path: Path
) -> None:
    assert {p.stem for p in (EVENTS / "secret_rotation").glob("*.json")} == set(ROTATION_STEPS)
    spec = function_spec(Template(), host_build, "RotationFunction", local_stack)
    with BuiltFunction(spec, lambda_python, tmp_path) as function:
        # The first retarget starts a rotation (RotateSecret); the others find it pending.
        events = [
            retarget("RotationFunction", _event(EVENTS / "secret_rotation" / f"{step}.json"), local_stack)
            for step in ROTATION_STEPS
        ]
        tokens = {e["ClientRequestToken"] for e in events}
        assert len(tokens) == 1  # one rotation, started once
        for event in events:
            outcome = function.invoke(event)
            assert outcome.ok, outcome.payload
        log = function.output()
    sm = boto3.session.Session(region_name=local_stack["region"]).client(
        "secretsmanager", endpoint_url=local_stack["aws_endpoint_url"]
    )
    _, stages = describe_rotation(sm, local_stack["secret_arn"])
    assert stages.version_with(AWSCURRENT) == tokens.pop()
    current = json.loads(sm.get_secret_value(SecretId=local_stack["secret_arn"])["SecretString"])
    assert current["secret_id"] != local_stack["tableau_secret_id"]
    assert [json.loads(line)["step"] for line in log.splitlines() if '"rotation step done"' in line] == list(
        ROTATION_STEPS
    )


def test_make_invoke_runs_the_built_broker(local_stack: dict[str, Any], host_build: HostBuild) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "local_stack.invoke", "BrokerFunction", "events/token_broker/unentitled_user.json",
         "--state-file", local_stack["_state_file"], "--log-dir", str(Path(local_stack["_workdir"]) / "invoke")],
        cwd=REPO_ROOT, capture_output=True, text=True, check=False,
        env={**os.environ, "PYTHONPATH": source_pythonpath()},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["architecture"] == host_build.architecture
    assert report["payload"]["statusCode"] == 403
    assert report["handler_import_ms"] > 0
