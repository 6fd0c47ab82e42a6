"""The tenant cache: one DynamoDB read per token in steady state, and the bounds it promises.

User records are read for every token (a user's revocation applies to the next request); a tenant record is read
at most once per ``TENANT_CACHE_TTL_SECONDS`` per container, so a tenant's change applies within that bound.
Counted at the fake client, times from a set clock.
"""

from __future__ import annotations

import pytest

from tableau_broker.config import settings_from_env
from tableau_broker.entitlements import EntitlementStore, TenantRecord, tenant_key, user_key
from tableau_broker.errors import ConfigurationError, NotEntitled
from tableau_broker.tenant_cache import DEFAULT_TENANT_CACHE_TTL_SECONDS, TenantCache
from tests.unit.fakes import TABLE, FakeClock, FakeDynamoDB, tenant_item, user_item

TTL = 60


class World:
    def __init__(self, ttl: int = TTL, *, max_entries: int = 1024) -> None:
        self.clock = FakeClock()
        self.dynamodb = FakeDynamoDB()
        self.cache = TenantCache(ttl, self.clock, max_entries=max_entries)
        self.store = EntitlementStore(self.dynamodb, TABLE, self.cache)  # type: ignore[arg-type]
        self.dynamodb.put_tenant("acme", tenant_item())
        self.dynamodb.put_user("alice", user_item("acme"))
        self.dynamodb.put_user("bob", user_item("acme", username="bob@example.com"))

    def resolve(self, sub: str = "alice") -> str:
        return self.store.resolve(sub, tenant_attribute="tenant").tenant_id

    def reads(self, key: str) -> int:
        return sum(1 for call in self.dynamodb.calls if call["Key"]["pk"]["S"] == key)


def test_steady_state_is_one_read_per_token_and_user_reads_stay_fresh_and_consistent() -> None:
    world = World()
    for _ in range(50):
        world.resolve("alice")
        world.resolve("bob")
    assert world.reads(user_key("alice")) == 50
    assert world.reads(user_key("bob")) == 50
    assert world.reads(tenant_key("acme")) == 1
    assert all(call["ConsistentRead"] is True for call in world.dynamodb.calls)


def test_a_disabled_user_is_refused_on_the_next_request_whatever_the_tenant_cache_holds() -> None:
    world = World()
    world.resolve()
    world.dynamodb.put_user("alice", user_item("acme", enabled={"BOOL": False}))
    with pytest.raises(NotEntitled, match="user_disabled"):
        world.resolve()


def test_a_user_moved_to_another_tenant_gets_that_tenant_on_the_next_request() -> None:
    world = World()
    world.dynamodb.put_tenant("globex", tenant_item())
    assert world.resolve() == "acme"
    world.dynamodb.put_user("alice", user_item("globex"))
    assert world.resolve() == "globex"


def test_a_disabled_tenant_is_refused_within_the_bound_and_not_one_second_later() -> None:
    world = World()
    read_at = world.clock.now
    world.resolve()
    world.dynamodb.put_tenant("acme", tenant_item(enabled={"BOOL": False}))
    world.clock.now = read_at + TTL - 0.001  # still within the bound: the cached record serves
    assert world.resolve() == "acme"
    world.clock.now = read_at + TTL  # the bound: the tenant is read again
    with pytest.raises(NotEntitled, match="tenant_disabled"):
        world.resolve()
    assert world.reads(tenant_key("acme")) == 2


def test_a_disabled_tenant_stays_refused_for_the_bound_after_re_enabling() -> None:
    world = World()
    world.dynamodb.put_tenant("acme", tenant_item(enabled={"BOOL": False}))
    with pytest.raises(NotEntitled, match="tenant_disabled"):
        world.resolve()
    world.dynamodb.put_tenant("acme", tenant_item())
    with pytest.raises(NotEntitled, match="tenant_disabled"):
        world.resolve()
    world.clock.now += TTL
    assert world.resolve() == "acme"


