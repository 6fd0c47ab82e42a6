"""`token-broker inspect`: every finding with the Tableau error code; exit 0 clean, 3 on errors."""

from __future__ import annotations

import base64
import json
import re
import time
from typing import Any

import pytest

from tableau_broker.signing_secret import ConnectedAppSecret
from tableau_broker.tableau_jwt import mint_token
from tests.support.cli import CLIENT_ID, SECRET_ID, SECRET_VALUE, Aws, Cli, b64url, make_token


@pytest.fixture
def cli(aws: Aws, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Cli:
    # inspect finds the secret on its own whenever it can: these tests name it with --secret-arn when they want it
    # (finding it through the environment or a stack is tested below), and read the default text output.
    monkeypatch.delenv("CONNECTED_APP_SECRET_ARN")
    monkeypatch.delenv("TOKEN_BROKER_OUTPUT")
    return Cli(capsys, monkeypatch)


def broker_token() -> str:
    """A token exactly as the broker mints it."""
    minted = mint_token(
        ConnectedAppSecret(CLIENT_ID, SECRET_ID, SECRET_VALUE),
        username="alice@example.com",
        scopes=["tableau:views:embed"],
        attributes={"tenant": "acme", "region": ["eu", "us"]},
        lifetime_seconds=300,
        now=time.time(),
    )
    return minted.token


def findings(result: Any) -> list[tuple[str, str, str | None]]:
    return [(f["level"], f["rule"], f["tableau_code"]) for f in result.json()["findings"]]


def test_a_broker_token_is_clean_and_its_claims_are_printed_without_the_signature(cli: Cli) -> None:
    token = broker_token()
    signature = token.rsplit(".", 1)[1]

    result = cli("inspect", token)

    assert result.code == 0, result.out
    assert '  kid: "kid-4e5f6a7b"' in result.out
    assert '  sub: "alice@example.com"' in result.out
    assert '  scp: ["tableau:views:embed"]' in result.out
    assert '  region: ["eu", "us"]' in result.out
    assert re.search(r"  exp: \d+  \(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC, in [45]m \d\ds\)", result.out)
    assert "Signature: not checked" in result.out
    assert "Findings: none" in result.out
    assert signature not in result.out
    assert token not in result.out


def test_with_the_secret_a_good_token_verifies(cli: Cli, aws: Aws) -> None:
    result = cli("inspect", broker_token(), "--secret-arn", aws.secret_arn)

    assert result.code == 0, result.out
    assert 'Signature: valid for secret ID "kid-4e5f6a7b" (AWSCURRENT)' in result.out


def test_json_output(cli: Cli, aws: Aws) -> None:
    token = broker_token()

    result = cli("inspect", token, "--output", "json", "--secret-arn", aws.secret_arn)

    assert result.code == 0
    report = result.json()
    assert report["header"] == {"alg": "HS256", "typ": "JWT", "kid": SECRET_ID, "iss": CLIENT_ID}
    assert report["payload"]["aud"] == "tableau"
    assert report["signature"]["verified"] is True
    assert report["signature"]["secret_id"] == SECRET_ID
    assert report["findings"] == []
    assert token.rsplit(".", 1)[1] not in result.out


def test_token_from_stdin(cli: Cli) -> None:
    result = cli("inspect", "-", "--output", "json", stdin=broker_token() + "\n")

    assert result.code == 0
    assert result.json()["payload"]["sub"] == "alice@example.com"


# Time claims are given as offsets from "now" and turned into absolute times inside the test: a list built at
# collection time would be stale by however long the suite ran before this test.
@pytest.mark.parametrize(
    ("token_args", "offsets", "rule", "code", "message"),
    [
        ({"claims": {"scp": "tableau:views:embed"}}, {}, "scp", "10084", "JSON array"),
        ({"drop_headers": ("kid",)}, {}, "kid", "10083", "no kid"),
        ({}, {"exp": 3600}, "exp", "10096", "exceeds the maximum"),
        ({"claims": {"aud": "tableau-server"}}, {}, "aud", "10084", "aud"),
        ({"headers": {"alg": "HS512"}}, {}, "alg", "10087", "HS256"),
        ({}, {"iat": 120, "nbf": 120}, "iat", "16", "future"),
    ],
)
def test_each_problem_exits_3_with_its_tableau_code(
    cli: Cli, token_args: dict[str, Any], offsets: dict[str, int], rule: str, code: str, message: str
) -> None:
    now = int(time.time())
    claims = {**token_args.get("claims", {}), **{name: now + offset for name, offset in offsets.items()}}
    token = make_token(**{**token_args, "claims": claims}, now=now)

    text = cli("inspect", token)
    as_json = cli("inspect", token, "--output", "json")

    assert text.code == 3
    assert as_json.code == 3
    assert ("error", rule, code) in findings(as_json)
    error_lines = [line for line in text.out.splitlines() if line.strip().startswith("ERROR")]
    assert any(rule in line and f"[Tableau error {code}]" in line and message in line for line in error_lines), text.out


def test_an_expired_token_exits_3_with_code_16(cli: Cli) -> None:
    token = make_token(now=time.time() - 900)  # minted 15 minutes ago, lived 5 minutes

    result = cli("inspect", token, "--output", "json")

    assert result.code == 3
    assert ("error", "exp", "16") in findings(result)
    assert any("expired" in f["message"] for f in result.json()["findings"])


def test_wrong_signature_is_found_only_with_the_secret(cli: Cli, aws: Aws) -> None:
    forged = make_token(key="a-different-secret-value-0123456789")

    without = cli("inspect", forged)
    with_secret = cli("inspect", forged, "--secret-arn", aws.secret_arn)

    assert without.code == 0  # nothing else is wrong: only the signature check can tell
    assert with_secret.code == 3
    assert "Signature: INVALID" in with_secret.out
    assert "signature" in with_secret.out
    assert "[Tableau error 127]" in with_secret.out


def test_kid_and_iss_are_checked_against_the_secret(cli: Cli, aws: Aws) -> None:
    token = make_token(headers={"kid": "old-kid", "iss": "other-app"}, claims={"iss": "other-app"})

    result = cli("inspect", token, "--output", "json", "--secret-arn", aws.secret_arn)

    assert result.code == 3
    assert ("error", "kid", "10085") in findings(result)
    assert ("error", "iss", "10089") in findings(result)


def test_previous_stage_can_be_used_after_a_rotation(cli: Cli, aws: Aws) -> None:
    token = broker_token()  # signed with the credentials that are about to become AWSPREVIOUS
    aws.secretsmanager.put_secret_value(
        SecretId=aws.secret_arn,
        SecretString='{"client_id": "c", "secret_id": "new-kid", "secret_value": "new-value-0123456789abcdef"}',
    )

    current = cli("inspect", token, "--secret-arn", aws.secret_arn)
    previous = cli("inspect", token, "--secret-arn", aws.secret_arn, "--stage", "AWSPREVIOUS")

    assert current.code == 3
    assert previous.code == 0, previous.out


def test_warnings_alone_exit_0(cli: Cli) -> None:
    token = make_token(claims={"scp": ["tableau:views:embed", "tableau:content:read"]})

    result = cli("inspect", token, "--output", "json")

    assert result.code == 0
    assert ("warning", "scp", None) in findings(result)


@pytest.mark.parametrize(
    "token",
    ["not-a-token", "a.b.c", "eyJhbGciOiJIUzI1NiJ9.bm90IGpzb24.sig", "W10.W10.x", "\x1b[31mred.x.y"],
)
def test_a_malformed_token_is_a_clean_message_not_a_traceback(cli: Cli, token: str) -> None:
    text = cli("inspect", token)
    as_json = cli("inspect", token, "--output", "json")

    assert text.code == 3
    assert text.out.startswith("Malformed token: not a JWT")
    assert "[Tableau error 10084]" in text.out
    assert "\x1b" not in text.out
    assert as_json.code == 3
    assert as_json.json()["header"] is None
    assert findings(as_json) == [("error", "format", "10084")]


def test_untrusted_claims_cannot_drive_the_terminal(cli: Cli) -> None:
    token = make_token(claims={"sub": "alice\x1b[2J", "evil\x1b[31m": "x"})

    result = cli("inspect", token)

    assert "\x1b" not in result.out
    assert "\\u001b[2J" in result.out


@pytest.mark.parametrize(("argv", "stdin"), [(("inspect", "-"), ""), (("inspect", "   "), "")])
def test_no_token_is_a_usage_error(cli: Cli, argv: tuple[str, ...], stdin: str) -> None:
    result = cli(*argv, stdin=stdin)

    assert result.code == 2
    assert "no token" in result.err


def test_an_unknown_secret_is_an_aws_failure(cli: Cli) -> None:
    result = cli("inspect", broker_token(), "--secret-arn", "no-such-secret")

    assert result.code == 1
    assert "ResourceNotFoundException" in result.err


def test_an_unusable_stored_secret_is_an_operational_failure(cli: Cli, aws: Aws) -> None:
    aws.secretsmanager.put_secret_value(SecretId=aws.secret_arn, SecretString='{"unconfigured": true}')

    result = cli("inspect", broker_token(), "--secret-arn", aws.secret_arn)

    assert result.code == 1
    assert "stored secret (AWSCURRENT) is unusable" in result.err


def test_inspect_without_secret_needs_no_aws(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")

    assert cli("inspect", broker_token()).code == 0


def test_max_lifetime_follows_a_configured_tableau_server(cli: Cli) -> None:
    token = make_token(claims={"exp": int(time.time()) + 1200})

    assert cli("inspect", token).code == 3
    assert cli("inspect", token, "--max-lifetime", "1800").code == 0
    assert cli("inspect", token, "--max-lifetime", "0").code == 2


# --- crafted tokens: every one is a finding and exit 3, never a crash ------------------------------------------


def crafted(
    raw_claims: dict[str, str] | None = None, *, payload: str | None = None, signature: str | None = None
) -> str:
    """A broker-shaped token with claims replaced by raw JSON text (1e400, NaN...) or a raw payload/signature."""
    head, body, sig = make_token().split(".")
    if raw_claims or payload is not None:
        text = payload
        if text is None:
            claims = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
            claims.update({name: f"@raw:{name}" for name in raw_claims or {}})
            text = json.dumps(claims)
            for name, literal in (raw_claims or {}).items():
                text = text.replace(f'"@raw:{name}"', literal)
        body = b64url(text.encode())
    return f"{head}.{body}.{sig if signature is None else signature}"


def _reject_constant(name: str) -> Any:
    raise AssertionError(f"--json printed {name}, which is not JSON")


CRAFTED = [
    pytest.param(lambda: crafted(payload='{"a":' * 100_000 + "1" + "}" * 100_000), "format", "10084",
                 "nested deeper", id="payload-nested-past-the-decoder-recursion-limit"),
    pytest.param(lambda: crafted(payload='{"sub":' * 40 + '"x"' + "}" * 40), "format", "10084",
                 "nested deeper", id="payload-nested-40-levels"),
    pytest.param(lambda: crafted(payload='{"exp": ' + "9" * 5000 + "}"), "format", "10084",
                 "not base64url JSON", id="integer-past-python-digit-limit"),
    pytest.param(lambda: crafted({"exp": "1e400"}), "exp", "10084", "NumericDate", id="exp-1e400-is-infinity"),
    pytest.param(lambda: crafted({"exp": "-1e400"}), "exp", "10084", "NumericDate", id="exp-minus-infinity"),
    pytest.param(lambda: crafted({"exp": "NaN"}), "exp", "10084", "NumericDate", id="exp-nan"),
    pytest.param(lambda: crafted({"nbf": "Infinity"}), "nbf", "10084", "NumericDate", id="nbf-infinity-literal"),
    pytest.param(lambda: crafted({"iat": "1e300"}), "iat", "10084", "NumericDate", id="iat-1e300"),
    pytest.param(lambda: crafted({"iat": "1" + "0" * 400}), "iat", "10084", "NumericDate", id="iat-int-past-float"),
    pytest.param(lambda: crafted({"exp": "1" + "0" * 400}), "exp", "10084", "NumericDate", id="exp-int-past-float"),
    pytest.param(lambda: crafted(signature="sig\u00e9\u20ac"), "signature", "10084", "base64url",
                 id="non-ascii-signature"),
    pytest.param(lambda: crafted(signature="abcde"), "signature", "10084", "base64url", id="signature-bad-length"),
    pytest.param(lambda: crafted(signature=""), "signature", "10084", "no signature", id="no-signature"),
    pytest.param(lambda: crafted({"scp": '[["tableau:views:embed"]]', "https://tableau.com/oda": '"true"'}),
                 "scp", "10084", "array of strings", id="oda-with-unhashable-scopes"),
]  # fmt: skip


@pytest.mark.parametrize("with_secret", [False, True], ids=["no-secret", "with-secret"])
@pytest.mark.parametrize(("build", "rule", "code", "message"), CRAFTED)
def test_a_crafted_token_gives_findings_and_exit_3(
    cli: Cli, aws: Aws, build: Any, rule: str, code: str, message: str, with_secret: bool
) -> None:
    token = build()
    secret_args = ("--secret-arn", aws.secret_arn) if with_secret else ()

    text = cli("inspect", token, *secret_args)
    as_json = cli("inspect", token, "--output", "json", *secret_args)

    assert text.code == 3, text.out + text.err
    assert as_json.code == 3, as_json.out + as_json.err
    report = json.loads(as_json.out, parse_constant=_reject_constant)
    assert ("error", rule, code) in findings(as_json)
    assert any(message in f["message"] for f in report["findings"] if f["rule"] == rule), report["findings"]
    error_lines = [line for line in text.out.splitlines() if line.strip().startswith("ERROR")]
    assert any(rule in line and f"[Tableau error {code}]" in line for line in error_lines), text.out
    assert text.out.rstrip().splitlines()[-1].startswith("Result: ")
