"""The built artefacts (the host-architecture twin of `sam build`) and the local stack they run against."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from sam_local.host_build import HostBuild, build_for_host, runtime_python
from tests.support.local_stack_process import running_local_stack


@pytest.fixture(scope="package")
def host_build() -> HostBuild:
    return build_for_host()


@pytest.fixture(scope="package")
def lambda_python() -> str:
    return runtime_python()


@pytest.fixture(scope="package")
def local_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    with running_local_stack(tmp_path_factory.mktemp("stack")) as stack:
        yield stack
