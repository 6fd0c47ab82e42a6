"""The running local stack (`python -m local_stack`), started once for the e2e tests and stopped with SIGTERM."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.local_stack_process import running_local_stack

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def local_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    workdir = tmp_path_factory.mktemp("stack")
    with running_local_stack(workdir) as stack:
        yield stack
        process = stack["_process"]
    # A clean SIGTERM shutdown: exit code 0 and the contract file removed.
    assert process.returncode == 0, (workdir / "stack.out").read_text()
    assert not (workdir / "stack.json").exists()
