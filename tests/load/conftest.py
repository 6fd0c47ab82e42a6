"""A local stack of the load tests' own (free ports), so no other suite's traffic shares its throttle."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.local_stack_process import running_local_stack


@pytest.fixture(scope="module")
def load_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    workdir = tmp_path_factory.mktemp("load-stack")
    with running_local_stack(workdir) as stack:
        yield stack
        process = stack["_process"]
    assert process.returncode == 0, (workdir / "stack.out").read_text()
