"""Runs a function as ``sam build`` produced it, the way Lambda's managed Python runtime does.

A fresh interpreter of the function's runtime (``python3.13``), isolated (``-I -S``: no site-packages, no
PYTHON* variables, no current directory) with ``sys.path`` = the built function directory, the layer's
``python/`` directory and the runtime interface client's directory (Lambda's /var/task, /opt/python and
/var/runtime), then the standard library. AWS's runtime interface client (``awslambdaric``) imports the handler
and polls a local Runtime API (:mod:`sam_local.runtime_api`) for invocations. The process gets only the
environment Lambda would give it: the function's variables plus the runtime's reserved ones.
"""

from __future__ import annotations

import re
import subprocess  # nosec B404  # runs our own interpreter and the SAM CLI with fixed arguments
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from sam_local.runtime_api import Outcome, RuntimeApi

# Runs inside the fresh interpreter: argv = [-c, handler, path, ...]. awslambdaric's own entry point then runs; the
# one addition is a clock around its ``importlib.import_module`` of the handler's module (Lambda's init phase).
_BOOTSTRAP = """\
import importlib, sys, time
handler, paths = sys.argv[1], sys.argv[2:]
sys.path[:0] = paths
module_name = handler.rpartition('.')[0]
real_import_module = importlib.import_module
def timed_import_module(name, package=None):
    started = time.perf_counter()
    module = real_import_module(name, package)
    if name == module_name:
        print(f'handler import seconds: {name} {time.perf_counter() - started:.6f}', file=sys.__stderr__, flush=True)
    return module
importlib.import_module = timed_import_module
sys.argv = ['awslambdaric', handler]
from awslambdaric.__main__ import main
main(sys.argv)
"""
_IMPORT_TIME = re.compile(r"^handler import seconds: (\S+) ([0-9.]+)$")


@dataclass(frozen=True)
class FunctionSpec:
    logical_id: str
    handler: str
    function_dir: Path
    layer_dirs: tuple[Path, ...]
    runtime_dir: Path
    environment: Mapping[str, str]
    memory_mb: int = 512
    timeout_seconds: float = 10.0
    region: str = "us-east-1"


class BuiltFunction:
    """One warm function instance: started once, invoked any number of times, then closed."""

    def __init__(self, spec: FunctionSpec, python: str, log_dir: Path) -> None:
        self.spec = spec
        self.python = python
        self.stdout_path = log_dir / f"{spec.logical_id}.out"
        self.stderr_path = log_dir / f"{spec.logical_id}.err"
        arn = f"arn:aws:lambda:{spec.region}:123456789012:function:{spec.logical_id}"
        self.api = RuntimeApi(arn)
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> BuiltFunction:
        self.stdout_path.parent.mkdir(parents=True, exist_ok=True)
        paths = [self.spec.function_dir, *(d for d in self.spec.layer_dirs), self.spec.runtime_dir]
        with self.stdout_path.open("wb") as out, self.stderr_path.open("wb") as err:
            self._process = subprocess.Popen(  # noqa: S603 - our interpreter, our arguments  # nosec B603
                [self.python, "-I", "-S", "-c", _BOOTSTRAP, self.spec.handler, *map(str, paths)],
                env=self._environment(),
                cwd=self.spec.function_dir,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
            )
        process = self._process
        threading.Thread(target=lambda: self.api.process_exited(process.wait()), daemon=True).start()
        return self

    def _environment(self) -> dict[str, str]:
        """What Lambda sets for a python3.13 function, then the function's own variables."""
        name = self.spec.logical_id
        return {
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "LANG": "en_US.UTF-8",
            "TZ": ":UTC",
            "AWS_EXECUTION_ENV": "AWS_Lambda_python3.13",
            "AWS_LAMBDA_FUNCTION_NAME": name,
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(self.spec.memory_mb),
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{name}",
            "AWS_LAMBDA_LOG_STREAM_NAME": "local",
            "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
            "AWS_LAMBDA_RUNTIME_API": self.api.address,
            "AWS_REGION": self.spec.region,
            "AWS_DEFAULT_REGION": self.spec.region,
            "LAMBDA_TASK_ROOT": str(self.spec.function_dir),
            "LAMBDA_RUNTIME_DIR": str(self.spec.runtime_dir),
            "_HANDLER": self.spec.handler,
            **self.spec.environment,
        }

    def invoke(self, event: Any) -> Outcome:
        if self._process is None:
            raise RuntimeError("start() the function first")
        return self.api.invoke(event, self.spec.timeout_seconds)

    def handler_import_seconds(self) -> float:
        """How long awslambdaric's import of the handler's module took in the fresh interpreter (init phase)."""
        module = self.spec.handler.rpartition(".")[0]
        for line in self.stderr_path.read_text(encoding="utf-8", errors="replace").splitlines():
            match = _IMPORT_TIME.match(line)
            if match and match.group(1) == module:
                return float(match.group(2))
        raise LookupError(f"{module} was not imported (see {self.stderr_path})")

    def output(self) -> str:
        """What the function wrote (its structured log and awslambdaric's own lines)."""
        return self.stdout_path.read_text(encoding="utf-8", errors="replace")

    def close(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self.api.close()

    def __enter__(self) -> BuiltFunction:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
