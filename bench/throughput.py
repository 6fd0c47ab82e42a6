"""The local API's throughput, for reference: the local stack in its own process (``python -m bench.local_api``),
driven closed-loop (each worker sends its next request when the previous one is answered) at a fixed concurrency
for a fixed number of requests, by every entitled demo user signed in against the emulated Cognito."""

from __future__ import annotations

import contextlib
import itertools
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from bench.load import Caller, judge_body, require_loopback, sign_in_callers
from bench.stats import Summary
from local_stack.stack import wait_until_ready

REPO_ROOT = Path(__file__).resolve().parents[1]
SOURCE_DIRS = ("layers/shared", "functions/token_broker", "functions/secret_rotation", "tools", "local", ".")


@dataclass(frozen=True)
class ThroughputResult:
    concurrency: int
    requests: int
    statuses: dict[str, int]
    wrong_tokens: int  # a 200 whose token names another user or tenant, or is not a token
    elapsed_s: float
    latency_ms: Summary | None  # of the 200s; None when there were none

    @property
    def ok(self) -> int:
        return self.statuses.get("200", 0)

    @property
    def tokens_per_second(self) -> float:
        return self.ok / self.elapsed_s if self.elapsed_s > 0 else 0.0


@contextlib.contextmanager
def local_api(workdir: Path) -> Iterator[dict[str, Any]]:
    """The stack's contract (stack.json) while it serves; stopped with SIGTERM afterwards."""
    state_file, output = workdir / "stack.json", workdir / "stack.out"
    ready_read, ready_write = os.pipe()
    env = {**os.environ, "PYTHONUNBUFFERED": "1",
           "PYTHONPATH": os.pathsep.join(str(REPO_ROOT / d) for d in SOURCE_DIRS)}  # fmt: skip
    with output.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "bench.local_api", "--state-file", str(state_file),
             "--log-file", str(workdir / "broker.log"), "--ready-fd", str(ready_write)],
            cwd=REPO_ROOT, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
            pass_fds=(ready_write,),
        )  # fmt: skip
    os.close(ready_write)
    try:
        try:
            stack = wait_until_ready(ready_read, state_file, timeout=120)
        except (TimeoutError, RuntimeError):
            raise RuntimeError("the local stack did not start:\n" + output.read_text()) from None
        yield stack
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def drive(stack: dict[str, Any], concurrency: int, total: int, timeout: float = 30.0) -> ThroughputResult:
    api_url = require_loopback(stack["api_url"])
    callers = sign_in_callers(stack)
    headers = {"Origin": stack["demo_url"]} if stack.get("demo_url") else {}

    def send(session: requests.Session, caller: Caller) -> tuple[str, float, bool]:
        started = time.perf_counter()
        try:
            response = session.post(api_url, headers={**headers, "Authorization": f"Bearer {caller.bearer}"},
                                    json={}, timeout=timeout)  # fmt: skip
        except requests.RequestException:
            return "no_response", (time.perf_counter() - started) * 1000, False
        elapsed = (time.perf_counter() - started) * 1000
        wrong = response.status_code == 200 and any(judge_body(caller, response, "tenant"))
        return str(response.status_code), elapsed, wrong

    with requests.Session() as session:  # the first request per caller builds the broker's runtime: not counted
        for caller in callers:
            send(session, caller)
    tickets = itertools.count()
    lock = threading.Lock()
    outcomes: list[tuple[str, float, bool]] = []

    def worker() -> None:
        with requests.Session() as session:
            while (n := next(tickets)) < total:
                outcome = send(session, callers[n % len(callers)])
                with lock:
                    outcomes.append(outcome)

    threads = [threading.Thread(target=worker, name=f"throughput-{i}") for i in range(concurrency)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    statuses = Counter(status for status, _, _ in outcomes)
    ok_ms = [ms for status, ms, _ in outcomes if status == "200"]
    return ThroughputResult(
        concurrency=concurrency,
        requests=len(outcomes),
        statuses=dict(sorted(statuses.items())),
        wrong_tokens=sum(wrong for _, _, wrong in outcomes),
        elapsed_s=elapsed,
        latency_ms=Summary.of(ok_ms) if ok_ms else None,
    )


def run(concurrency: int, total: int, progress: Callable[[str], None]) -> ThroughputResult:
    with tempfile.TemporaryDirectory(prefix="bench-stack-") as workdir:
        progress("local API: starting the local stack")
        with local_api(Path(workdir)) as stack:
            progress(f"local API: {total} requests at concurrency {concurrency}")
            return drive(stack, concurrency, total)
