"""samconfig.toml: each environment deploys without a prompt once its placeholders are filled in, holds nothing
account-specific or secret, and reads the same through SAM CLI's own config reader as through our check."""

from __future__ import annotations

import json
import re
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import pytest

from sam_local.template import Template
from tools.samconfig_check import PLACEHOLDER, main, parameter_overrides, placeholders

REPO_ROOT = Path(__file__).resolve().parents[2]
SAMCONFIG = REPO_ROOT / "samconfig.toml"
SAM_PYTHON = REPO_ROOT / ".tools" / "sam" / "bin" / "python"
if not SAM_PYTHON.exists():  # a worktree shares the main checkout's tools
    SAM_PYTHON = Path("/work/main/.tools/sam/bin/python")
ENVIRONMENTS = ("default", "production")


def config() -> dict[str, Any]:
    return tomllib.loads(SAMCONFIG.read_text(encoding="utf-8"))


def required_parameters() -> set[str]:
    return {name for name, spec in Template().doc["Parameters"].items() if "Default" not in spec}


def sam_reads(config_dir: Path, env: str) -> dict[str, Any]:
    assert SAM_PYTHON.exists(), "SAM CLI's venv is missing: run `make install`"
    completed = subprocess.run(
        [str(SAM_PYTHON), str(REPO_ROOT / "tests" / "support" / "sam_config_reader.py"), str(config_dir), env],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    result: dict[str, Any] = json.loads(completed.stdout)
    return result


def filled_in(text: str) -> str:
    """The committed file with every placeholder replaced by a value of the right shape."""
    return (
        text.replace("<user-pool-id>", "eu-west-1_AbCdEf123")
        .replace("<app-client-id>", "appclientid000000000000001")
        .replace("<https://app.example.com>", "https://app.example.com")
        .replace("<tableau-viewer-username>", "viewer@example.com")
    )


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_sam_deploys_the_environment_without_prompts(env: str) -> None:
    read = sam_reads(REPO_ROOT, env)
    parameters = read["parameters"]
    assert parameters["stack_name"]
    assert parameters["confirm_changeset"] is False
    assert parameters["resolve_s3"] is True
    assert "CAPABILITY_IAM" in parameters["capabilities"].split()
    # SAM parses the overrides as our check does; they name only template parameters and cover every required one.
    assert read["overrides"] == parameter_overrides(parameters)
    template_parameters = set(Template().doc["Parameters"])
    assert set(read["overrides"]) <= template_parameters
    assert required_parameters() <= set(read["overrides"])


def test_environments_are_separate_stacks() -> None:
    names = {env: sam_reads(REPO_ROOT, env)["parameters"]["stack_name"] for env in ENVIRONMENTS}
    assert len(set(names.values())) == len(ENVIRONMENTS)


def test_nothing_account_specific_or_secret_is_committed() -> None:
    text = SAMCONFIG.read_text(encoding="utf-8")
    assert not re.search(r"\b\d{12}\b", text), "an AWS account ID"
    assert "arn:" not in text
    assert not re.search(r"^\s*(s3_bucket|region|profile|image_repositor(y|ies))\s*=", text, re.MULTILINE)
    assert not re.search(r"(?i)(secret|password|pat_secret|token)\w*\s*=", text)


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_make_deploy_refuses_the_committed_placeholders(env: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert placeholders(config(), env) == sorted(required_parameters())
    assert main([env, "--config", str(SAMCONFIG)]) == 2
    assert "UserPoolId" in capsys.readouterr().err


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_a_filled_in_environment_passes_the_check(env: str, tmp_path: Path) -> None:
    path = tmp_path / "samconfig.toml"
    path.write_text(filled_in(SAMCONFIG.read_text(encoding="utf-8")), encoding="utf-8")
    assert main([env, "--config", str(path)]) == 0
    overrides = sam_reads(tmp_path, env)["overrides"]
    assert not [value for value in overrides.values() if PLACEHOLDER.search(value)]
    assert re.fullmatch(r"[\w-]+_[0-9a-zA-Z]+", overrides["UserPoolId"])


def test_an_unknown_environment_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["staging", "--config", str(SAMCONFIG)]) == 2
    assert "staging" in capsys.readouterr().err
