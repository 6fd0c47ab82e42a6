"""The running local stack (`python -m local_stack`), started once for the e2e tests and stopped with SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from local_stack.stack import wait_until_ready

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def local_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    workdir = tmp_path_factory.mktemp("stack")
    state_file = workdir / "stack.json"
    output = (workdir / "stack.out").open("w")
    ready_read, ready_write = os.pipe()  # the stack writes "ready" here once it serves: no polling for the file
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
            "--ready-fd",
            str(ready_write),
        ],
        cwd=REPO_ROOT,
        stdout=output,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        pass_fds=(ready_write,),
    )
    os.close(ready_write)  # only the child holds the write end now: its exit is EOF on ready_read
    try:
        try:
            stack = wait_until_ready(ready_read, state_file, timeout=120)
        except (TimeoutError, RuntimeError):
            process.kill()
            raise AssertionError("the local stack did not start:\n" + (workdir / "stack.out").read_text()) from None
        stack["_process"] = process
        stack["_stdout"] = str(workdir / "stack.out")
        yield stack
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                raise
        output.close()
    # A clean SIGTERM shutdown: exit code 0 and the contract file removed.
    assert process.returncode == 0, (workdir / "stack.out").read_text()
    assert not state_file.exists()
