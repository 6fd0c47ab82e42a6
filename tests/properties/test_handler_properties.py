"""Properties of ``token_broker.handler.handle`` over generated events, bodies, claims and entitlement records.

1. Any event and any body get a well-formed JSON answer: a documented (status, code), a headers dict, a body that
   is either a token response or exactly ``{"error": {"code", "message"}}``, never a stack trace. An event that
   is a JSON object (every API Gateway event is) never ends in ``internal_error``: it has a deliberate answer.
2. A token is only ever issued for a verified identity (claims the broker must accept) whose user and tenant
   records exist, are enabled and agree.
3. The token's ``sub`` and tenant claim are that user's record, and no other claim carries a tenant: no claim
   named like the tenant attribute in another case, no other claim holding a tenant id.
"""

from __future__ import annotations

import base64
import copy
import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
import pytest
from hypothesis import given
from hypothesis import strategies as st

from local_stack.api_gateway import gateway_claim_value
from sam_local import aws_resources
from tests.properties.conftest import Deployment

pytestmark = pytest.mark.property

EVENTS = Path(__file__).resolve().parents[2] / "events" / "token_broker"
V2_EVENT = json.loads((EVENTS / "http_api_valid.json").read_text())
V1_EVENT = json.loads((EVENTS / "rest_api_valid.json").read_text())

DOCUMENTED = {
    (200, None),
    (400, "invalid_request"),
    (401, "unauthenticated"),
    (403, "not_entitled"),
    (403, "scope_not_allowed"),
    (405, "method_not_allowed"),
    (500, "configuration_error"),
    (503, "dependency_unavailable"),
}
TOKEN_KEYS = {"token", "token_type", "expires_at", "expires_in", "scopes", "tableau"}
TENANT_IDS = ["acme", "globex", "initech", "umbrella"]
EMBED = ["tableau:views:embed", "tableau:views:embed_authoring"]


def handle(event: Any) -> dict[str, Any]:
    """One request, as ``lambda_handler`` would serve it minus the Lambda context (its metrics are dropped)."""
    from token_broker.handler import handle as broker_handle
    from token_broker.handler import metrics

    try:
        response: dict[str, Any] = broker_handle(event)
    finally:
        metrics.clear_metrics()
    return response


def well_formed(response: Any, *, object_event: bool = True) -> tuple[int, dict[str, Any]]:
    """Property 1 for one answer; returns (status, body)."""
    assert isinstance(response, dict)
    status = response["statusCode"]
    assert isinstance(status, int) and not isinstance(status, bool)
    headers = response["headers"]
    assert isinstance(headers, dict) and all(isinstance(k, str) and isinstance(v, str) for k, v in headers.items())
    assert headers["Content-Type"] == "application/json" and headers["Cache-Control"] == "no-store"
    assert isinstance(response["body"], str)
    assert "Traceback" not in response["body"] and 'File "' not in response["body"]
    body = json.loads(response["body"])
    assert isinstance(body, dict)
    if status == 200:
        assert set(body) == TOKEN_KEYS and isinstance(body["token"], str)
        assert (status, None) in DOCUMENTED
    else:
        assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}, body
        assert all(isinstance(v, str) for v in body["error"].values())
        documented = DOCUMENTED if object_event else {*DOCUMENTED, (500, "internal_error")}
        assert (status, body["error"]["code"]) in documented, (status, body)
    return status, body


# --- property 1: any event, any body ------------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=12,
)
bodies = st.one_of(
    st.none(),
    st.text(max_size=200),
    st.binary(max_size=64).map(lambda b: b.decode("utf-8", "surrogateescape")),
    json_values.map(lambda v: json.dumps(v, allow_nan=True)),
    st.lists(st.sampled_from([*EMBED, "tableau:content:read", ""]), max_size=4).map(
        lambda s: json.dumps({"scopes": s})
    ),
    st.integers(1, 3000).map(lambda n: "[" * n + "]" * n),
    json_values,  # not even a string
)
paths = st.sampled_from(
    [
        ("requestContext",),
        ("requestContext", "authorizer"),
        ("requestContext", "authorizer", "jwt"),
        ("requestContext", "authorizer", "jwt", "claims"),
        ("requestContext", "http"),
        ("requestContext", "http", "method"),
        ("headers",),
        ("isBase64Encoded",),
        ("httpMethod",),
    ]
)


