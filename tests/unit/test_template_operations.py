"""template.yaml's operations block: the alarm topic, the alarms, the dashboard and the saved log queries.

Metric and dimension names come from the handlers and the EMF lines they really print, so an alarm or a widget
cannot drift from what the code emits.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from sam_local.lambda_runtime import LocalLambdaContext
from sam_local.template import REPO_ROOT, Tag, Template
from secret_rotation import handler as rotation
from tableau_broker.entitlements import Entitlement
from tableau_broker.errors import DependencyUnavailable, NotEntitled
from tableau_broker.rotation import RotationStateError
from tableau_broker.tableau_jwt import MintedToken
from token_broker import handler as broker
from token_broker.issued_line import IssuedLine
from token_broker.service import IssuedToken

ALARM_TOPIC = Tag("If", ["HasAlarmTopicArn", [Tag("Ref", "AlarmTopicArn")], [Tag("Ref", "AlarmTopic")]])
PSEUDO_PARAMETERS = {"AWS::Region", "AWS::StackName", "AWS::AccountId", "AWS::URLSuffix"}


@pytest.fixture(scope="module")
def template() -> Template:
    return Template()


@pytest.fixture(scope="module")
def namespace(template: Template) -> str:
    return str(template.literal_global_environment()["POWERTOOLS_METRICS_NAMESPACE"])


@pytest.fixture(scope="module")
def service(template: Template) -> str:
    return str(template.literal_global_environment()["POWERTOOLS_SERVICE_NAME"])


def of_type(template: Template, kind: str) -> dict[str, dict[str, Any]]:
    return {name: r for name, r in template.doc["Resources"].items() if r["Type"] == kind}


def condition(template: Template, name: str, parameters: Mapping[str, str]) -> bool:
    """``Template.condition`` plus ``Fn::And``, which only this block uses."""
    definition = template.doc["Conditions"][name]
    if isinstance(definition, Tag) and definition.name == "And":
        return all(template.resolve(item, parameters) for item in definition.value)
    return template.condition(name, parameters)


def emitted(capsys: pytest.CaptureFixture[str], metrics: Any) -> dict[str, Any]:
    """The one EMF line ``metrics`` prints when flushed."""
    capsys.readouterr()
    metrics.flush_metrics()
    (line,) = [json.loads(text) for text in capsys.readouterr().out.splitlines() if text.startswith('{"_aws"')]
    return dict(line)


def published(emf: Mapping[str, Any]) -> set[tuple[str, str, frozenset[tuple[str, str]]]]:
    """(namespace, metric, dimensions with values) of every metric CloudWatch creates from one EMF line."""
    out = set()
    for directive in emf["_aws"]["CloudWatchMetrics"]:
        for dimension_set in directive["Dimensions"]:
            dims = frozenset((name, str(emf[name])) for name in dimension_set)
            out.update((directive["Namespace"], metric["Name"], dims) for metric in directive["Metrics"])
    return out


def alarm_metric(alarm: Mapping[str, Any]) -> tuple[str, str, frozenset[tuple[str, str]]]:
    props = alarm["Properties"]
    dims = frozenset((d["Name"], d["Value"]) for d in props["Dimensions"])
    return props["Namespace"], props["MetricName"], dims


# --- The topic -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("topic_arn", "email", "creates_topic", "subscribes"),
    [
        ("", "", True, False),
        ("", "oncall@example.com", True, True),
        ("arn:aws:sns:us-east-1:123456789012:oncall", "", False, False),
        ("arn:aws:sns:us-east-1:123456789012:oncall", "oncall@example.com", False, False),
    ],
)
def test_a_topic_with_an_email_subscription_is_created_only_without_a_given_arn(
    template: Template, topic_arn: str, email: str, creates_topic: bool, subscribes: bool
) -> None:
    parameters = {"AlarmTopicArn": topic_arn, "AlarmEmail": email}
    assert template.resource("AlarmTopic")["Condition"] == "CreateAlarmTopic"
    assert condition(template, "CreateAlarmTopic", parameters) is creates_topic
    subscription = template.resource("AlarmEmailSubscription")
    assert condition(template, subscription["Condition"], parameters) is subscribes
    assert subscription["Properties"] == {
        "TopicArn": Tag("Ref", "AlarmTopic"),
        "Protocol": "email",
        "Endpoint": Tag("Ref", "AlarmEmail"),
    }
    # Every alarm notifies the given topic, else the stack's own one
    refs = {**parameters, "AlarmTopic": "stack-topic"}
    expected = [topic_arn] if topic_arn else ["stack-topic"]
    for alarm in of_type(template, "AWS::CloudWatch::Alarm").values():
        for actions in ("AlarmActions", "OKActions"):
            assert template.resolve(alarm["Properties"][actions], refs) == expected
    output = template.doc["Outputs"]["AlarmNotificationTopicArn"]["Value"]
    assert template.resolve(output, refs) == expected[0]


def test_the_topic_parameters_accept_an_arn_or_an_address_or_nothing(template: Template) -> None:
    parameters = template.doc["Parameters"]
    arn = re.compile(parameters["AlarmTopicArn"]["AllowedPattern"])
    email = re.compile(parameters["AlarmEmail"]["AllowedPattern"])
    assert arn.fullmatch("") and arn.fullmatch("arn:aws:sns:eu-west-1:123456789012:oncall-alerts")
    assert not arn.fullmatch("arn:aws:sqs:eu-west-1:123456789012:queue") and not arn.fullmatch("oncall")
    assert email.fullmatch("") and email.fullmatch("oncall@example.com")
    assert not email.fullmatch("oncall") and not email.fullmatch("a b@example.com")


# --- Alarms ----------------------------------------------------------------------------------------------------


def test_alarms_watch_rotation_errors_dependencies_broker_errors_throttles_5xx_and_p99(
    template: Template, namespace: str, service: str
) -> None:
    alarms = {alarm_metric(a) for a in of_type(template, "AWS::CloudWatch::Alarm").values()}
    assert alarms == {
        ("AWS/Lambda", "Errors", frozenset({("FunctionName", Tag("Ref", "RotationFunction"))})),
        ("AWS/Lambda", "Errors", frozenset({("FunctionName", Tag("Ref", "BrokerFunction"))})),
        ("AWS/Lambda", "Throttles", frozenset({("FunctionName", Tag("Ref", "BrokerFunction"))})),
        (namespace, broker.DEPENDENCY_FAILURE, frozenset({("service", service)})),
        ("AWS/ApiGateway", "5xx", frozenset({("ApiId", Tag("Ref", "HttpApi"))})),
        ("AWS/ApiGateway", "Latency", frozenset({("ApiId", Tag("Ref", "HttpApi"))})),
    }
    latency = template.properties("ApiLatencyP99Alarm")
    assert latency["ExtendedStatistic"] == "p99" and "Statistic" not in latency
    for alarm in of_type(template, "AWS::CloudWatch::Alarm").values():
        assert alarm["Properties"]["TreatMissingData"] == "notBreaching"  # no traffic is not an incident
        assert "Operating in production" in alarm["Properties"]["AlarmDescription"]


@pytest.mark.parametrize(
    "error",
    [
        DependencyUnavailable("dynamodb_timeout", dependency="dynamodb"),
        DependencyUnavailable("secretsmanager_throttled", dependency="secretsmanager"),
        DependencyUnavailable("jwks_unreachable", dependency="cognito_jwks"),
    ],
    ids=lambda e: e.dependency,
)
def test_one_dependency_failure_alarm_sees_a_failure_of_any_dependency(
    template: Template, capsys: pytest.CaptureFixture[str], error: DependencyUnavailable
) -> None:
    # Given the broker records a denial caused by one dependency
    broker._record_denial(error)
    emf = emitted(capsys, broker.metrics)

    # Then the alarm's single dimension set is one CloudWatch publishes, whatever the dependency
    assert alarm_metric(template.resource("BrokerDependencyFailureAlarm")) in published(emf)
    # and the per-dependency series the dashboard searches exists too
    service = emf["service"]
    dims = frozenset({("service", service), (broker.DEPENDENCY, error.dependency)})
    assert (emf["_aws"]["CloudWatchMetrics"][0]["Namespace"], broker.DEPENDENCY_FAILURE, dims) in published(emf)


def test_a_denial_for_another_reason_is_no_dependency_failure(
    template: Template, capsys: pytest.CaptureFixture[str], namespace: str, service: str
) -> None:
    broker._record_denial(NotEntitled("no entitlement record"))
    metrics = published(emitted(capsys, broker.metrics))
    assert {name for _, name, _ in metrics} == {broker.TOKEN_DENIED}
    assert metrics == {
        (namespace, broker.TOKEN_DENIED, frozenset({("service", service)})),
        (namespace, broker.TOKEN_DENIED, frozenset({("service", service), (broker.REASON, "not_entitled")})),
    }


# --- Rotation outcome metrics ----------------------------------------------------------------------------------


def test_a_rotation_step_that_fails_is_counted_by_step(
    capsys: pytest.CaptureFixture[str], namespace: str, service: str
) -> None:
    # Given an event whose step is known but which names no secret: parse_event refuses it before any AWS call
    event = {"Step": "setSecret", "ClientRequestToken": "t"}
    capsys.readouterr()
    with pytest.raises(RotationStateError):
        rotation.lambda_handler(event, LocalLambdaContext(function_name="RotationFunction"))
    (line,) = [json.loads(t) for t in capsys.readouterr().out.splitlines() if t.startswith('{"_aws"')]
    assert published(line) == {
        (namespace, rotation.ROTATION_STEP_FAILED, frozenset({("service", service)})),
        (namespace, rotation.ROTATION_STEP_FAILED, frozenset({("service", service), (rotation.STEP, "setSecret")})),
    }


def test_an_unknown_step_never_becomes_a_dimension_value(
    capsys: pytest.CaptureFixture[str], namespace: str, service: str
) -> None:
    capsys.readouterr()
    with pytest.raises(RotationStateError):
        rotation.lambda_handler({"Step": "dropTables"}, LocalLambdaContext(function_name="RotationFunction"))
    (line,) = [json.loads(t) for t in capsys.readouterr().out.splitlines() if t.startswith('{"_aws"')]
    assert published(line) == {(namespace, rotation.ROTATION_STEP_FAILED, frozenset({("service", service)}))}


def test_a_step_that_succeeds_is_counted_by_step(
    capsys: pytest.CaptureFixture[str], namespace: str, service: str
) -> None:
    rotation.record_outcome({"Step": "finishSecret"}, succeeded=True)
    assert published(emitted(capsys, rotation.metrics)) == {
        (namespace, rotation.ROTATION_STEP_SUCCEEDED, frozenset({("service", service)})),
        (
            namespace,
            rotation.ROTATION_STEP_SUCCEEDED,
            frozenset({("service", service), (rotation.STEP, "finishSecret")}),
        ),
    }


# --- Dashboard -------------------------------------------------------------------------------------------------


def dashboard_widgets(template: Template) -> dict[str, dict[str, Any]]:
    body = template.properties("OperationsDashboard")["DashboardBody"]
    assert isinstance(body, Tag) and body.name == "Sub"
    names = set(re.findall(r"\$\{([\w.:]+)\}", body.value))
    resources = set(template.doc["Resources"])
    assert names <= PSEUDO_PARAMETERS | resources | {f"{r}.Arn" for r in resources}, names
    refs = {name: f"<{name}>" for name in names}
    parsed = json.loads(template.resolve(body, refs))
    return {w["properties"]["title"]: w for w in parsed["widgets"]}


def search_schema(expression: str) -> tuple[str, list[str], str]:
    match = re.fullmatch(r"SEARCH\('\{([^}]+)\} service=\"[^\"]+\" MetricName=\"(\w+)\"', 'Sum', \d+\)", expression)
    assert match, expression
    namespace, *dimensions = match.group(1).split(",")
    return namespace, dimensions, match.group(2)


def test_dashboard_shows_tokens_denials_dependencies_latency_and_rotations(
    template: Template, namespace: str, service: str
) -> None:
    widgets = dashboard_widgets(template)

    totals = widgets["Tokens issued and denied"]["properties"]["metrics"]
    assert totals == [
        [namespace, broker.TOKENS_ISSUED, "service", service],
        [namespace, broker.TOKEN_DENIED, "service", service],
    ]
    searches = {
        title: [search_schema(m[0]["expression"]) for m in widgets[title]["properties"]["metrics"]]
        for title in ("Denials by reason", "Dependency failures by dependency", "Rotation outcomes by step")
    }
    assert searches == {
        "Denials by reason": [(namespace, ["service", broker.REASON], broker.TOKEN_DENIED)],
        "Dependency failures by dependency": [(namespace, ["service", broker.DEPENDENCY], broker.DEPENDENCY_FAILURE)],
        "Rotation outcomes by step": [
            (namespace, ["service", rotation.STEP], rotation.ROTATION_STEP_SUCCEEDED),
            (namespace, ["service", rotation.STEP], rotation.ROTATION_STEP_FAILED),
        ],
    }
    for widget in widgets.values():
        for metric in widget["properties"].get("metrics", []):
            if "expression" in metric[0]:
                assert f'service=\\"{service}\\"' not in metric[0]["expression"]  # a real quote, not an escape
                assert f'service="{service}"' in metric[0]["expression"]
    latency = widgets["Latency (ms)"]["properties"]["metrics"]
    assert {(m[0], m[1], m[3], m[4]["stat"]) for m in latency} == {
        ("AWS/ApiGateway", "Latency", "<HttpApi>", "p50"),
        ("AWS/ApiGateway", "Latency", "<HttpApi>", "p99"),
        ("AWS/Lambda", "Duration", "<BrokerFunction>", "p99"),
    }
    alarms = widgets["Alarms"]["properties"]["alarms"]
    assert sorted(alarms) == sorted(f"<{n}.Arn>" for n in of_type(template, "AWS::CloudWatch::Alarm"))


def test_dashboard_searches_match_dimension_sets_the_code_emits(capsys: pytest.CaptureFixture[str]) -> None:
    broker._record_denial(DependencyUnavailable("dynamodb_timeout", dependency="dynamodb"))
    broker_sets = emitted(capsys, broker.metrics)["_aws"]["CloudWatchMetrics"][0]["Dimensions"]
    rotation.record_outcome({"Step": "createSecret"}, succeeded=False)
    rotation_sets = emitted(capsys, rotation.metrics)["_aws"]["CloudWatchMetrics"][0]["Dimensions"]
    assert ["service", broker.REASON] in broker_sets and ["service", broker.DEPENDENCY] in broker_sets
    assert ["service", rotation.STEP] in rotation_sets


# --- Saved Logs Insights queries -------------------------------------------------------------------------------


def issued_line_fields() -> set[str]:
    """Keys of a real ``token issued`` line, rendered as the handler writes it."""
    entitlement = Entitlement(
        "sub-1", "acme", "alice", "https://t.example", "s", None, ("tableau:views:embed",), {}, None
    )
    minted = MintedToken("t", "jti-1", 0, 300, ("tableau:views:embed",))
    issued = IssuedToken(minted=minted, entitlement=entitlement, kid="kid-1")
    line = IssuedLine.for_logger(broker.logger, namespace="Ns", metric_name=broker.TOKENS_ISSUED, location="l")
    rendered = line.render(broker.issued_fields(issued), now=0)
    assert rendered is not None
    document = json.loads(rendered)
    assert document["message"] == "token issued"
    return set(document)


def logged_fields(message: str) -> set[str]:
    """Keys the broker's handler logs with ``message`` (its ``extra`` dict literal, and keys added to it later)."""
    if message == "token issued":
        return issued_line_fields()
    source = (REPO_ROOT / Path("functions/token_broker/token_broker/handler.py")).read_text(encoding="utf-8")
    tree = ast.parse(source)
    fields: set[str] = set()
    for node in ast.walk(tree):
        first = node.args[0] if isinstance(node, ast.Call) and node.args else None
        if isinstance(node, ast.Call) and isinstance(first, ast.Constant) and first.value == message:
            extra = next(k.value for k in node.keywords if k.arg == "extra")
            if isinstance(extra, ast.Dict):
                fields |= {k.value for k in extra.keys if isinstance(k, ast.Constant)}
            elif isinstance(extra, ast.Name):
                fields |= names_assigned_to(tree, extra.id)
    return fields


