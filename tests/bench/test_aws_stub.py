"""The AWS stand-in answers as AWS's JSON protocol does, delays each call by its service's latency and counts
every request at the wire, the ones it refuses too."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from bench.aws_stub import AwsStub


@pytest.fixture
def stub() -> Iterator[AwsStub]:
    with AwsStub(dynamodb_ms=0, secretsmanager_ms=0) as running:
        running.put_item("table", {"pk": {"S": "USER#a"}, "name": {"S": "alice"}})
        yield running


def client(stub: AwsStub, service: str) -> object:
    return boto3.session.Session().client(
        service,  # type: ignore[call-overload]
        endpoint_url=stub.url,
        region_name="us-east-1",
        aws_access_key_id="bench",
        aws_secret_access_key="bench",
        config=Config(retries={"total_max_attempts": 1}),
    )


def test_get_item_honours_the_key(stub: AwsStub) -> None:
    dynamodb = client(stub, "dynamodb")
    found = dynamodb.get_item(TableName="table", Key={"pk": {"S": "USER#a"}})  # type: ignore[attr-defined]
    missing = dynamodb.get_item(TableName="table", Key={"pk": {"S": "USER#b"}})  # type: ignore[attr-defined]
    assert found["Item"] == {"pk": {"S": "USER#a"}, "name": {"S": "alice"}}
    assert "Item" not in missing
    assert stub.counts() == {("dynamodb", "GetItem"): 2}


def test_get_secret_value_by_name_or_arn(stub: AwsStub) -> None:
    arn = stub.put_secret("app/secret", json.dumps({"k": "v"}))
    secrets = client(stub, "secretsmanager")
    by_arn = secrets.get_secret_value(SecretId=arn)  # type: ignore[attr-defined]
    by_name = secrets.get_secret_value(SecretId="app/secret", VersionStage="AWSCURRENT")  # type: ignore[attr-defined]
    assert by_arn["SecretString"] == by_name["SecretString"] == '{"k": "v"}'
    with pytest.raises(ClientError) as refused:
        secrets.get_secret_value(SecretId=arn, VersionStage="AWSPREVIOUS")  # type: ignore[attr-defined]
    assert refused.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert stub.counts() == {("secretsmanager", "GetSecretValue"): 3}


def test_anything_else_is_an_aws_shaped_400_and_is_counted(stub: AwsStub) -> None:
    dynamodb = client(stub, "dynamodb")
    with pytest.raises(ClientError) as refused:
        dynamodb.describe_table(TableName="table")  # type: ignore[attr-defined]
    assert refused.value.response["Error"]["Code"] == "UnknownOperationException"
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    with pytest.raises(ClientError) as wrong_key:
        dynamodb.get_item(TableName="table", Key={"id": {"S": "x"}})  # type: ignore[attr-defined]
    assert wrong_key.value.response["Error"]["Code"] == "ValidationException"
    assert stub.counts() == {("dynamodb", "DescribeTable"): 1, ("dynamodb", "GetItem"): 1}


def test_each_call_waits_for_its_services_latency(stub: AwsStub) -> None:
    stub.set_latency(dynamodb_ms=60, secretsmanager_ms=0)
    dynamodb = client(stub, "dynamodb")
    started = time.perf_counter()
    dynamodb.get_item(TableName="table", Key={"pk": {"S": "USER#a"}})  # type: ignore[attr-defined]
    assert time.perf_counter() - started >= 0.060
