"""A local stack of the load tests' own (free ports), so no other suite's traffic shares its throttle."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from local_stack.stack import wait_for_state_file

REPO_ROOT = Path(__file__).resolve().parents[2]


def source_pythonpath() -> str:
    """The same source directories pytest puts first, for child processes (this checkout, not an install)."""
    config = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    entries = config["tool"]["pytest"]["ini_options"]["pythonpath"]
    return os.pathsep.join(str(REPO_ROOT / entry) for entry in entries)


@pytest.fixture(scope="module")
def load_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    workdir = tmp_path_factory.mktemp("load-stack")
    state_file = workdir / "stack.json"
    log = workdir / "stack.out"
    with log.open("w") as output:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "local_stack",
                "--free-ports",
                "--no-walkthrough",
                "--state-file",
                str(state_file),
                "--log-file",
                str(workdir / "broker.log"),
            ],
            cwd=REPO_ROOT,
            stdout=output,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONPATH": source_pythonpath()},
        )
        try:
            try:
                stack = wait_for_state_file(state_file, timeout=120)
            except TimeoutError:
                process.kill()
                raise AssertionError("the local stack did not start:\n" + log.read_text()) from None
            stack["_state_file"] = str(state_file)
            stack["_workdir"] = str(workdir)
            yield stack
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    process.kill()
                    raise
    assert process.returncode == 0, log.read_text()
