"""`python -m local_stack` as a child process: started on free ports, awaited on a readiness pipe, stopped with
SIGTERM (the way an operator stops `make demo`), its exit status checked."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from local_stack.stack import wait_until_ready

REPO_ROOT = Path(__file__).resolve().parents[2]


def source_pythonpath() -> str:
    """The source directories pytest puts first, for child processes: this checkout, never an installed copy."""
    config = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    entries = config["tool"]["pytest"]["ini_options"]["pythonpath"]
    return os.pathsep.join(str(REPO_ROOT / entry) for entry in entries)


@contextlib.contextmanager
def running_local_stack(workdir: Path, *extra_args: str) -> Iterator[dict[str, Any]]:
    """The stack's contract (stack.json) plus ``_process``, ``_stdout``, ``_state_file`` and ``_workdir``."""
    state_file = workdir / "stack.json"
    stdout = workdir / "stack.out"
    ready_read, ready_write = os.pipe()  # the stack writes "ready" here once it serves: no polling for the file
    with stdout.open("w") as output:
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
                *extra_args,
            ],
            cwd=REPO_ROOT,
            stdout=output,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONPATH": source_pythonpath()},
            pass_fds=(ready_write,),
        )
    os.close(ready_write)  # only the child holds the write end now: its exit is EOF on ready_read
    try:
        try:
            stack = wait_until_ready(ready_read, state_file, timeout=120)  # closes ready_read
        except (TimeoutError, RuntimeError):
            process.kill()
            raise AssertionError("the local stack did not start:\n" + stdout.read_text()) from None
        stack.update(_process=process, _stdout=str(stdout), _state_file=str(state_file), _workdir=str(workdir))
        yield stack
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                raise