def _replace(event: dict[str, Any], path: tuple[str, ...], value: Any) -> dict[str, Any]:
    node: Any = event
    for key in path[:-1]:
        if not isinstance(node, dict) or not isinstance(node.get(key), dict):
            return event
        node = node[key]
    node[path[-1]] = value
    return event


@st.composite
def any_events(draw: st.DrawFn) -> Any:
    kind = draw(st.sampled_from(["v2", "v1", "anything"]))
    if kind == "anything":
        return draw(json_values)
    event = copy.deepcopy(V2_EVENT if kind == "v2" else V1_EVENT)
    event["body"] = draw(bodies)
    event["isBase64Encoded"] = draw(st.sampled_from([False, True, "true", None]))
    for path, value in draw(st.lists(st.tuples(paths, json_values), max_size=3)):
        event = _replace(event, path, value)
    return event


@given(event=any_events())
def test_property_any_event_gets_a_well_formed_response(deployment: Deployment, event: Any) -> None:
    deployment.examples["well_formed"] += 1
    status, body = well_formed(handle(event), object_event=isinstance(event, dict))
    assert status != 200 or "token" in body


# --- properties 2 and 3: generated populations ------------------------------------------------------------------

INNOCUOUS_NAMES = ["region", "dept", "Region", "cost_center"]
COLLIDING_NAMES = ["Tenant", "TENANT", "tEnAnT", "tenant"]  # in case with the tenant attribute (and itself)


def attribute_value(name: str) -> st.SearchStrategy[Any]:
    if name in COLLIDING_NAMES:  # the attack: a tenant id under a name like the tenant attribute's
        return st.sampled_from(TENANT_IDS) | st.lists(st.sampled_from(TENANT_IDS), min_size=1, max_size=2)
    text = st.text(alphabet="0123456789-", min_size=1, max_size=6)  # never a tenant id
    return text | st.lists(text, min_size=1, max_size=3)


attributes = st.lists(st.sampled_from(INNOCUOUS_NAMES * 8 + COLLIDING_NAMES), unique=True, max_size=3).flatmap(
    lambda names: st.fixed_dictionaries({name: attribute_value(name) for name in names})
)


@dataclass(frozen=True)
class Tenant:
    tenant_id: str
    enabled: bool
    scopes: tuple[str, ...]
    attributes: dict[str, Any]


@dataclass(frozen=True)
class User:
    sub: str
    tenant_id: str
    enabled: bool
    stored: bool
    tableau_username: str
    scopes: tuple[str, ...] | None
    attributes: dict[str, Any]


tenants = st.lists(
    st.builds(
        Tenant,
        tenant_id=st.sampled_from(TENANT_IDS),
        enabled=st.sampled_from([True, True, True, False]),
        scopes=st.sampled_from(
            [("tableau:views:embed",), tuple(EMBED), tuple(EMBED), ("tableau:views:embed_authoring",)]
        ),
        attributes=attributes,
    ),
    min_size=1,
    max_size=3,
    unique_by=lambda t: t.tenant_id,
)


def users(tenant_ids: list[str]) -> st.SearchStrategy[list[User]]:
    """Users mostly of the generated tenants (sometimes of one with no record)."""

    @st.composite
    def build(draw: st.DrawFn) -> list[User]:
        count = draw(st.integers(1, 4))
        subs = draw(st.lists(st.uuids().map(str), min_size=count, max_size=count, unique=True))
        return [
            User(
                sub=sub,
                tenant_id=draw(st.sampled_from(tenant_ids * 3 + TENANT_IDS)),
                enabled=draw(st.sampled_from([True, True, True, False])),
                stored=draw(st.sampled_from([True, True, True, False])),
                tableau_username=f"user{index}@tableau.example",
                scopes=draw(st.sampled_from([None, None, None, (), ("tableau:views:embed",), tuple(EMBED)])),
                attributes=draw(attributes),
            )
            for index, sub in enumerate(subs)
        ]

    return build()


