"""The load driver's own judgement: a foreign or malformed token is counted, percentiles and the plan are exact."""

from __future__ import annotations

import base64
import importlib.util
import json
import sys
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import pytest
import requests

from tests.support.local_stack_process import REPO_ROOT

pytestmark = pytest.mark.load


@pytest.fixture(scope="module")
def driver() -> Iterator[ModuleType]:
    """bench/load.py is a script, not a package: load it by path (dataclasses need it in sys.modules)."""
    spec = importlib.util.spec_from_file_location("bench_load_driver", REPO_ROOT / "bench" / "load.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.modules.pop(spec.name, None)


def unsigned_jwt(claims: dict[str, Any]) -> str:
    def part(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'HS256', 'typ': 'JWT'})}.{part(claims)}.c2ln"


def response_with(body: bytes) -> requests.Response:
    response = requests.Response()
    response.status_code = 200
    response._content = body
    return response


def token_response(claims: dict[str, Any]) -> requests.Response:
    return response_with(json.dumps({"token": unsigned_jwt(claims)}).encode())


def test_a_token_for_another_user_or_tenant_is_cross_tenant(driver: ModuleType) -> None:
    alice = driver.Caller("alice@acme.example", "acme", "alice@acme.example", "bearer")
    own = token_response({"sub": "alice@acme.example", "tenant": "acme"})
    other_tenant = token_response({"sub": "alice@acme.example", "tenant": "globex"})
    other_user = token_response({"sub": "bob@globex.example", "tenant": "acme"})
    assert driver.judge_body(alice, own, "tenant") == (False, False)
    assert driver.judge_body(alice, other_tenant, "tenant") == (True, False)
    assert driver.judge_body(alice, other_user, "tenant") == (True, False)


def test_a_body_without_a_readable_token_is_counted_as_bad(driver: ModuleType) -> None:
    alice = driver.Caller("alice@acme.example", "acme", "alice@acme.example", "bearer")
    assert driver.judge_body(alice, response_with(b"not json"), "tenant") == (False, True)
    assert driver.judge_body(alice, response_with(b'{"token": "a.b"}'), "tenant") == (False, True)
    no_claim = token_response({"sub": "alice@acme.example"})
    assert driver.judge_body(alice, no_claim, "tenant") == (False, True)


def test_plan_is_fixed_and_interleaved(driver: ModuleType) -> None:
    plan = driver.schedule(2, 5.0, 2.0)
    assert len(plan) == 20
    assert [caller for _, caller in plan[:4]] == [0, 1, 0, 1]
    assert plan[-1][0] < 2.0


def test_nearest_rank_percentiles(driver: ModuleType) -> None:
    values = [float(v) for v in range(1, 101)]
    assert driver.percentile(values, 0.5) == 50.0
    assert driver.percentile(values, 0.99) == 99.0
    assert driver.percentile([], 0.5) is None


def test_only_loopback_is_a_target(driver: ModuleType) -> None:
    assert driver.require_loopback("http://127.0.0.1:3000/token") == "http://127.0.0.1:3000/token"
    with pytest.raises(SystemExit):
        driver.require_loopback("https://example.com/token")
