"""TokenService, the use case, through its constructor seams: in-memory DynamoDB and Secrets Manager, a set clock.

The same behaviour end to end (API Gateway event, moto, Cognito) is in tests/integration/test_token_broker.py.
"""

from __future__ import annotations

import time
from typing import Any

import jwt
import pytest
from botocore.exceptions import EndpointConnectionError

from tableau_broker.config import BrokerSettings
from tableau_broker.entitlements import EntitlementStore
from tableau_broker.errors import (
    ConfigurationError,
    DependencyUnavailable,
    MalformedSecret,
    NotEntitled,
    ScopeNotAllowed,
)
from tableau_broker.identity import CallerIdentity
from tableau_broker.signing_secret import SecretCache
from tests.unit.fakes import (
    CLIENT_ID,
    OTHER_SECRET_ARN,
    SECRET_ARN,
    SECRET_ID,
    SECRET_VALUE,
    TABLE,
    FakeClock,
    FakeDynamoDB,
    FakeSecretsManager,
    broker_settings,
    client_error,
    tenant_item,
    user_item,
)
from token_broker.service import IssuedToken, TokenService

ALICE = CallerIdentity(sub="sub-alice", token_use="id", client_id="client-a", username="alice")


class World:
    """A TokenService wired to fakes, with alice in tenant acme and the default secret stored."""

    def __init__(self, settings: BrokerSettings | None = None, *, cache_ttl: int = 300) -> None:
        self.settings = settings or broker_settings()
        self.dynamodb = FakeDynamoDB()
        self.secrets = FakeSecretsManager()
        self.clock = FakeClock()
        self.dynamodb.put_user(ALICE.sub, user_item())
        self.dynamodb.put_tenant("acme", tenant_item())
        self.secrets.put(SECRET_ARN)
        store = EntitlementStore(self.dynamodb, TABLE)  # type: ignore[arg-type]
        cache = SecretCache(cache_ttl, clock=self.clock)
        self.service = TokenService(self.settings, store, self.secrets, cache, self.clock)  # type: ignore[arg-type]

    def issue(self, scopes: list[str] | None = None) -> IssuedToken:
        return self.service.issue(ALICE, scopes)


def claims(issued: IssuedToken, key: str = SECRET_VALUE) -> dict[str, Any]:
    # Signature and audience are verified; times are checked against the fake clock, not the wall clock.
    decoded: dict[str, Any] = jwt.decode(
        issued.minted.token,
        key,
        algorithms=["HS256"],
        audience="tableau",
        options={"verify_exp": False, "verify_iat": False, "verify_nbf": False},
    )
    return decoded


@pytest.fixture
def world() -> World:
    return World()


def test_a_token_for_the_callers_tableau_user_bound_to_their_tenant(world: World) -> None:
    issued = world.issue()

    payload = claims(issued)
    header = jwt.get_unverified_header(issued.minted.token)
    assert payload["sub"] == "alice@example.com"
    assert payload["tenant"] == "acme"
    assert payload["scp"] == ["tableau:views:embed"]
    assert payload["iss"] == CLIENT_ID and header["iss"] == CLIENT_ID
    assert header["kid"] == SECRET_ID == issued.kid
    assert issued.entitlement.tenant_id == "acme"
    assert issued.entitlement.tableau_url == "https://tableau.example.com"
    assert issued.entitlement.site == "acme-site"


def test_times_come_from_the_clock_and_the_settings(world: World) -> None:
    payload = claims(World(broker_settings(TOKEN_LIFETIME_SECONDS="120", CLOCK_SKEW_SECONDS="7")).issue())
    now = int(world.clock.now)

    assert payload["exp"] == now + 120
    assert payload["iat"] == payload["nbf"] == now - 7


def test_records_are_read_strongly_consistent_from_the_configured_table(world: World) -> None:
    world.issue()

    assert [call["Key"]["pk"]["S"] for call in world.dynamodb.calls] == ["USER#sub-alice", "TENANT#acme"]
    assert all(call["TableName"] == TABLE and call["ConsistentRead"] is True for call in world.dynamodb.calls)
    assert world.secrets.calls == [{"SecretId": SECRET_ARN, "VersionStage": "AWSCURRENT"}]


def test_an_unknown_user_is_not_entitled_and_no_secret_is_read(world: World) -> None:
    world.dynamodb.items.clear()

    with pytest.raises(NotEntitled) as raised:
        world.issue()
    assert raised.value.reason == "unknown_user"
    assert world.secrets.calls == []


def test_a_disabled_user_is_refused_before_the_tenant_is_read(world: World) -> None:
    world.dynamodb.put_user(ALICE.sub, user_item(enabled={"BOOL": False}))

    with pytest.raises(NotEntitled) as raised:
        world.issue()
    assert raised.value.reason == "user_disabled"
    assert len(world.dynamodb.calls) == 1


