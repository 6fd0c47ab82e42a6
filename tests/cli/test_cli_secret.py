"""`token-broker secret put|show`: the value goes in through stdin or a file and never comes out."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tableau_broker.signing_secret import read_connected_app_secret
from tests.support.cli import (
    CLIENT_ID,
    NEW_SECRET_VALUE,
    SECRET_ID,
    SECRET_NAME,
    SECRET_VALUE,
    Aws,
    Cli,
)


@pytest.fixture
def cli(aws: Aws, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Cli:
    cli = Cli(capsys, monkeypatch)
    cli.never_printed.append(NEW_SECRET_VALUE)  # checked on stdout and stderr of every call
    return cli


def test_put_from_stdin_stores_a_new_current_version_and_prints_only_ids(cli: Cli, aws: Aws) -> None:
    old_versions = aws.secretsmanager.describe_secret(SecretId=aws.secret_arn)["VersionIdsToStages"]

    result = cli(
        "secret", "put", "--client-id", "client-new", "--secret-id", "kid-new", "--secret-value-stdin",
        stdin=NEW_SECRET_VALUE + "\n",
    )  # fmt: skip

    assert result.code == 0, result.err
    printed = result.json()
    assert printed["client_id"] == "client-new"
    assert printed["secret_id"] == "kid-new"
    assert printed["version_stages"] == ["AWSCURRENT"]
    assert printed["version_id"] not in old_versions
    assert aws.current_secret() == {
        "client_id": "client-new",
        "secret_id": "kid-new",
        "secret_value": NEW_SECRET_VALUE,  # trailing newline stripped
    }
    stages = aws.secretsmanager.describe_secret(SecretId=aws.secret_arn)["VersionIdsToStages"]
    assert stages[printed["version_id"]] == ["AWSCURRENT"]
    assert "AWSPREVIOUS" in next(iter(old_stages for vid, old_stages in stages.items() if vid in old_versions))


def test_put_from_a_file_and_the_broker_reads_it(cli: Cli, aws: Aws, tmp_path: Path) -> None:
    value_file = tmp_path / "value"
    value_file.write_text(NEW_SECRET_VALUE + "\n", encoding="utf-8")
    value_file.chmod(0o600)

    result = cli(
        "secret", "put", "--secret-arn", SECRET_NAME, "--client-id", CLIENT_ID, "--secret-id", "kid-2",
        "--secret-value-file", str(value_file),
    )  # fmt: skip

    assert result.code == 0, result.err
    assert "warning" not in result.err
    secret = read_connected_app_secret(aws.secretsmanager, aws.secret_arn)
    assert (secret.client_id, secret.secret_id, secret.secret_value) == (CLIENT_ID, "kid-2", NEW_SECRET_VALUE)


def test_a_world_readable_value_file_gets_a_warning(cli: Cli, tmp_path: Path) -> None:
    value_file = tmp_path / "value"
    value_file.write_text(NEW_SECRET_VALUE, encoding="utf-8")
    value_file.chmod(0o644)

    result = cli(
        "secret", "put", "--client-id", CLIENT_ID, "--secret-id", "kid-2", "--secret-value-file", str(value_file)
    )

    assert result.code == 0
    assert "accessible to other users" in result.err


def test_a_short_value_is_refused_and_not_echoed(cli: Cli, aws: Aws) -> None:
    short = "shortvalue123"  # 13 characters: brute-forceable as an HS256 key
    cli.never_printed.append(short)

    result = cli(
        "secret", "put", "--client-id", CLIENT_ID, "--secret-id", SECRET_ID, "--secret-value-stdin", stdin=short
    )

    assert result.code == 2
    assert "shorter than 16" in result.err
    assert aws.current_secret()["secret_value"] == SECRET_VALUE  # unchanged


@pytest.mark.parametrize("stdin", ["", "   \n", "two words-and-more-than-sixteen"])
def test_an_empty_or_spaced_value_is_refused(cli: Cli, aws: Aws, stdin: str) -> None:
    result = cli(
        "secret", "put", "--client-id", CLIENT_ID, "--secret-id", SECRET_ID, "--secret-value-stdin", stdin=stdin
    )

    assert result.code == 2
    assert "two words" not in result.err
    assert aws.current_secret()["secret_value"] == SECRET_VALUE


def test_the_value_cannot_be_passed_as_an_argument_and_is_not_echoed(cli: Cli, aws: Aws) -> None:
    both = cli(
        "secret", "put", "--client-id", CLIENT_ID, "--secret-id", SECRET_ID, "--secret-value-stdin",
        "--secret-value", NEW_SECRET_VALUE,
    )  # fmt: skip
    inline = cli(
        "secret", "put", "--client-id", CLIENT_ID, "--secret-id", SECRET_ID, "--secret-value-stdin",
        f"--secret-value={NEW_SECRET_VALUE}",
    )  # fmt: skip
    alone = cli("secret", "put", "--client-id", CLIENT_ID, "--secret-id", SECRET_ID, "--secret-value", NEW_SECRET_VALUE)

    for result in (both, inline, alone):
        assert result.code == 2  # NEW_SECRET_VALUE absent from the output: checked by Cli
    assert "--secret-value-stdin or --secret-value-file" in both.err
    assert "--secret-value-stdin or --secret-value-file" in inline.err
    assert aws.current_secret()["secret_value"] == SECRET_VALUE


def test_a_missing_value_file_is_a_usage_error(cli: Cli, tmp_path: Path) -> None:
    result = cli(
        "secret", "put", "--client-id", CLIENT_ID, "--secret-id", SECRET_ID,
        "--secret-value-file", str(tmp_path / "absent"),
    )  # fmt: skip

    assert result.code == 2
    assert "cannot read --secret-value-file" in result.err


def test_aws_failure_after_reading_the_value_does_not_echo_it(cli: Cli) -> None:
    result = cli(
        "secret", "put", "--secret-arn", "no-such-secret", "--client-id", CLIENT_ID, "--secret-id", SECRET_ID,
        "--secret-value-stdin", stdin=NEW_SECRET_VALUE,
    )  # fmt: skip

    assert result.code == 1
    assert "ResourceNotFoundException" in result.err


def test_put_needs_a_secret_arn(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CONNECTED_APP_SECRET_ARN")

    result = cli(
        "secret", "put", "--client-id", CLIENT_ID, "--secret-id", SECRET_ID, "--secret-value-stdin",
        stdin=NEW_SECRET_VALUE,
    )  # fmt: skip

    assert result.code == 2
    assert "CONNECTED_APP_SECRET_ARN" in result.err


def test_show_lists_ids_and_stages_without_the_value(cli: Cli, aws: Aws) -> None:
    assert cli(
        "secret", "put", "--client-id", CLIENT_ID, "--secret-id", "kid-2", "--secret-value-stdin",
        stdin=NEW_SECRET_VALUE,
    ).code == 0  # fmt: skip

    result = cli("secret", "show")

    assert result.code == 0, result.err
    shown = result.json()
    assert shown["arn"] == aws.secret_arn
    assert shown["rotation_enabled"] is False
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d.*", shown["last_changed"])  # ISO 8601
    versions = shown["versions"]
    assert [v["stages"] for v in versions] == [["AWSCURRENT"], ["AWSPREVIOUS"]]
    assert [(v["client_id"], v["secret_id"]) for v in versions] == [(CLIENT_ID, "kid-2"), (CLIENT_ID, SECRET_ID)]
    assert "secret_value" not in json.dumps(shown)


def test_show_flags_the_unconfigured_template_value(cli: Cli, aws: Aws) -> None:
    aws.secretsmanager.put_secret_value(SecretId=aws.secret_arn, SecretString='{"unconfigured": true}')

    result = cli("secret", "show")

    assert result.code == 1
    current = result.json()["versions"][0]
    assert current["stages"] == ["AWSCURRENT"]
    assert "lacks non-empty string field(s)" in current["problem"]
    assert "AWSCURRENT is missing or unusable" in result.err


def test_show_of_an_unknown_secret_is_an_aws_failure(cli: Cli) -> None:
    result = cli("secret", "show", "--secret-arn", "nope")

    assert result.code == 1
    assert "ResourceNotFoundException" in result.err