def names_assigned_to(tree: ast.AST, variable: str) -> set[str]:
    fields: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.AnnAssign | ast.Assign) and isinstance(node.value, ast.Dict):
            targets = [node.target] if isinstance(node, ast.AnnAssign) else node.targets
            if any(isinstance(t, ast.Name) and t.id == variable for t in targets):
                fields |= {k.value for k in node.value.keys if isinstance(k, ast.Constant)}
        if (
            isinstance(node, ast.Subscript)
            and isinstance(node.ctx, ast.Store)
            and isinstance(node.value, ast.Name)
            and node.value.id == variable
            and isinstance(node.slice, ast.Constant)
        ):
            fields.add(node.slice.value)
    return fields


def query_fields(query: str) -> set[str]:
    words = set(re.findall(r"\b([a-z_]+)\b", re.sub(r'"[^"]*"|@\w+', "", query)))
    keywords = {"fields", "filter", "stats", "count", "as", "by", "sort", "desc", "asc", "and", "or", "tokens"}
    return words - keywords - {"denials", "message"}


@pytest.mark.parametrize(
    ("resource", "message"),
    [
        ("TokensIssuedPerTenantQuery", "token issued"),
        ("DenialsByReasonQuery", "token denied"),
        ("TokensIssuedToOneUserQuery", "token issued"),
        ("TokensIssuedToOneTenantQuery", "token issued"),
    ],
)
def test_saved_queries_read_the_broker_log_group_and_fields_it_logs(
    template: Template, resource: str, message: str
) -> None:
    props = template.properties(resource)
    assert template.resource(resource)["Type"] == "AWS::Logs::QueryDefinition"
    assert props["LogGroupNames"] == [Tag("Ref", "BrokerLogGroup")]
    assert template.properties("BrokerFunction")["LoggingConfig"]["LogGroup"] == Tag("Ref", "BrokerLogGroup")
    assert f'filter message = "{message}"' in props["QueryString"]
    # sub is appended to every line of a request once the caller is known
    assert query_fields(props["QueryString"]) <= logged_fields(message) | {"sub"}, props["QueryString"]


def test_the_per_user_and_per_tenant_queries_list_every_issued_token(template: Template) -> None:
    for resource, field in (
        ("TokensIssuedToOneUserQuery", "tableau_username"),
        ("TokensIssuedToOneTenantQuery", "tenant"),
    ):
        query = template.properties(resource)["QueryString"]
        assert re.search(rf'and {field} = "REPLACE_WITH_[A-Z_]+"', query), query
        assert "jti" in query and "kid" in query and "stats" not in query  # each token, not a count
    assert "stats count(*) as tokens by tenant" in template.properties("TokensIssuedPerTenantQuery")["QueryString"]
    assert "by status, code, reason, dependency" in template.properties("DenialsByReasonQuery")["QueryString"]
