"""`token-broker tenant ...` against moto (table built from template.yaml)."""

from __future__ import annotations

import pytest

from tableau_broker.entitlements import parse_tenant
from tests.cli.stack import MOTO_CALLER
from tests.support.cli import Aws, Cli
from token_broker_cli import store

URL = "https://10ax.online.tableau.com"


@pytest.fixture
def cli(aws: Aws, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Cli:
    return Cli(capsys, monkeypatch)


def put(cli: Cli, tenant: str = "acme", *extra: str) -> None:
    result = cli("tenant", "put", tenant, "--tableau-url", URL, "--site", "acmesite", *extra)
    assert result.code == 0, result.err


def test_put_creates_an_enabled_tenant_with_default_scope_that_the_layer_accepts(cli: Cli, aws: Aws) -> None:
    result = cli("tenant", "put", "acme", "--tableau-url", URL + "/", "--site", "acmesite")

    assert result.code == 0
    assert "created" in result.err
    record = result.json()
    stamp = {name: record.pop(name) for name in ("created_at", "created_by", "updated_at", "updated_by")}
    assert record == {
        "tenant_id": "acme",
        "enabled": True,
        "tableau_url": URL,
        "site": "acmesite",
        "scopes": ["tableau:views:embed"],
    }
    assert stamp["created_by"] == stamp["updated_by"] == MOTO_CALLER
    assert stamp["created_at"] == stamp["updated_at"]
    raw = aws.item("TENANT#acme")
    assert raw is not None
    assert raw["enabled"] == {"BOOL": True}  # a real boolean: the broker enables only on `is True`
    assert raw["scopes"] == {"L": [{"S": "tableau:views:embed"}]}
    shown = cli("tenant", "show", "acme")
    assert shown.code == 0
    record = parse_tenant("acme", {k: v for k, v in shown.json().items() if k != "tenant_id"})
    assert record.enabled is True
    assert record.scopes == ("tableau:views:embed",)


def test_put_stores_scopes_attributes_secret_and_on_demand_access(cli: Cli, aws: Aws) -> None:
    result = cli(
        "tenant", "put", "acme", "--tableau-url", URL, "--site", "acmesite",
        "--secret-arn", "arn:aws:secretsmanager:eu-west-1:123456789012:secret:other-AbCdEf",
        "--scope", "tableau:views:embed", "--scope", "tableau:views:embed_authoring",
        "--attribute", "region=eu", "--attribute", "region=us", "--attribute", "plan=gold",
        "--oda-group", "Viewers", "--oda-group", "Analysts",
    )  # fmt: skip

    assert result.code == 0, result.err
    stored = result.json()
    assert stored["attributes"] == {"region": ["eu", "us"], "plan": "gold"}  # repeated name -> array
    assert stored["on_demand_access"] == {"enabled": True, "groups": ["Viewers", "Analysts"]}
    assert stored["connected_app_secret"].endswith(":secret:other-AbCdEf")
    raw = aws.item("TENANT#acme")
    assert raw is not None
    assert raw["attributes"]["M"]["plan"] == {"S": "gold"}
    assert raw["attributes"]["M"]["region"] == {"L": [{"S": "eu"}, {"S": "us"}]}
    tenant = parse_tenant("acme", {k: v for k, v in stored.items() if k != "tenant_id"})
    assert tenant.on_demand_access is not None
    assert tenant.on_demand_access.groups == ("Viewers", "Analysts")


def test_update_keeps_unspecified_fields_and_the_disabled_state(cli: Cli) -> None:
    put(cli, "acme", "--attribute", "region=eu", "--secret-arn", "other-secret", "--disable")

    result = cli("tenant", "put", "acme", "--tableau-url", "https://new.example.com", "--site", "s2")

    assert result.code == 0, result.err
    assert "updated" in result.err
    stored = result.json()
    assert stored["tableau_url"] == "https://new.example.com"
    assert stored["site"] == "s2"
    assert stored["attributes"] == {"region": "eu"}
    assert stored["connected_app_secret"] == "other-secret"
    assert stored["enabled"] is False  # re-running put never re-enables a disabled tenant
    assert "disabled" in result.err


def test_update_replaces_and_clears_fields_when_asked(cli: Cli) -> None:
    put(cli, "acme", "--attribute", "region=eu", "--secret-arn", "other-secret", "--oda-group", "G")

    result = cli(
        "tenant", "put", "acme", "--tableau-url", URL, "--site", "acmesite",
        "--clear-attributes", "--clear-secret-arn", "--clear-oda", "--scope", "tableau:insights:embed",
    )  # fmt: skip

    assert result.code == 0, result.err
    stored = result.json()
    assert "attributes" not in stored
    assert "connected_app_secret" not in stored
    assert "on_demand_access" not in stored
    assert stored["scopes"] == ["tableau:insights:embed"]


@pytest.mark.parametrize("scope", ["tableau:content:read", "tableau:datasources:create", "tableau:workbooks:*"])
def test_rest_scope_is_refused_and_nothing_is_written(cli: Cli, aws: Aws, scope: str) -> None:
    result = cli("tenant", "put", "acme", "--tableau-url", URL, "--site", "s", "--scope", scope)

    assert result.code == 2
    assert "REST API scope" in result.err
    assert scope in result.err
    assert aws.item("TENANT#acme") is None


def test_unknown_scope_is_refused(cli: Cli) -> None:
    result = cli("tenant", "put", "acme", "--tableau-url", URL, "--site", "s", "--scope", "views:embed")

    assert result.code == 2
    assert "unknown scope" in result.err


def test_retired_scope_is_accepted_with_a_warning(cli: Cli) -> None:
    result = cli("tenant", "put", "acme", "--tableau-url", URL, "--site", "s", "--scope", "tableau:metrics:embed")

    assert result.code == 0
    assert "warning" in result.err
    assert "retired" in result.err


@pytest.mark.parametrize(
    "url",
    [
        "http://tableau.example.com",
        "http://localhost.attacker.example",  # passes a naive startswith("http://localhost") check
        "ftp://tableau.example.com",
        "tableau.example.com",
        "https://user:pw@tableau.example.com",
        "https://tableau.example.com/?x=1",
    ],
)
def test_url_must_be_https_except_loopback(cli: Cli, aws: Aws, url: str) -> None:
    result = cli("tenant", "put", "acme", "--tableau-url", url, "--site", "s")

    assert result.code == 2
    assert "--tableau-url" in result.err
    assert aws.item("TENANT#acme") is None


@pytest.mark.parametrize("url", ["http://127.0.0.1:8080", "http://localhost:8443"])
def test_plain_http_is_allowed_on_loopback(cli: Cli, url: str) -> None:
    assert cli("tenant", "put", "local", "--tableau-url", url, "--site", "s").code == 0


@pytest.mark.parametrize(
    ("attribute", "expected"),
    [
        ("sub=alice", "reserved claim 'sub'"),
        ("SCP=x", "reserved claim 'scp'"),
        ("kid=x", "reserved claim 'kid'"),
        ("https://tableau.com/oda=true", "https://tableau.com/ namespace"),
        (" padded=x", "empty or padded"),
        ("=x", "empty or padded"),
        ("noequals", "expects name=value"),
    ],
)
def test_bad_attribute_names_are_refused(cli: Cli, aws: Aws, attribute: str, expected: str) -> None:
    result = cli("tenant", "put", "acme", "--tableau-url", URL, "--site", "s", "--attribute", attribute)

    assert result.code == 2
    assert expected in result.err
    assert aws.item("TENANT#acme") is None


def test_tenant_attribute_name_is_reserved(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    base = ("tenant", "put", "acme", "--tableau-url", URL, "--site", "s")

    default = cli(*base, "--attribute", "Tenant=other")
    flag = cli(*base, "--tenant-attribute", "org", "--attribute", "org=other")
    monkeypatch.setenv("TENANT_ATTRIBUTE_NAME", "customer")
    from_env = cli(*base, "--attribute", "customer=other")
    not_reserved_any_more = cli(*base, "--attribute", "tenant=x")

    for result in (default, flag, from_env):
        assert result.code == 2
        assert "is the tenant attribute" in result.err
    assert not_reserved_any_more.code == 0  # with TENANT_ATTRIBUTE_NAME=customer, "tenant" is an ordinary name


def test_invalid_tenant_attribute_setting_is_refused(cli: Cli) -> None:
    result = cli("tenant", "put", "acme", "--tableau-url", URL, "--site", "s", "--tenant-attribute", "sub")

    assert result.code == 2
    assert "tenant attribute name" in result.err


def test_on_demand_access_with_a_non_views_scope_is_refused(cli: Cli) -> None:
    result = cli(
        "tenant", "put", "acme", "--tableau-url", URL, "--site", "s",
        "--scope", "tableau:insights:embed", "--oda-group", "Viewers",
    )  # fmt: skip

    assert result.code == 2
    assert "on-demand access supports only" in result.err


def test_a_stored_rest_scope_blocks_an_update_that_keeps_it(cli: Cli, aws: Aws) -> None:
    aws.dynamodb.put_item(
        TableName="entitlements-cli-test",
        Item={
            "pk": {"S": "TENANT#acme"},
            "enabled": {"BOOL": True},
            "tableau_url": {"S": URL},
            "site": {"S": "s"},
            "scopes": {"L": [{"S": "tableau:content:read"}]},
        },
    )

    kept = cli("tenant", "put", "acme", "--tableau-url", URL, "--site", "s")
    replaced = cli("tenant", "put", "acme", "--tableau-url", URL, "--site", "s", "--scope", "tableau:views:embed")

    assert kept.code == 2
    assert "stored scopes" in kept.err
    assert replaced.code == 0


def test_disable_and_enable(cli: Cli, aws: Aws) -> None:
    put(cli)

    disabled = cli("tenant", "disable", "acme")
    assert disabled.code == 0
    assert disabled.json()["enabled"] is False
    assert aws.item("TENANT#acme")["enabled"] == {"BOOL": False}  # type: ignore[index]
    assert "sessions" in disabled.err

    enabled = cli("tenant", "enable", "acme")
    assert enabled.code == 0
    assert aws.item("TENANT#acme")["enabled"] == {"BOOL": True}  # type: ignore[index]


@pytest.mark.parametrize("action", ["enable", "disable", "show"])
def test_unknown_tenant_is_a_clear_error_and_creates_nothing(cli: Cli, aws: Aws, action: str) -> None:
    result = cli("tenant", action, "ghost")

    assert result.code == 2
    assert "no such tenant 'ghost'" in result.err
    assert aws.item("TENANT#ghost") is None  # enable/disable must not upsert a bare record


def test_enable_refuses_an_invalid_record_but_disable_always_works(cli: Cli, aws: Aws) -> None:
    aws.dynamodb.put_item(
        TableName="entitlements-cli-test",
        Item={"pk": {"S": "TENANT#broken"}, "enabled": {"BOOL": False}, "tableau_url": {"S": "http://x.example"}},
    )

    enable = cli("tenant", "enable", "broken")
    disable = cli("tenant", "disable", "broken")
    show = cli("tenant", "show", "broken")

    assert enable.code == 2
    assert "invalid" in enable.err
    assert aws.item("TENANT#broken")["enabled"] == {"BOOL": False}  # type: ignore[index]
    assert disable.code == 0
    assert show.code == 1  # shown, but flagged: the broker fails closed on it
    assert show.json()["tenant_id"] == "broken"
    assert "invalid" in show.err


def test_list_pages_through_every_tenant_and_skips_users(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(store, "SCAN_PAGE_SIZE", 2)
    for name in ["t1", "t2", "t3", "t4", "t5"]:
        put(cli, name)
    cli("tenant", "disable", "t3")
    sub = "5f0c6a1e-8d4b-4f63-9a4e-3c2b1a0d9e8f"
    assert cli("user", "grant", sub, "--tenant", "t1", "--tableau-username", "u@example.com").code == 0

    table = cli("tenant", "list", "--output", "text")
    as_json = cli("tenant", "list")

    assert table.code == 0
    header, *lines = table.out.splitlines()
    assert header.split("\t") == ["TENANT_ID", "STATUS", "TABLEAU_URL", "SITE"]
    assert [line.split("\t")[0] for line in lines] == ["t1", "t2", "t3", "t4", "t5"]
    assert lines[2].split("\t")[1] == "disabled"
    assert [t["tenant_id"] for t in as_json.json()] == ["t1", "t2", "t3", "t4", "t5"]


def test_missing_table_configuration_is_a_usage_error(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ENTITLEMENTS_TABLE")

    result = cli("tenant", "list")

    assert result.code == 2
    assert "--table" in result.err
    assert "ENTITLEMENTS_TABLE" in result.err


def test_table_flag_overrides_the_environment_and_a_missing_table_is_an_aws_failure(cli: Cli) -> None:
    result = cli("tenant", "list", "--table", "no-such-table")

    assert result.code == 1
    assert "ResourceNotFoundException" in result.err
    assert "eu-west-1" in result.err


def test_aws_options_work_before_and_after_the_subcommand(cli: Cli) -> None:
    before = cli("--region", "us-west-2", "tenant", "list")
    after = cli("tenant", "list", "--region", "us-west-2")

    for result in (before, after):  # the table exists only in eu-west-1
        assert result.code == 1
        assert "us-west-2" in result.err


def test_bad_tenant_id_is_refused(cli: Cli) -> None:
    result = cli("tenant", "put", "acme corp", "--tableau-url", URL, "--site", "s")

    assert result.code == 2
    assert "TENANT_ID" in result.err


def test_hand_edited_records_with_odd_types_give_clean_errors(cli: Cli, aws: Aws) -> None:
    aws.dynamodb.put_item(
        TableName="entitlements-cli-test",
        Item={
            "pk": {"S": "TENANT#odd"},
            "enabled": {"BOOL": True},
            "tableau_url": {"S": URL},
            "site": {"S": "s"},
            "scopes": {"S": "tableau:views:embed"},  # a string, not a list
            "on_demand_access": {"M": {"enabled": {"BOOL": True}, "groups": {"N": "7"}}},
        },
    )

    kept = cli("tenant", "put", "odd", "--tableau-url", URL, "--site", "s")
    listed = cli("tenant", "list", "--output", "text")
    fixed_scopes = cli("tenant", "put", "odd", "--tableau-url", URL, "--site", "s", "--scope", "tableau:views:embed")
    fixed = cli(
        "tenant", "put", "odd", "--tableau-url", URL, "--site", "s", "--scope", "tableau:views:embed", "--clear-oda"
    )

    assert kept.code == 2
    assert "stored scopes: scopes must be a list of strings" in kept.err
    assert listed.out.splitlines()[1].split("\t")[:2] == ["odd", "invalid"]
    assert fixed_scopes.code == 2
    assert "stored on-demand access" in fixed_scopes.err
    assert fixed.code == 0, fixed.err
    assert "on_demand_access" not in fixed.json()
