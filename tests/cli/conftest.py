from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.cli import Aws, aws_environment


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Aws]:
    """moto in-process with the table and secret built from template.yaml (the CLI tests' AWS)."""
    with aws_environment(monkeypatch, tmp_path) as env:
        yield env