def test_the_bound_counts_from_before_the_read() -> None:
    """A slow read must not stretch the bound: the entry is stamped with the time the read started."""
    world = World()
    started = world.clock.now
    original = world.dynamodb.get_item

    def slow_get_item(**kwargs: object) -> dict[str, object]:
        world.clock.now += 5  # the read takes 5 s of clock time
        return original(**kwargs)

    world.dynamodb.get_item = slow_get_item  # type: ignore[method-assign]
    world.resolve()
    world.clock.now = started + TTL
    world.dynamodb.put_tenant("acme", tenant_item(enabled={"BOOL": False}))
    with pytest.raises(NotEntitled, match="tenant_disabled"):
        world.resolve()


def test_a_clock_that_goes_back_expires_the_entry_instead_of_extending_it() -> None:
    world = World()
    world.resolve()
    world.dynamodb.put_tenant("acme", tenant_item(enabled={"BOOL": False}))
    world.clock.now -= 3600
    with pytest.raises(NotEntitled, match="tenant_disabled"):
        world.resolve()


def test_missing_and_malformed_tenants_are_not_cached() -> None:
    world = World()
    world.dynamodb.put_user("carol", user_item("initech"))
    with pytest.raises(NotEntitled, match="unknown_tenant"):
        world.resolve("carol")
    world.dynamodb.put_tenant("initech", tenant_item(tableau_url={"S": "ftp://nope"}))
    with pytest.raises(ConfigurationError):
        world.resolve("carol")
    world.dynamodb.put_tenant("initech", tenant_item())
    assert world.resolve("carol") == "initech"  # fixed at once: no error was kept
    assert world.reads(tenant_key("initech")) == 3
    assert len(world.cache) == 1


def test_ttl_zero_turns_caching_off() -> None:
    world = World(ttl=0)
    for _ in range(5):
        world.resolve()
    assert world.reads(tenant_key("acme")) == 5
    assert len(world.cache) == 0


def test_the_cache_holds_at_most_max_entries_least_recently_used_out() -> None:
    world = World(max_entries=2)
    for tenant in ("t1", "t2", "t3"):
        world.dynamodb.put_tenant(tenant, tenant_item())
        world.dynamodb.put_user(f"u-{tenant}", user_item(tenant))
    world.resolve("u-t1")
    world.resolve("u-t2")
    world.resolve("u-t1")  # t1 is now the most recently used
    world.resolve("u-t3")  # evicts t2
    assert len(world.cache) == 2
    world.resolve("u-t1")
    world.resolve("u-t2")
    assert world.reads(tenant_key("t1")) == 1
    assert world.reads(tenant_key("t2")) == 2


def test_an_entry_is_keyed_by_the_tenant_it_was_read_for() -> None:
    cache = TenantCache(TTL, FakeClock())
    record = TenantRecord("acme", True, "https://t.example", "s", None, ())
    cache.put(record, read_at=cache.now())
    assert cache.get("acme") is record
    assert cache.get("globex") is None


@pytest.mark.parametrize(
    ("env", "expected"),
    [({}, DEFAULT_TENANT_CACHE_TTL_SECONDS), ({"TENANT_CACHE_TTL_SECONDS": "0"}, 0)],
)
def test_settings_read_the_bound(env: dict[str, str], expected: int) -> None:
    base = {
        "COGNITO_USER_POOL_ID": "us-east-1_Pool",
        "COGNITO_APP_CLIENT_IDS": "c",
        "ENTITLEMENTS_TABLE": TABLE,
        "CONNECTED_APP_SECRET_ARN": "arn:aws:secretsmanager:us-east-1:1:secret:s",
    }
    assert settings_from_env({**base, **env}).tenant_cache_ttl_seconds == expected


@pytest.mark.parametrize("value", ["-1", "301", "soon"])
def test_settings_refuse_a_bound_out_of_range(value: str) -> None:
    base = {
        "COGNITO_USER_POOL_ID": "us-east-1_Pool",
        "COGNITO_APP_CLIENT_IDS": "c",
        "ENTITLEMENTS_TABLE": TABLE,
        "CONNECTED_APP_SECRET_ARN": "arn:aws:secretsmanager:us-east-1:1:secret:s",
        "TENANT_CACHE_TTL_SECONDS": value,
    }
    with pytest.raises(ConfigurationError):
        settings_from_env(base)