@pytest.mark.parametrize(
    ("tenant", "reason"),
    [(None, "unknown_tenant"), (tenant_item(enabled={"BOOL": False}), "tenant_disabled")],
)
def test_a_missing_or_disabled_tenant_is_not_entitled(world: World, tenant: Any, reason: str) -> None:
    if tenant is None:
        del world.dynamodb.items["TENANT#acme"]
    else:
        world.dynamodb.put_tenant("acme", tenant)

    with pytest.raises(NotEntitled) as raised:
        world.issue()
    assert raised.value.reason == reason


def test_requested_scopes_are_minted_once_each_in_order(world: World) -> None:
    world.dynamodb.put_tenant("acme", tenant_item("tableau:views:embed", "tableau:metrics:embed"))
    settings = broker_settings(EXTRA_EMBED_SCOPES="tableau:metrics:embed")
    other = World(settings)
    other.dynamodb.items = world.dynamodb.items

    issued = other.issue(["tableau:metrics:embed", "tableau:views:embed", "tableau:metrics:embed"])

    assert claims(issued)["scp"] == ["tableau:metrics:embed", "tableau:views:embed"]


@pytest.mark.parametrize(
    "scopes",
    [
        ["tableau:views:embed_authoring"],  # not the tenant's
        ["tableau:metrics:embed"],  # the tenant's but not enabled in the settings
        ["tableau:content:read"],  # a REST scope: never for a browser
    ],
)
def test_a_scope_outside_tenant_user_and_settings_is_refused_and_no_secret_is_read(
    world: World, scopes: list[str]
) -> None:
    world.dynamodb.put_tenant("acme", tenant_item("tableau:views:embed", "tableau:metrics:embed"))

    with pytest.raises(ScopeNotAllowed):
        world.issue(scopes)
    assert world.secrets.calls == []


def test_user_scopes_narrow_the_tenant_scopes(world: World) -> None:
    world.dynamodb.put_tenant("acme", tenant_item("tableau:views:embed", "tableau:views:embed_authoring"))
    world.dynamodb.put_user(ALICE.sub, user_item(scopes={"L": [{"S": "tableau:views:embed_authoring"}]}))

    assert claims(world.issue(["tableau:views:embed_authoring"]))["scp"] == ["tableau:views:embed_authoring"]
    with pytest.raises(ScopeNotAllowed):
        world.issue(["tableau:views:embed"])


def test_on_demand_access_adds_its_claims_and_limits_scopes(world: World) -> None:
    oda = {"M": {"enabled": {"BOOL": True}, "groups": {"L": [{"S": "viewers"}]}}}
    world.dynamodb.put_tenant("acme", tenant_item("tableau:views:embed", "tableau:metrics:embed", on_demand_access=oda))
    settings = broker_settings(EXTRA_EMBED_SCOPES="tableau:metrics:embed")
    other = World(settings)
    other.dynamodb.items = world.dynamodb.items

    payload = claims(other.issue())
    assert payload["https://tableau.com/oda"] == "true"
    assert payload["https://tableau.com/groups"] == ["viewers"]
    with pytest.raises(ScopeNotAllowed):
        other.issue(["tableau:metrics:embed"])


def test_stored_attributes_are_minted_with_the_tenant_attribute_from_the_tenant_record(world: World) -> None:
    world.dynamodb.put_tenant("acme", tenant_item(attributes={"M": {"region": {"S": "emea"}}}))
    world.dynamodb.put_user(ALICE.sub, user_item(attributes={"M": {"groups": {"SS": ["b", "a"]}}}))

    payload = claims(world.issue())

    assert payload["region"] == "emea"
    assert payload["groups"] == ["a", "b"]
    assert payload["tenant"] == "acme"


@pytest.mark.parametrize(
    ("user", "tenant"),
    [
        ({"attributes": {"M": {"level": {"N": "5"}}}}, {}),  # a number is not a string
        ({"attributes": {"M": {"levels": {"NS": ["1", "2"]}}}}, {}),
        ({"attributes": {"M": {"levels": {"L": [{"S": "a"}, {"N": "2"}]}}}}, {}),
        ({}, {"attributes": {"M": {"level": {"N": "5.5"}}}}),
        ({"tableau_username": {"N": "42"}}, {}),
        ({}, {"site": {"N": "7"}}),
        ({}, {"scopes": {"L": [{"N": "1"}]}}),
        ({"blob": {"B": b"x"}}, {}),  # binary values have no meaning in a record
    ],
)
def test_a_stored_number_or_binary_where_text_belongs_is_a_configuration_error(
    world: World, user: dict[str, Any], tenant: dict[str, Any]
) -> None:
    world.dynamodb.put_user(ALICE.sub, user_item(**user))
    world.dynamodb.put_tenant("acme", tenant_item(**tenant))

    with pytest.raises(ConfigurationError):
        world.issue()
    assert world.secrets.calls == []


