"""Cold start from the built artefacts: a fresh python3.13 that imports the handler as deployed and serves its
first request, against a fresh python3.13 with the same ``sys.path`` that imports boto3 and PyJWT and makes one
GetItem. Both talk to the stub (with its modelled latency) and run with tracing on as deployed: the Lambda
variables active tracing sets (``_X_AMZN_TRACE_ID``, an X-Ray daemon address that is a UDP socket of the bench's
own). The function runs no tracing SDK (README "Performance"), so Lambda's service-side segments are all the
tracing there is; the bench counts the datagrams anyway, so a tracer added back shows up here.

Wall time runs from spawning the interpreter to reading its report; the child reports its own import and first
request times and its peak RSS (``VmHWM``).
"""

from __future__ import annotations

import json
import socket
import statistics
import subprocess
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import world
from sam_local.host_build import HostBuild

REPORT = "bench-report "
# The child's peak RSS. Linux carries ru_maxrss over fork and exec, so a child spawned by a large parent would
# report the parent's peak; VmHWM belongs to the process image the exec created.
_PEAK_RSS = """\
def peak_rss_kib():
    try:
        with open('/proc/self/status') as status:
            return next(int(line.split()[1]) for line in status if line.startswith('VmHWM:'))
    except (OSError, StopIteration):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
"""
# argv: [-c, handler, event JSON, path...]. Imports the handler's module, invokes it once, reports on stderr.
_BROKER_CHILD = """\
import json, resource, sys, time
started = time.perf_counter()
handler_path, event = sys.argv[1], json.loads(sys.argv[2])
sys.path[:0] = sys.argv[3:]
module_name, _, function_name = handler_path.rpartition('.')
import importlib
handler = getattr(importlib.import_module(module_name), function_name)
imported = time.perf_counter()
class Context:
    function_name = 'BrokerFunction'
    function_version = '$LATEST'
    memory_limit_in_mb = 512
    invoked_function_arn = 'arn:aws:lambda:us-east-1:123456789012:function:BrokerFunction'
    aws_request_id = 'cold-start'
    log_group_name = '/aws/lambda/BrokerFunction'
    log_stream_name = 'cold'
    def get_remaining_time_in_millis(self):
        return 10000
status = handler(event, Context()).get('statusCode')
done = time.perf_counter()
report = {'status': status, 'import_ms': (imported - started) * 1000, 'request_ms': (done - imported) * 1000,
          'maxrss_kib': peak_rss_kib()}
print('bench-report ' + json.dumps(report), file=sys.stderr, flush=True)
"""
# argv: [-c, table, key, path...]. boto3 and PyJWT imported, one GetItem.
_FLOOR_CHILD = """\
import json, resource, sys, time
started = time.perf_counter()
table, key = sys.argv[1], sys.argv[2]
sys.path[:0] = sys.argv[3:]
import boto3, jwt
imported = time.perf_counter()
item = boto3.client('dynamodb').get_item(TableName=table, Key={'pk': {'S': key}}, ConsistentRead=True)
done = time.perf_counter()
report = {'status': 200 if 'Item' in item else 404, 'import_ms': (imported - started) * 1000,
          'request_ms': (done - imported) * 1000, 'maxrss_kib': peak_rss_kib()}
print('bench-report ' + json.dumps(report), file=sys.stderr, flush=True)
"""
TRACE_ID = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"


@dataclass(frozen=True)
class Run:
    wall_ms: float
    import_ms: float
    request_ms: float
    maxrss_kib: int


@dataclass(frozen=True)
class Side:
    runs: tuple[Run, ...]

    def _values(self, field: str) -> list[float]:
        return [float(getattr(run, field)) for run in self.runs]

    def median(self, field: str) -> float:
        return statistics.median(self._values(field))

    def low(self, field: str) -> float:
        return min(self._values(field))

    def high(self, field: str) -> float:
        return max(self._values(field))


@dataclass(frozen=True)
class ColdResult:
    python: str
    python_version: str
    broker: Side
    floor: Side
    trace_datagrams: int  # what the X-Ray "daemon" received from the broker's runs (0: no in-process tracer)

    @property
    def ratio(self) -> float:
        return self.broker.median("wall_ms") / self.floor.median("wall_ms")