Claims = dict[str, Any]
MUTATIONS: dict[str, Callable[[Claims, float], Claims]] = {
    "issuer-trailing-slash": lambda c, now: {**c, "iss": c["iss"] + "/"},
    "issuer-other-pool": lambda c, now: {**c, "iss": c["iss"][:-3] + "Xyz"},
    "issuer-missing": lambda c, now: {k: v for k, v in c.items() if k != "iss"},
    "token-use-refresh": lambda c, now: {**c, "token_use": "refresh"},
    "token-use-missing": lambda c, now: {k: v for k, v in c.items() if k != "token_use"},
    "client-other": lambda c, now: {**c, ("aud" if c["token_use"] == "id" else "client_id"): "someone-else"},
    "expired": lambda c, now: {**c, "exp": int(now) - 3600},
    "exp-not-a-number": lambda c, now: {**c, "exp": "soon"},
    "exp-nan": lambda c, now: {**c, "exp": math.nan},
    "exp-infinite": lambda c, now: {**c, "exp": math.inf},
    "sub-missing": lambda c, now: {k: v for k, v in c.items() if k != "sub"},
    "sub-empty": lambda c, now: {**c, "sub": ""},
}


@dataclass(frozen=True)
class Scenario:
    tenants: list[Tenant]
    users: list[User]
    caller: int | None  # index into users; None: a signed-in stranger with no record
    token_use: str
    mutation: str | None
    shape: str
    body: Any


def scenarios(mutation_weight: int) -> st.SearchStrategy[Scenario]:
    """``mutation_weight`` in tenths: how often the caller's claims carry one of MUTATIONS."""

    @st.composite
    def build(draw: st.DrawFn) -> Scenario:
        generated_tenants = draw(tenants)
        generated_users = draw(users([t.tenant_id for t in generated_tenants]))
        mutations = [None] * (10 - mutation_weight) * len(MUTATIONS) + [*MUTATIONS] * mutation_weight
        return Scenario(
            tenants=generated_tenants,
            users=generated_users,
            caller=draw(st.sampled_from([None, *list(range(len(generated_users))) * 3])),
            token_use=draw(st.sampled_from(["id", "access"])),
            mutation=draw(st.sampled_from(mutations)),
            shape=draw(st.sampled_from(["http-v2", "rest-v1", "bearer-garbage"])),
            body=draw(st.one_of(st.none(), st.sampled_from(EMBED).map(lambda s: json.dumps({"scopes": [s]})), bodies)),
        )

    return build()


def caller_of(scenario: Scenario) -> User | None:
    if scenario.caller is None or scenario.caller >= len(scenario.users):
        return None
    return scenario.users[scenario.caller]


def event_for(scenario: Scenario, deployment: Deployment, now: float) -> dict[str, Any]:
    user = caller_of(scenario)
    claims: Claims = {
        "iss": deployment.issuer,
        "token_use": scenario.token_use,
        ("aud" if scenario.token_use == "id" else "client_id"): deployment.client_id,
        "sub": user.sub if user else "5f0c4a4e-0000-4000-8000-000000000000",
        "exp": int(now) + 3600,
        "iat": int(now) - 10,
    }
    if scenario.mutation is not None:
        claims = MUTATIONS[scenario.mutation](claims, now)
    event: dict[str, Any]
    if scenario.shape == "http-v2":
        event = copy.deepcopy(V2_EVENT)
        event["requestContext"]["authorizer"]["jwt"]["claims"] = {k: gateway_claim_value(v) for k, v in claims.items()}
    elif scenario.shape == "rest-v1":
        event = copy.deepcopy(V1_EVENT)
        event["requestContext"]["authorizer"]["claims"] = {k: gateway_claim_value(v) for k, v in claims.items()}
    else:  # no authorizer ran; the bearer token is the claims, unsigned: never a verified identity
        event = copy.deepcopy(V2_EVENT)
        del event["requestContext"]["authorizer"]
        payload = base64.urlsafe_b64encode(json.dumps(claims, allow_nan=True).encode()).rstrip(b"=").decode()
        event["headers"]["authorization"] = f"Bearer eyJhbGciOiJSUzI1NiIsImtpZCI6ImR1bW15In0.{payload}.c2ln"
    event["body"] = scenario.body
    return event


