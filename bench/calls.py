"""AWS calls per token, counted at the wire (the stub), over simulated time that crosses cache expiries.

The broker's clock is the bench's: tokens are spread over a span of simulated seconds, so the secret cache
(``SECRET_CACHE_TTL_SECONDS``) and the tenant cache (``TENANT_CACHE_TTL_SECONDS``: tenant records kept per
container for that long, 0 = off) expire during the run. The expected counts come from the TTLs alone: one user
read per token (user records are read fresh), one tenant read per tenant-cache miss, one secret read per
secret-cache miss, where an entry fetched at ``t`` serves requests before ``t + ttl``. Token times never fall on an
expiry instant, so the boundary's side does not matter.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass

from bench import world
from bench.aws_stub import DYNAMODB, SECRETSMANAGER, AwsStub
from bench.broker import fresh_broker
from bench.warm import naive_token, plain_clients

GET_ITEM = (DYNAMODB, "GetItem")
GET_SECRET_VALUE = (SECRETSMANAGER, "GetSecretValue")
DEFAULT_TENANT_TTL_SECONDS = 60  # when template.yaml does not set TENANT_CACHE_TTL_SECONDS
_OFFSET_SECONDS = 0.000_37  # keeps token times off whole-second expiry instants


class SimulatedClock:
    """Wall-clock seconds that move only when the bench says so."""

    def __init__(self, start: float) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now


@dataclass(frozen=True)
class Plan:
    times: tuple[float, ...]  # seconds since the run's start
    users: tuple[world.User, ...]

    @property
    def tokens(self) -> int:
        return len(self.times)

    @property
    def span_seconds(self) -> float:
        return self.times[-1] - self.times[0] if self.times else 0.0


def plan(tokens: int, people: list[world.User], span_seconds: float, seed: int = 10) -> Plan:
    """``tokens`` requests evenly spread over ``span_seconds``, each from a user drawn at random (seeded)."""
    chooser = random.Random(seed)  # noqa: S311 - a reproducible plan, not a secret
    step = span_seconds / max(1, tokens - 1)
    times = tuple(_OFFSET_SECONDS + i * step for i in range(tokens))
    return Plan(times, tuple(chooser.choice(people) for _ in range(tokens)))


def cache_misses(requests: Iterable[tuple[float, Hashable]], ttl_seconds: float) -> int:
    """Reads a per-key cache makes: a miss when the key was never fetched or its entry (fetched at ``t``) has
    reached ``t + ttl``; a TTL of 0 reads every time."""
    expires: dict[Hashable, float] = {}
    reads = 0
    for at, key in requests:
        if ttl_seconds <= 0 or key not in expires or at >= expires[key]:
            reads += 1
            expires[key] = at + ttl_seconds
    return reads


@dataclass(frozen=True)
class Scenario:
    name: str
    tenant_ttl_seconds: int | None  # None: the naive baseline (no broker, no caches)
    secret_ttl_seconds: int | None
    tokens: int
    span_seconds: float
    tenants: int
    users: int
    measured: dict[tuple[str, str], int]
    expected: dict[tuple[str, str], int]

    @property
    def matches(self) -> bool:
        return self.measured == self.expected

    def per_token(self, operation: tuple[str, str], counts: dict[tuple[str, str], int] | None = None) -> float:
        return (counts if counts is not None else self.measured).get(operation, 0) / self.tokens

    @property
    def dynamodb_per_token(self) -> float:
        return sum(n for (service, _), n in self.measured.items() if service == DYNAMODB) / self.tokens


def expected_broker_calls(work: Plan, tenant_ttl: int, secret_ttl: int) -> dict[tuple[str, str], int]:
    tenant_reads = cache_misses(zip(work.times, (u.tenant for u in work.users), strict=True), tenant_ttl)
    secret_reads = cache_misses(((t, "secret") for t in work.times), secret_ttl)
    return {GET_ITEM: work.tokens + tenant_reads, GET_SECRET_VALUE: secret_reads}


def broker_scenario(stub: AwsStub, secret_arn: str, work: Plan, name: str, tenant_ttl: int,
                    start: float) -> Scenario:  # fmt: skip
    env = world.broker_environment(secret_arn, stub.url)
    env[world.TENANT_TTL_VARIABLE] = str(tenant_ttl)
    secret_ttl = int(env[world.SECRET_TTL_VARIABLE])
    clock = SimulatedClock(start)
    events = {u.sub: world.event(u, start) for u in set(work.users)}
    stub.reset_counts()
    with world.environment(env), fresh_broker(clock) as broker:
        for at, user in zip(work.times, work.users, strict=True):
            clock.now = start + at
            broker(events[user.sub])
    return Scenario(
        name=name,
        tenant_ttl_seconds=tenant_ttl,
        secret_ttl_seconds=secret_ttl,
        tokens=work.tokens,
        span_seconds=work.span_seconds,
        tenants=len({u.tenant for u in work.users}),
        users=len(set(work.users)),
        measured=stub.counts(),
        expected=expected_broker_calls(work, tenant_ttl, secret_ttl),
    )


def naive_scenario(stub: AwsStub, secret_arn: str, work: Plan) -> Scenario:
    env = world.broker_environment(secret_arn, stub.url)
    stub.reset_counts()
    with world.environment(env):
        dynamodb, secretsmanager = plain_clients()
        for user in work.users:
            naive_token(dynamodb, secretsmanager, secret_arn, user.sub)
    return Scenario(
        name="naive baseline",
        tenant_ttl_seconds=None,
        secret_ttl_seconds=None,
        tokens=work.tokens,
        span_seconds=work.span_seconds,
        tenants=len({u.tenant for u in work.users}),
        users=len(set(work.users)),
        measured=stub.counts(),
        expected={GET_ITEM: 2 * work.tokens, GET_SECRET_VALUE: work.tokens},
    )


def configured_tenant_ttl(secret_arn: str, endpoint: str) -> int:
    """TENANT_CACHE_TTL_SECONDS as template.yaml sets it for BrokerFunction, or the bench's default."""
    value = world.broker_environment(secret_arn, endpoint).get(world.TENANT_TTL_VARIABLE, "")
    return int(value) if value.strip() else DEFAULT_TENANT_TTL_SECONDS


def run(stub: AwsStub, secret_arn: str, tokens: int, progress: Callable[[str], None],
        tenant_ttl: int | None = None, start: float = 1_900_000_000.0) -> list[Scenario]:  # fmt: skip
    """The broker with the tenant cache off and on, and the naive baseline, over the same plan. The span covers
    two and a half secret-cache lifetimes and at least five tenant-cache lifetimes."""
    people = world.users()
    ttl = tenant_ttl if tenant_ttl is not None else configured_tenant_ttl(secret_arn, stub.url)
    secret_ttl = int(world.broker_environment(secret_arn, stub.url)[world.SECRET_TTL_VARIABLE])
    span = max(2.5 * secret_ttl, 5.0 * ttl, 60.0)
    work = plan(tokens, people, span)
    stub.set_latency(dynamodb_ms=0, secretsmanager_ms=0)  # counts do not depend on latency
    progress(f"AWS calls: {tokens} tokens, tenant cache off")
    off = broker_scenario(stub, secret_arn, work, "broker, tenant cache off", 0, start)
    progress(f"AWS calls: {tokens} tokens, tenant cache {ttl} s")
    on = broker_scenario(stub, secret_arn, work, f"broker, tenant cache {ttl} s", ttl, start)
    progress(f"AWS calls: {tokens} tokens, naive baseline")
    naive = naive_scenario(stub, secret_arn, work)
    return [off, on, naive]
