"""`token-broker user ...` against moto, checked through the broker's own EntitlementStore where it matters."""

from __future__ import annotations

import pytest

from tableau_broker.entitlements import EntitlementStore, parse_user
from tableau_broker.errors import NotEntitled
from tests.cli.stack import MOTO_CALLER
from tests.support.cli import TABLE, Aws, Cli
from token_broker_cli import store

URL = "https://10ax.online.tableau.com"
SUB = "5f0c6a1e-8d4b-4f63-9a4e-3c2b1a0d9e8f"


@pytest.fixture
def cli(aws: Aws, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Cli:
    cli = Cli(capsys, monkeypatch)
    for tenant in ("acme", "globex"):
        result = cli(
            "tenant", "put", tenant, "--tableau-url", URL, "--site", tenant,
            "--scope", "tableau:views:embed", "--scope", "tableau:insights:embed",
        )  # fmt: skip
        assert result.code == 0, result.err
    return cli


def grant(cli: Cli, sub: str = SUB, tenant: str = "acme", *extra: str) -> None:
    result = cli("user", "grant", sub, "--tenant", tenant, "--tableau-username", "alice@example.com", *extra)
    assert result.code == 0, result.err


def resolve(aws: Aws, sub: str = SUB) -> object:
    return EntitlementStore(aws.dynamodb, TABLE).resolve(sub, tenant_attribute="tenant")


def test_grant_creates_a_user_the_broker_resolves_to_the_tenant(cli: Cli, aws: Aws) -> None:
    result = cli(
        "user", "grant", SUB, "--tenant", "acme", "--tableau-username", "alice@example.com",
        "--scope", "tableau:views:embed", "--attribute", "region=eu", "--attribute", "region=us",
    )  # fmt: skip

    assert result.code == 0, result.err
    record = result.json()
    stamp = {name: record.pop(name) for name in ("created_at", "created_by", "updated_at", "updated_by")}
    assert stamp["created_by"] == stamp["updated_by"] == MOTO_CALLER
    assert record == {
        "sub": SUB,
        "tenant_id": "acme",
        "tableau_username": "alice@example.com",
        "enabled": True,
        "scopes": ["tableau:views:embed"],
        "attributes": {"region": ["eu", "us"]},
    }
    raw = aws.item(f"USER#{SUB}")
    assert raw is not None
    assert raw["enabled"] == {"BOOL": True}
    # The broker reads the stamped records: audit fields on USER# and TENANT# items are ignored by its parser.
    assert raw["updated_by"] == {"S": MOTO_CALLER}
    assert aws.item("TENANT#acme")["created_by"] == {"S": MOTO_CALLER}  # type: ignore[index]
    entitlement = EntitlementStore(aws.dynamodb, TABLE).resolve(SUB, tenant_attribute="tenant")
    assert entitlement.tenant_id == "acme"
    assert entitlement.tableau_username == "alice@example.com"
    assert entitlement.allowed_scopes == ("tableau:views:embed",)
    assert entitlement.attributes == {"region": ["eu", "us"], "tenant": "acme"}


def test_show_prints_the_record(cli: Cli) -> None:
    grant(cli)

    result = cli("user", "show", SUB)

    assert result.code == 0
    record = result.json()
    assert parse_user(SUB, record).tenant_id == "acme"


def test_grant_to_an_unknown_tenant_is_refused_and_writes_nothing(cli: Cli, aws: Aws) -> None:
    result = cli("user", "grant", SUB, "--tenant", "initech", "--tableau-username", "alice@example.com")

    assert result.code == 2
    assert "no such tenant 'initech'" in result.err
    assert aws.item(f"USER#{SUB}") is None


def test_grant_refuses_rest_scopes(cli: Cli, aws: Aws) -> None:
    result = cli(
        "user", "grant", SUB, "--tenant", "acme", "--tableau-username", "a@example.com",
        "--scope", "tableau:content:read",
    )  # fmt: skip

    assert result.code == 2
    assert "REST API scope" in result.err
    assert aws.item(f"USER#{SUB}") is None


@pytest.mark.parametrize(
    ("attribute", "expected"),
    [
        ("exp=1", "reserved claim 'exp'"),
        ("tenant=globex", "is the tenant attribute"),  # would let a user record choose its own tenant
        ("TENANT=globex", "is the tenant attribute"),
        ("https://tableau.com/groups=x", "namespace"),
    ],
)
def test_grant_refuses_bad_attribute_names(cli: Cli, aws: Aws, attribute: str, expected: str) -> None:
    result = cli(
        "user", "grant", SUB, "--tenant", "acme", "--tableau-username", "a@example.com", "--attribute", attribute
    )

    assert result.code == 2
    assert expected in result.err
    assert aws.item(f"USER#{SUB}") is None


@pytest.mark.parametrize("username", [" alice@example.com", "alice@example.com\t", "alice\nbob", ""])
def test_grant_refuses_a_padded_or_empty_tableau_username(cli: Cli, aws: Aws, username: str) -> None:
    result = cli("user", "grant", SUB, "--tenant", "acme", "--tableau-username", username)

    assert result.code == 2
    assert "--tableau-username" in result.err
    assert aws.item(f"USER#{SUB}") is None


def test_a_tableau_server_username_may_contain_spaces(cli: Cli, aws: Aws) -> None:
    result = cli("user", "grant", SUB, "--tenant", "acme", "--tableau-username", "Alice Smith")

    assert result.code == 0, result.err
    assert aws.item(f"USER#{SUB}")["tableau_username"] == {"S": "Alice Smith"}  # type: ignore[index]


def test_grant_warns_about_scopes_the_tenant_does_not_allow(cli: Cli) -> None:
    result = cli(
        "user", "grant", SUB, "--tenant", "acme", "--tableau-username", "a@example.com",
        "--scope", "tableau:views:embed_authoring",
    )  # fmt: skip

    assert result.code == 0
    assert "does not allow tableau:views:embed_authoring" in result.err


def test_moving_a_user_to_another_tenant_needs_a_revoke_first(cli: Cli, aws: Aws) -> None:
    grant(cli, SUB, "acme")

    moved = cli("user", "grant", SUB, "--tenant", "globex", "--tableau-username", "alice@example.com")

    assert moved.code == 2
    assert "granted to tenant 'acme'" in moved.err
    assert aws.item(f"USER#{SUB}")["tenant_id"] == {"S": "acme"}  # type: ignore[index]
    assert cli("user", "revoke", SUB).code == 0
    grant(cli, SUB, "globex")
    assert aws.item(f"USER#{SUB}")["tenant_id"] == {"S": "globex"}  # type: ignore[index]


def test_regrant_keeps_a_disabled_user_disabled_and_keeps_unspecified_fields(cli: Cli, aws: Aws) -> None:
    grant(cli, SUB, "acme", "--attribute", "region=eu", "--scope", "tableau:views:embed")
    assert cli("user", "disable", SUB).code == 0

    result = cli("user", "grant", SUB, "--tenant", "acme", "--tableau-username", "alice2@example.com")

    assert result.code == 0
    record = result.json()
    assert record["enabled"] is False
    assert record["tableau_username"] == "alice2@example.com"
    assert record["attributes"] == {"region": "eu"}
    assert record["scopes"] == ["tableau:views:embed"]
    assert "stays disabled" in result.err
    with pytest.raises(NotEntitled):
        resolve(aws)


def test_regrant_clears_scopes_and_attributes_when_asked(cli: Cli) -> None:
    grant(cli, SUB, "acme", "--attribute", "region=eu", "--scope", "tableau:views:embed")

    result = cli(
        "user", "grant", SUB, "--tenant", "acme", "--tableau-username", "alice@example.com",
        "--clear-scopes", "--clear-attributes",
    )  # fmt: skip

    assert result.code == 0
    assert "scopes" not in result.json()
    assert "attributes" not in result.json()


def test_revoke_keeps_a_disabled_record_saying_who_and_when_and_the_broker_fails_closed(cli: Cli, aws: Aws) -> None:
    grant(cli)
    resolve(aws)  # entitled before

    result = cli("user", "revoke", SUB)

    assert result.code == 0, result.err
    record = result.json()
    assert record["tenant_id"] == "acme"
    assert record["enabled"] is False
    assert record["revoked_by"] == record["updated_by"] == MOTO_CALLER
    assert record["revoked_at"] == record["updated_at"]
    raw = aws.item(f"USER#{SUB}")
    assert raw is not None
    assert raw["enabled"] == {"BOOL": False}
    assert raw["revoked_by"] == {"S": MOTO_CALLER}
    with pytest.raises(NotEntitled) as denied:
        resolve(aws)
    assert denied.value.reason == "user_disabled"
    listed = cli("user", "list", "--output", "text")
    assert listed.out.splitlines()[1].split("\t")[3] == "revoked"
    again = cli("user", "revoke", SUB)  # idempotent: the first revocation's stamp stays
    assert again.code == 0
    assert again.json()["revoked_at"] == record["revoked_at"]
    assert "already revoked" in again.err


def test_a_revoked_user_is_not_enabled_but_can_be_granted_anew(cli: Cli, aws: Aws) -> None:
    grant(cli, SUB, "acme", "--attribute", "region=eu")
    assert cli("user", "revoke", SUB).code == 0

    enabled = cli("user", "enable", SUB)
    assert enabled.code == 2
    assert "was revoked by" in enabled.err
    assert aws.item(f"USER#{SUB}")["enabled"] == {"BOOL": False}  # type: ignore[index]

    regranted = cli("user", "grant", SUB, "--tenant", "globex", "--tableau-username", "alice@example.com")
    assert regranted.code == 0, regranted.err
    record = regranted.json()
    assert record["enabled"] is True
    assert record["tenant_id"] == "globex"
    assert "revoked_at" not in record
    assert "attributes" not in record  # granted anew: nothing carried over from before the revocation
    assert resolve(aws).tenant_id == "globex"  # type: ignore[attr-defined]


def test_revoke_purge_deletes_the_record(cli: Cli, aws: Aws) -> None:
    grant(cli)

    result = cli("user", "revoke", SUB, "--purge")

    assert result.code == 0
    assert result.json()["tenant_id"] == "acme"
    assert aws.item(f"USER#{SUB}") is None
    with pytest.raises(NotEntitled) as denied:
        resolve(aws)
    assert denied.value.reason == "unknown_user"


@pytest.mark.parametrize("action", ["revoke", "enable", "disable", "show"])
def test_unknown_user_is_a_clear_error_and_creates_nothing(cli: Cli, aws: Aws, action: str) -> None:
    grant(cli)

    result = cli("user", action, SUB[:-1] + "0")  # a typo'd sub must not report success

    assert result.code == 2
    assert "no such user" in result.err
    assert aws.item(f"USER#{SUB[:-1]}0") is None
    assert aws.item(f"USER#{SUB}") is not None


def test_disable_and_enable_take_effect_in_the_broker(cli: Cli, aws: Aws) -> None:
    grant(cli)

    assert cli("user", "disable", SUB).code == 0
    with pytest.raises(NotEntitled) as denied:
        resolve(aws)
    assert denied.value.reason == "user_disabled"

    enabled = cli("user", "enable", SUB)
    assert enabled.code == 0
    assert enabled.json()["enabled"] is True
    resolve(aws)


def test_enable_refuses_an_invalid_record(cli: Cli, aws: Aws) -> None:
    aws.dynamodb.put_item(
        TableName=TABLE,
        Item={"pk": {"S": "USER#broken"}, "enabled": {"BOOL": False}, "tenant_id": {"S": "acme"}},
    )

    result = cli("user", "enable", "broken")

    assert result.code == 2
    assert "tableau_username" in result.err
    assert aws.item("USER#broken")["enabled"] == {"BOOL": False}  # type: ignore[index]


def test_list_filters_by_tenant_and_pages(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(store, "SCAN_PAGE_SIZE", 2)
    subs = [f"00000000-0000-4000-8000-00000000000{index}" for index in range(6)]  # sorted as listed
    for sub in subs[:5]:
        grant(cli, sub, "acme")
    grant(cli, subs[5], "globex")
    assert cli("user", "disable", subs[2]).code == 0

    everyone = cli("user", "list", "--output", "text")
    acme = cli("user", "list", "--tenant", "acme")
    nobody = cli("user", "list", "--tenant", "initech", "--output", "text")

    assert everyone.code == 0
    header, *rows = [line.split("\t") for line in everyone.out.splitlines()]
    assert header == ["SUB", "TENANT_ID", "TABLEAU_USERNAME", "STATUS"]
    assert [row[0] for row in rows] == [*subs[:5], subs[5]]
    assert rows[2][3] == "disabled"
    assert rows[5][1] == "globex"
    assert [user["sub"] for user in acme.json()] == subs[:5]
    assert nobody.code == 0
    assert nobody.out.splitlines() == ["SUB\tTENANT_ID\tTABLEAU_USERNAME\tSTATUS"]