def store(deployment: Deployment, scenario: Scenario) -> list[str]:
    keys = []
    for tenant in scenario.tenants:
        aws_resources.put_tenant(
            deployment.dynamodb, deployment.table, tenant.tenant_id, enabled=tenant.enabled,
            tableau_url="https://tableau.example.com", site=f"{tenant.tenant_id}-site", scopes=list(tenant.scopes),
            attributes=tenant.attributes or None,
        )  # fmt: skip
        keys.append(f"TENANT#{tenant.tenant_id}")
    for user in scenario.users:
        if user.stored:
            aws_resources.put_user(
                deployment.dynamodb, deployment.table, user.sub, tableau_username=user.tableau_username,
                tenant_id=user.tenant_id, enabled=user.enabled,
                scopes=list(user.scopes) if user.scopes is not None else None, attributes=user.attributes or None,
            )  # fmt: skip
            keys.append(f"USER#{user.sub}")
    return keys


def run(deployment: Deployment, scenario: Scenario) -> tuple[int, dict[str, Any]]:
    keys = store(deployment, scenario)
    try:
        status, body = well_formed(handle(event_for(scenario, deployment, time.time())))
        deployment.statuses[status] += 1
        return status, body
    finally:
        for key in keys:
            deployment.dynamodb.delete_item(TableName=deployment.table, Key={"pk": {"S": key}})


def entitled(scenario: Scenario) -> bool:
    user = caller_of(scenario)
    if user is None or not (user.stored and user.enabled):
        return False
    tenant = next((t for t in scenario.tenants if t.tenant_id == user.tenant_id), None)
    return tenant is not None and tenant.enabled


@given(scenario=scenarios(mutation_weight=5))
def test_property_tokens_only_for_verified_entitled_identities(deployment: Deployment, scenario: Scenario) -> None:
    deployment.examples["verified_and_entitled"] += 1
    status, _ = run(deployment, scenario)
    if status == 200:
        assert scenario.mutation is None, f"a token for claims with {scenario.mutation}"
        assert scenario.shape != "bearer-garbage", "a token for an unsigned bearer token"
        assert entitled(scenario), "a token for a caller without an enabled user and tenant record"


def tenant_values(value: Any) -> set[str]:
    items = value if isinstance(value, list) else [value]
    return {item for item in items if isinstance(item, str) and item in TENANT_IDS}


@given(scenario=scenarios(mutation_weight=0))
def test_property_token_claims_are_the_callers_record(deployment: Deployment, scenario: Scenario) -> None:
    deployment.examples["claims_match_record"] += 1
    status, body = run(deployment, scenario)
    if status != 200:
        return
    user = caller_of(scenario)
    assert user is not None
    claims = jwt.decode(
        body["token"], deployment.secret.secret_value, algorithms=["HS256"], audience="tableau",
        issuer=deployment.secret.client_id,
    )  # fmt: skip
    tenant_attribute = deployment.tenant_attribute
    assert claims["sub"] == user.tableau_username
    assert claims[tenant_attribute] == user.tenant_id
    for name, value in claims.items():
        if name == tenant_attribute:
            continue
        assert name.casefold() != tenant_attribute.casefold(), f"claim {name!r} shadows the tenant claim"
        assert not tenant_values(value), f"claim {name!r} carries a tenant id"