def lambda_environment(function_dir: Path, runtime_dir: Path, daemon: str) -> dict[str, str]:
    """What Lambda's python3.13 runtime sets, with active tracing (the template's ``Tracing: Active``)."""
    return {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "LANG": "en_US.UTF-8",
        "TZ": ":UTC",
        "AWS_EXECUTION_ENV": "AWS_Lambda_python3.13",
        "AWS_LAMBDA_FUNCTION_NAME": "BrokerFunction",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512",
        "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/BrokerFunction",
        "AWS_LAMBDA_LOG_STREAM_NAME": "cold",
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        "LAMBDA_TASK_ROOT": str(function_dir),
        "LAMBDA_RUNTIME_DIR": str(runtime_dir),
        "_HANDLER": "token_broker.handler.lambda_handler",
        "_X_AMZN_TRACE_ID": TRACE_ID,
        "AWS_XRAY_DAEMON_ADDRESS": daemon,
        "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
    }


def spawn(python: str, code: str, args: list[str], env: Mapping[str, str], cwd: Path, timeout: float = 60.0) -> Run:
    """Start a fresh isolated interpreter (``-I -S``: no site-packages, no PYTHON* variables, as the built
    function runs; ``-B``: nothing written into the artefacts, as on Lambda's read-only /var/task and /opt, so
    the bytecode the build ships is all there is) and wait for its report line."""
    started = time.perf_counter()
    process = subprocess.Popen(
        [python, "-I", "-S", "-B", "-c", code, *args],
        env=dict(env),
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    report: dict[str, Any] | None = None
    lines: list[str] = []
    try:
        assert process.stderr is not None
        for line in process.stderr:
            if line.startswith(REPORT):
                wall_ms = (time.perf_counter() - started) * 1000
                report = json.loads(line[len(REPORT) :])
                break
            lines.append(line)
        process.wait(timeout=timeout)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    if report is None or report["status"] != 200:
        raise RuntimeError(f"cold-start child failed ({report}):\n{''.join(lines[-30:])}")
    return Run(wall_ms, report["import_ms"], report["request_ms"], int(report["maxrss_kib"]))


def _drain(sock: socket.socket) -> int:
    received = 0
    sock.setblocking(False)
    while True:
        try:
            sock.recv(65536)
        except BlockingIOError:
            return received
        received += 1


def run(build: HostBuild, python: str, env: Mapping[str, str], event: dict[str, Any], runs: int,
        progress: Callable[[str], None]) -> ColdResult:  # fmt: skip
    """``runs`` of each, interleaved (broker, floor, broker, ...) so machine noise falls on both alike, after
    one pair that is not counted (it brings the artefacts into the page cache)."""
    function_dir = build.function_dir("BrokerFunction")
    paths = [str(function_dir), str(build.layer_python_dir), str(build.runtime_dir)]
    version = subprocess.run([python, "-I", "-c", "import sys; print(sys.version.split()[0])"],
                             capture_output=True, text=True, check=True).stdout.strip()  # fmt: skip
    broker_runs: list[Run] = []
    floor_runs: list[Run] = []
    datagrams = 0
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as daemon:
        daemon.bind(("127.0.0.1", 0))
        address = f"127.0.0.1:{daemon.getsockname()[1]}"
        full_env = {**env, **lambda_environment(function_dir, build.runtime_dir, address)}
        key = f"USER#{world.users()[0].sub}"
        broker_args = [full_env["_HANDLER"], json.dumps(event), *paths]
        floor_args = [world.TABLE, key, *paths]
        for i in range(runs + 1):
            broker = spawn(python, _PEAK_RSS + _BROKER_CHILD, broker_args, full_env, function_dir)
            datagrams += _drain(daemon)
            floor = spawn(python, _PEAK_RSS + _FLOOR_CHILD, floor_args, full_env, function_dir)
            _drain(daemon)
            if i > 0:
                broker_runs.append(broker)
                floor_runs.append(floor)
            progress(f"cold start: {i}/{runs} pairs" + (" (warm-up pair, not counted)" if i == 0 else ""))
    return ColdResult(python, version, Side(tuple(broker_runs)), Side(tuple(floor_runs)), datagrams)
