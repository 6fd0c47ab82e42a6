"""AWS calls per token, counted at the stub, against the counts the cache TTLs predict."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bench import calls, world
from bench.aws_stub import AwsStub
from bench.calls import GET_ITEM, GET_SECRET_VALUE

TOKENS = 240
START = 1_900_000_000.0


@pytest.fixture(scope="module")
def stub() -> Iterator[tuple[AwsStub, str]]:
    with AwsStub(dynamodb_ms=0, secretsmanager_ms=0) as running:
        yield running, world.seed(running, world.users())


def work(span: float) -> calls.Plan:
    return calls.plan(TOKENS, world.users(), span)


def test_the_cache_model_reads_on_a_miss_and_once_an_entry_has_lived_its_ttl() -> None:
    requests = [(0.0, "a"), (5.0, "a"), (6.0, "b"), (10.5, "a"), (12.0, "a"), (16.5, "b"), (21.0, "a")]
    assert calls.cache_misses(requests, 10) == 5  # a@0, b@6, a@10.5, b@16.5, a@21
    assert calls.cache_misses(requests, 0) == len(requests)


def test_with_the_tenant_cache_off_every_token_costs_two_get_items(stub: tuple[AwsStub, str]) -> None:
    aws, secret_arn = stub
    plan = work(span=750.0)  # the template's secret TTL (300 s) expires twice
    scenario = calls.broker_scenario(aws, secret_arn, plan, "off", 0, START)
    assert scenario.secret_ttl_seconds == 300
    assert scenario.measured[GET_ITEM] == 2 * TOKENS
    assert scenario.measured[GET_SECRET_VALUE] == 3 == scenario.expected[GET_SECRET_VALUE]
    assert scenario.matches


def test_the_naive_baseline_makes_three_calls_per_token(stub: tuple[AwsStub, str]) -> None:
    aws, secret_arn = stub
    scenario = calls.naive_scenario(aws, secret_arn, work(span=60.0))
    assert scenario.measured == {GET_ITEM: 2 * TOKENS, GET_SECRET_VALUE: TOKENS}
    assert scenario.matches


def test_with_the_tenant_cache_on_tenant_reads_equal_its_misses_and_expiries(stub: tuple[AwsStub, str]) -> None:
    aws, secret_arn = stub
    plan = work(span=300.0)  # a 30 s tenant TTL expires about ten times per tenant
    scenario = calls.broker_scenario(aws, secret_arn, plan, "on", 30, START)
    tenant_reads = scenario.expected[GET_ITEM] - TOKENS
    assert 4 * 5 <= tenant_reads < TOKENS  # several expiries of each of the 4 tenants, far fewer than tokens
    assert scenario.measured[GET_ITEM] == TOKENS + tenant_reads
    assert scenario.matches
