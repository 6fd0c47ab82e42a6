"""The ``token issued`` line: Powertools' log record and Powertools' EMF metric in one JSON document.

Each property is checked against what Powertools itself writes for the same request, so the saved queries, the
alarms and the dashboard keep reading what they read before the two lines became one.
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from token_broker.issued_line import IssuedLine, powertools_timestamp

SERVICE = "issued-line-test"
NAMESPACE = "IssuedLineTest"
FIELDS = {"tenant": "acme", "tableau_username": "alice", "kid": "k", "jti": "j", "scopes": ["s"], "expires_at": 9}
NOW = 1_795_478_400.123


@pytest.fixture
def logger() -> Iterator[Logger]:
    powertools = Logger(service=SERVICE, level="INFO")
    stream = io.StringIO()
    powertools.registered_handler.setStream(stream)  # type: ignore[attr-defined]
    powertools.append_keys(function_request_id="req-1", correlation_id="corr-1", sub="sub-1", cold_start=False)
    yield powertools
    powertools.setLevel("INFO")


def output(logger: Logger) -> list[dict[str, Any]]:
    stream = logger.registered_handler.stream  # type: ignore[attr-defined]
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def line_for(logger: Logger, *, namespace: str | None = NAMESPACE) -> IssuedLine:
    return IssuedLine.for_logger(logger, namespace=namespace, metric_name="TokensIssued", location="handle:issued")


def published(emf: dict[str, Any]) -> set[tuple[str, str, frozenset[tuple[str, str]]]]:
    out = set()
    for directive in emf["_aws"]["CloudWatchMetrics"]:
        for dimension_set in directive["Dimensions"]:
            dims = frozenset((name, str(emf[name])) for name in dimension_set)
            out.update((directive["Namespace"], m["Name"], dims) for m in directive["Metrics"])
    return out


def test_the_log_part_is_what_powertools_writes(logger: Logger, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("_X_AMZN_TRACE_ID", "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f;Sampled=1")
    logger.info("token issued", extra=FIELDS)
    line_for(logger).write(FIELDS, now=NOW)
    theirs, ours = output(logger)
    emf_keys = {"_aws", "TokensIssued"}
    assert list(ours)[: len(theirs)] == list(theirs)  # the same keys in the same order, then the metric's
    assert set(ours) - set(theirs) == emf_keys
    for key in set(theirs) - {"location", "timestamp"}:
        assert ours[key] == theirs[key], key
    assert ours["xray_trace_id"] == "1-5759e988-bd862e3fe1be46a994272793"


def test_the_metric_part_publishes_what_powertools_metrics_does(
    logger: Logger, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("POWERTOOLS_METRICS_DISABLED", raising=False)
    metrics = Metrics(namespace=NAMESPACE, service=SERVICE)
    metrics.add_metric(name="TokensIssued", unit=MetricUnit.Count, value=1)
    capsys.readouterr()
    metrics.flush_metrics()
    (theirs,) = [json.loads(t) for t in capsys.readouterr().out.splitlines() if t.startswith('{"_aws"')]
    line_for(logger).write(FIELDS, now=NOW)
    (ours,) = output(logger)
    assert published(ours) == published(theirs) == {(NAMESPACE, "TokensIssued", frozenset({("service", SERVICE)}))}
    assert ours["TokensIssued"] == theirs["TokensIssued"] == [1.0]
    assert ours["_aws"]["Timestamp"] == int(NOW * 1000)


def test_below_info_only_the_metric_is_written(logger: Logger) -> None:
    logger.setLevel("WARNING")
    line_for(logger).write(FIELDS, now=NOW)
    (ours,) = output(logger)
    assert set(ours) == {"service", "_aws", "TokensIssued"}
    assert published(ours) == {(NAMESPACE, "TokensIssued", frozenset({("service", SERVICE)}))}


def test_with_metrics_disabled_only_the_log_record_is_written(logger: Logger, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    line_for(logger).write(FIELDS, now=NOW)
    (ours,) = output(logger)
    assert ours["message"] == "token issued" and "_aws" not in ours and "TokensIssued" not in ours


def test_nothing_is_written_below_info_with_metrics_disabled(logger: Logger, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    logger.setLevel("ERROR")
    line_for(logger).write(FIELDS, now=NOW)
    assert output(logger) == []


def test_every_stream_handler_of_the_logger_gets_the_line(logger: Logger) -> None:
    extra = io.StringIO()
    added = logging.StreamHandler(extra)
    std = logging.getLogger(SERVICE)
    std.addHandler(added)
    try:
        line_for(logger).write(FIELDS, now=NOW)
    finally:
        std.removeHandler(added)
    assert json.loads(extra.getvalue())["jti"] == "j"
    assert output(logger)[0]["jti"] == "j"


def test_a_closed_stream_does_not_fail_the_request(logger: Logger) -> None:
    logger.registered_handler.stream.close()  # type: ignore[attr-defined]
    line_for(logger).write(FIELDS, now=NOW)  # no exception: the token is already minted


def test_a_none_key_is_left_out_as_powertools_does(logger: Logger) -> None:
    logger.append_keys(sub=None)
    line_for(logger).write(FIELDS, now=NOW)
    assert "sub" not in output(logger)[0]


def test_the_timestamp_has_powertools_default_format(logger: Logger) -> None:
    record = logging.LogRecord(SERVICE, logging.INFO, __file__, 1, "m", None, None)
    record.created, record.msecs = NOW, (NOW - int(NOW)) * 1000
    assert powertools_timestamp(NOW) == logger.registered_formatter.formatTime(record)
