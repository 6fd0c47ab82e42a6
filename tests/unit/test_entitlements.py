from __future__ import annotations

from typing import Any

import pytest

from tableau_broker.entitlements import combine, parse_tenant, parse_user
from tableau_broker.errors import ConfigurationError, NotEntitled

TENANT = {"enabled": True, "tableau_url": "https://tableau.example.com", "site": "s", "scopes": ["tableau:views:embed"]}
USER = {"tableau_username": "alice", "tenant_id": "acme", "enabled": True}


@pytest.mark.parametrize(
    "url",
    [
        "http://tableau.example.com",
        "http://localhost.attacker.example",
        "http://127.0.0.1.attacker.example",
        "https://user:pw@tableau.example.com",
        "https://tableau.example.com/?next=x",
        "https://",
        "ftp://tableau.example.com",
    ],
)
def test_tableau_url_must_be_plain_https(url: str) -> None:
    with pytest.raises(ConfigurationError):
        parse_tenant("acme", {**TENANT, "tableau_url": url})


@pytest.mark.parametrize("url", ["https://tableau.example.com/", "http://127.0.0.1:8088", "http://localhost:8088"])
def test_https_and_loopback_emulators_are_accepted(url: str) -> None:
    assert parse_tenant("acme", {**TENANT, "tableau_url": url}).tableau_url == url.rstrip("/")


@pytest.mark.parametrize("enabled", [None, "true", 1, False])
def test_only_an_explicit_true_enables(enabled: Any) -> None:
    record = {**USER, "enabled": enabled} if enabled is not None else {k: v for k, v in USER.items() if k != "enabled"}
    with pytest.raises(NotEntitled):
        combine(parse_user("sub", record), parse_tenant("acme", TENANT), tenant_attribute="tenant")


def test_tenant_claim_comes_from_the_tenant_record_only() -> None:
    entitlement = combine(
        parse_user("sub", {**USER, "attributes": {"region": "eu"}}),
        parse_tenant("acme", {**TENANT, "attributes": {"plan": ["gold"]}}),
        tenant_attribute="tenant",
    )
    assert entitlement.attributes == {"plan": ["gold"], "region": "eu", "tenant": "acme"}
    with pytest.raises(ConfigurationError):
        combine(
            parse_user("sub", {**USER, "attributes": {"tenant": "globex"}}),
            parse_tenant("acme", TENANT),
            tenant_attribute="tenant",
        )


def test_user_scopes_only_narrow() -> None:
    entitlement = combine(
        parse_user("sub", {**USER, "scopes": ["tableau:views:embed", "tableau:views:embed_authoring"]}),
        parse_tenant("acme", TENANT),
        tenant_attribute="tenant",
    )
    assert entitlement.allowed_scopes == ("tableau:views:embed",)


@pytest.mark.parametrize("name", ["Tenant", "TENANT", "tEnAnT"])
@pytest.mark.parametrize("record", ["user", "tenant"])
def test_no_case_variant_of_the_tenant_attribute_may_be_stored(name: str, record: str) -> None:
    # One token once carried tenant=acme and TENANT=globex: a workbook matching either name leaks the other tenant.
    user = {**USER, "attributes": {name: "globex"}} if record == "user" else USER
    tenant = {**TENANT, "attributes": {name: "globex"}} if record == "tenant" else TENANT
    with pytest.raises(ConfigurationError, match="shadows the tenant attribute"):
        combine(parse_user("sub", user), parse_tenant("acme", tenant), tenant_attribute="tenant")


def test_a_configured_tenant_attribute_is_matched_in_any_case() -> None:
    with pytest.raises(ConfigurationError):
        combine(
            parse_user("sub", {**USER, "attributes": {"org_id": "globex"}}),
            parse_tenant("acme", TENANT),
            tenant_attribute="ORG_ID",
        )
