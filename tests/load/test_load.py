"""Load on the local stack from a separate process (bench/load.py), both tenants at once.

A: under the route throttle for TOKEN_BROKER_LOAD_SECONDS (default 60): every request answered 200 and every
   Tableau JWT names its own caller's Tableau user and tenant.
B: four times the throttle for TOKEN_BROKER_LOAD_BURST_SECONDS (default 3): the excess is refused with 429,
   nothing with a 5xx, and no more is let through than the token bucket allows.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from sam_local.template import Template
from tests.support.figures import record
from tests.support.local_stack_process import REPO_ROOT, source_pythonpath

pytestmark = pytest.mark.load

DRIVER = REPO_ROOT / "bench" / "load.py"
STEADY_SHARE = 0.3  # per caller, of the route's rate limit: two callers use 60 % of it
OVERLOAD_FACTOR = 2.0  # per caller, of the route's rate limit: two callers send four times it


def seconds_from_env(name: str, default: float) -> float:
    value = float(os.environ.get(name, default))
    if not 0 < value <= 600:
        raise ValueError(f"{name} must be in (0, 600] seconds")
    return value


def throttle() -> tuple[float, int]:
    """The route throttle the local API applies: the template's defaults for POST /token."""
    defaults = Template().parameter_defaults()
    return float(defaults["ThrottlingRateLimit"]), int(defaults["ThrottlingBurstLimit"])


def drive(stack: dict[str, Any], out: Path, *, rate: float, duration: float) -> dict[str, Any]:
    tenant_claim = str(Template().parameter_defaults()["TenantAttributeName"])
    command = [
        sys.executable, str(DRIVER), "--stack", stack["_state_file"], "--out", str(out),
        "--rate", str(rate), "--duration", str(duration), "--tenant-claim", tenant_claim,
    ]  # fmt: skip
    completed = subprocess.run(
        command,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=duration + 90,
        env={**os.environ, "PYTHONPATH": source_pythonpath()},
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    results: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
    return results


@pytest.fixture(scope="module")
def runs(load_stack: dict[str, Any]) -> dict[str, Any]:
    rate_limit, burst_limit = throttle()
    steady_seconds = seconds_from_env("TOKEN_BROKER_LOAD_SECONDS", 60)
    burst_seconds = seconds_from_env("TOKEN_BROKER_LOAD_BURST_SECONDS", 3)
    workdir = Path(load_stack["_workdir"])
    steady = drive(load_stack, workdir / "steady.json", rate=rate_limit * STEADY_SHARE, duration=steady_seconds)
    overload = drive(load_stack, workdir / "overload.json", rate=rate_limit * OVERLOAD_FACTOR, duration=burst_seconds)
    record(
        "load",
        requests=steady["requests"],
        rate=steady["rate"],
        duration=steady["duration_s"],
        p50_ms=steady["p50_ms"],
        p99_ms=steady["p99_ms"],
        errors=steady["planned"] - steady["ok"] + steady["bad_body"],
        cross_tenant=steady["cross_tenant"] + overload["cross_tenant"],
        throttled_429=overload["throttled_429"],
        server_5xx=steady["server_5xx"] + overload["server_5xx"],
        cold_ms=max((w["ms"] for w in steady["warmup"]), default=None),
        overload_requests=overload["requests"],
        overload_rate=overload["rate"],
        overload_duration=overload["duration_s"],
        overload_ok=overload["ok"],
        throttle_rate_limit=rate_limit,
        throttle_burst_limit=burst_limit,
    )
    return {"steady": steady, "overload": overload, "rate_limit": rate_limit, "burst_limit": burst_limit}


def test_two_tenants_under_the_throttle_get_only_their_own_tokens(runs: dict[str, Any]) -> None:
    steady = runs["steady"]
    assert steady["rate"] < runs["rate_limit"]
    assert steady["tenants"] == ["acme", "globex"]
    assert steady["unfinished"] == 0
    assert steady["statuses"] == {"200": steady["planned"]}, steady["statuses"]
    assert steady["bad_body"] == 0
    assert steady["cross_tenant"] == 0
    assert steady["ok_per_tenant"] == {"acme": steady["planned"] // 2, "globex": steady["planned"] // 2}
    assert steady["p50_ms"] is not None
    assert steady["p99_ms"] is not None
    assert [(w["tenant"], w["status"]) for w in steady["warmup"]] == [("acme", 200), ("globex", 200)]


def test_above_the_throttle_excess_is_429_and_never_5xx(runs: dict[str, Any]) -> None:
    overload = runs["overload"]
    assert overload["rate"] > runs["rate_limit"]
    assert overload["unfinished"] == 0
    assert overload["no_response"] == 0
    assert set(overload["statuses"]) <= {"200", "429"}, overload["statuses"]
    assert overload["server_5xx"] == 0
    assert overload["throttled_429"] > 0
    assert overload["cross_tenant"] == 0
    assert overload["bad_body"] == 0
    # The bucket was full when the burst began (the steady phase used 60 % of the refill), so the first
    # `burst` requests pass; after that no more than the refill over the window does.
    assert overload["ok"] >= runs["burst_limit"]
    assert overload["ok"] <= runs["burst_limit"] + runs["rate_limit"] * overload["window_s"] + 1