def test_a_tenant_secret_outside_the_allowed_list_is_never_read(world: World) -> None:
    world.dynamodb.put_tenant("acme", tenant_item(connected_app_secret={"S": OTHER_SECRET_ARN}))

    with pytest.raises(ConfigurationError) as raised:
        world.issue()
    assert raised.value.reason == "connected_app_secret_not_allowed"
    assert world.secrets.calls == []


def test_a_tenant_signs_with_its_own_allowed_secret() -> None:
    world = World(broker_settings(ADDITIONAL_CONNECTED_APP_SECRET_ARNS=OTHER_SECRET_ARN))
    world.dynamodb.put_tenant("acme", tenant_item(connected_app_secret={"S": OTHER_SECRET_ARN}))
    other_value = "b3RoZXItdGVuYW50LXNpZ25pbmcta2V5LXZhbHVl"
    world.secrets.put(OTHER_SECRET_ARN, kid="kid-other", value=other_value)

    issued = world.issue()

    assert issued.kid == "kid-other"
    assert claims(issued, other_value)["tenant"] == "acme"
    assert world.secrets.calls == [{"SecretId": OTHER_SECRET_ARN, "VersionStage": "AWSCURRENT"}]


def test_the_secret_is_cached_until_its_ttl_then_read_again() -> None:
    world = World(cache_ttl=60)
    world.issue()
    world.clock.now += 59
    world.issue()
    assert len(world.secrets.calls) == 1

    world.clock.now += 1
    world.issue()
    assert len(world.secrets.calls) == 2


def test_a_malformed_secret_is_a_configuration_error_that_never_names_the_value(world: World) -> None:
    world.secrets.secrets[SECRET_ARN] = (
        f'{{"client_id": "c", "secret_id": "k", "secret_value": "{SECRET_VALUE}", "x": 1}}'
    )

    with pytest.raises(MalformedSecret) as raised:
        world.issue()
    assert SECRET_VALUE not in raised.value.reason


TRANSIENT = [
    client_error("ThrottlingException", 400, "Op"),
    client_error("ProvisionedThroughputExceededException", 400, "Op"),
    client_error("InternalServerError", 500, "Op"),
    EndpointConnectionError(endpoint_url="https://example.invalid"),
]
PERMANENT = [
    (client_error("AccessDeniedException", 400, "Op"), "AccessDeniedException"),
    (client_error("ResourceNotFoundException", 400, "Op"), "ResourceNotFoundException"),
]


@pytest.mark.parametrize("error", TRANSIENT)
@pytest.mark.parametrize("dependency", ["dynamodb", "secretsmanager"])
def test_a_transient_dependency_failure_is_unavailable_naming_the_dependency(
    world: World, dependency: str, error: Exception
) -> None:
    (world.dynamodb if dependency == "dynamodb" else world.secrets).error = error

    with pytest.raises(DependencyUnavailable) as raised:
        world.issue()
    assert raised.value.dependency == dependency
    assert raised.value.reason.startswith(f"{dependency}_")
    assert raised.value.status == 503


@pytest.mark.parametrize(("error", "code"), PERMANENT)
@pytest.mark.parametrize("dependency", ["dynamodb", "secretsmanager"])
def test_a_permanent_dependency_failure_is_a_configuration_error(
    world: World, dependency: str, error: Exception, code: str
) -> None:
    (world.dynamodb if dependency == "dynamodb" else world.secrets).error = error

    with pytest.raises(ConfigurationError) as raised:
        world.issue()
    assert not isinstance(raised.value, DependencyUnavailable)
    assert raised.value.reason == f"{dependency}_{code}"


def test_the_issued_token_carries_how_long_each_dependency_took(world: World) -> None:
    """What the `token issued` line reports as dynamodb_ms and secretsmanager_ms (no tracing SDK runs)."""
    real_get_item = world.dynamodb.get_item

    def get_item_taking_5_ms(**kwargs: Any) -> dict[str, Any]:
        until = time.perf_counter() + 0.005
        while time.perf_counter() < until:  # a slow dependency, measured by the broker's own clock
            pass
        return real_get_item(**kwargs)

    world.dynamodb.get_item = get_item_taking_5_ms  # type: ignore[method-assign]
    issued = world.issue()
    assert issued.dynamodb_ms >= 10.0  # the user and the tenant read, 5 ms each
    assert 0.0 <= issued.secretsmanager_ms < issued.dynamodb_ms
