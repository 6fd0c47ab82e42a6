"""Parser, AWS settings and error mapping of `token-broker` (no command-specific behaviour here)."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest

from tests.support.cli import REGION, Cli, isolate_environment
from token_broker_cli.context import AwsContext, Context
from token_broker_cli.main import build_parser


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Cli:
    isolate_environment(monkeypatch, tmp_path)
    return Cli(capsys, monkeypatch)


def test_help_exits_0(cli: Cli) -> None:
    result = cli("--help")

    assert result.code == 0
    assert "tenant" in result.out
    assert "Exit codes" in result.out


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        ((), "the following arguments are required: COMMAND"),
        (("rotate",), "invalid choice: 'rotate'"),
        (("tenant",), "required: ACTION"),
        (("user", "grant", "sub"), "--tenant"),
        (("tenant", "show", "acme", "--tabel", "x"), "unrecognized arguments: --tabel"),
        (
            ("tenant", "put", "acme", "--tableau-url", "https://x", "--site", "s", "--enable", "--disable"),
            "not allowed",
        ),
    ],
)
def test_usage_errors_are_one_line_and_exit_2(cli: Cli, argv: tuple[str, ...], expected: str) -> None:
    result = cli(*argv)

    assert result.code == 2
    assert expected in result.err
    assert len(result.err.splitlines()) == 1
    assert result.out == ""


def test_unrecognized_values_are_never_echoed(cli: Cli) -> None:
    result = cli("tenant", "show", "acme", "s3cr3t-looking-positional", "--flag=s3cr3t-looking-value")

    assert result.code == 2
    assert "s3cr3t" not in result.err
    assert "--flag=…" in result.err
    assert "1 further argument(s) not shown" in result.err


def test_options_are_not_abbreviated(cli: Cli) -> None:
    result = cli("tenant", "list", "--tab", "x")

    assert result.code == 2
    assert "unrecognized arguments: --tab" in result.err


def test_unknown_profile_is_a_usage_error(cli: Cli) -> None:
    flag = cli("--profile", "ghost", "tenant", "list", "--table", "t")

    assert flag.code == 2
    assert "ghost" in flag.err


def test_unknown_profile_from_the_environment(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_PROFILE", "ghost")

    result = cli("tenant", "list", "--table", "t")

    assert result.code == 2
    assert "ghost" in result.err


def test_no_region_is_a_usage_error(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_DEFAULT_REGION")

    result = cli("tenant", "list", "--table", "t")

    assert result.code == 2
    assert "--region" in result.err


def test_no_credentials_is_an_aws_failure(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")

    # botocore refuses to sign before any request leaves: nothing reaches a network.
    result = cli("tenant", "list", "--table", "t", "--endpoint-url", "http://127.0.0.1:9")

    assert result.code == 1
    assert "no usable AWS credentials" in result.err


def test_unreachable_endpoint_is_an_aws_failure(cli: Cli) -> None:
    result = cli("tenant", "list", "--table", "t", "--endpoint-url", "http://127.0.0.1:9")

    assert result.code == 1
    assert "cannot reach AWS" in result.err
    assert "127.0.0.1:9" in result.err


def test_malformed_endpoint_is_a_usage_error(cli: Cli) -> None:
    result = cli("tenant", "list", "--table", "t", "--endpoint-url", "not a url")

    assert result.code == 2
    assert "--endpoint-url" in result.err


def test_region_precedence(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    isolate_environment(monkeypatch, tmp_path)  # AWS_DEFAULT_REGION=REGION
    monkeypatch.setenv("AWS_REGION", "ap-southeast-2")

    def region(*argv: str) -> str | None:
        args = build_parser().parse_args([*argv, "tenant", "list"])
        return AwsContext.from_args(args, os.environ).region_name

    assert region("--region", "us-west-2") == "us-west-2"
    assert region() == "ap-southeast-2"  # AWS_REGION, which botocore alone would ignore
    monkeypatch.delenv("AWS_REGION")
    assert region() == REGION


def test_redaction_covers_every_stream() -> None:
    out, err = io.StringIO(), io.StringIO()
    ctx = Context(aws=AwsContext(), env={}, stdin=io.StringIO(), stdout=out, stderr=err)
    ctx.sensitive("hunter2-hunter2-hunter2")

    ctx.print("value hunter2-hunter2-hunter2")
    ctx.print_json({"v": "hunter2-hunter2-hunter2"})
    ctx.warn("w hunter2-hunter2-hunter2")
    ctx.error("e hunter2-hunter2-hunter2")

    assert "hunter2" not in out.getvalue() + err.getvalue()
    assert out.getvalue().count("<redacted>") == 2
    assert err.getvalue().count("<redacted>") == 2
