from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.cli import Aws, aws_environment


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Aws]:
    """moto in-process with the table and secret built from template.yaml (the CLI tests' AWS)."""
    monkeypatch.delenv("TOKEN_BROKER_STACK", raising=False)
    monkeypatch.delenv("COGNITO_USER_POOL_ID", raising=False)
    monkeypatch.delenv("TABLEAU_ADMIN_SECRET_ARN", raising=False)
    # Record tests read each command's JSON result; the text form is tested in test_cli_output.py.
    monkeypatch.setenv("TOKEN_BROKER_OUTPUT", "json")
    with aws_environment(monkeypatch, tmp_path) as env:
        yield env
