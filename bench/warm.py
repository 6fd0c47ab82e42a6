"""Warm latency: the real handler against AWS over the network (the stub, with modelled in-region latency) beside
a naive baseline and the floor, and the handler's own cost with AWS answered in-process beside a bare HS256
encode."""

from __future__ import annotations

import functools
import json
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

import boto3
import jwt

from bench import world
from bench.aws_stub import AwsStub
from bench.broker import fresh_broker
from bench.stats import Summary, ratio

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_secretsmanager import SecretsManagerClient

WARMUP = 20


@dataclass(frozen=True)
class NetworkResult:
    dynamodb_ms: float
    secretsmanager_ms: float
    broker: Summary  # milliseconds
    naive: Summary
    floor: Summary


@dataclass(frozen=True)
class OverheadResult:
    handler: Summary  # microseconds
    encode: Summary

    @property
    def ratio(self) -> float:
        return ratio(self.handler.p50, self.encode.p50)


def token_payload(username: str, tenant: str, now: float) -> dict[str, Any]:
    """What a Tableau connected-app token carries (the claims the broker mints), with a fresh jti."""
    return {
        "iss": world.SECRET["client_id"],
        "sub": username,
        "aud": "tableau",
        "exp": int(now) + 300,
        "iat": int(now),
        "jti": str(uuid.uuid4()),
        "scp": [world.SCOPE],
        "tenant": tenant,
    }


def encode(payload: dict[str, Any], secret: dict[str, str]) -> str:
    headers = {"kid": secret["secret_id"], "iss": secret["client_id"]}
    return jwt.encode(payload, secret["secret_value"], algorithm="HS256", headers=headers)


def naive_token(dynamodb: Any, secretsmanager: Any, secret_arn: str, sub: str) -> str:
    """Tableau's sample plus plain boto3: read the secret and both records on every call, then sign."""
    secret = json.loads(secretsmanager.get_secret_value(SecretId=secret_arn)["SecretString"])
    user = dynamodb.get_item(TableName=world.TABLE, Key={"pk": {"S": f"USER#{sub}"}}, ConsistentRead=True)["Item"]
    tenant_id = user["tenant_id"]["S"]
    tenant = dynamodb.get_item(TableName=world.TABLE, Key={"pk": {"S": f"TENANT#{tenant_id}"}}, ConsistentRead=True)
    if not (user["enabled"]["BOOL"] and tenant["Item"]["enabled"]["BOOL"]):
        raise RuntimeError("the bench's users and tenants are all enabled")
    return encode(token_payload(user["tableau_username"]["S"], tenant_id, time.time()), secret)


def floor_token(dynamodb: Any, sub: str) -> str:
    """The least any broker must do: one read of the caller's record, then sign (secret already in memory)."""
    user = dynamodb.get_item(TableName=world.TABLE, Key={"pk": {"S": f"USER#{sub}"}}, ConsistentRead=True)["Item"]
    return encode(token_payload(user["tableau_username"]["S"], user["tenant_id"]["S"], time.time()), world.SECRET)


def plain_clients() -> tuple[Any, Any]:
    """boto3 clients as a naive function would build them (AWS_ENDPOINT_URL points them at the stub)."""
    session = boto3.session.Session()
    return session.client("dynamodb"), session.client("secretsmanager")


def _timed_ms(fn: Callable[[], object]) -> float:
    started = time.perf_counter()
    fn()
    return (time.perf_counter() - started) * 1000


def network(stub: AwsStub, secret_arn: str, iterations: int, dynamodb_ms: float, secretsmanager_ms: float,
            progress: Callable[[str], None]) -> NetworkResult:  # fmt: skip
    """The three paths interleaved call by call, so drift on a shared machine touches each alike."""
    people = world.users()
    stub.set_latency(dynamodb_ms=dynamodb_ms, secretsmanager_ms=secretsmanager_ms)
    env = world.broker_environment(secret_arn, stub.url)
    samples: dict[str, list[float]] = {"broker": [], "naive": [], "floor": []}
    with world.environment(env), fresh_broker() as broker:
        dynamodb, secretsmanager = plain_clients()
        events = [world.event(u, time.time()) for u in people]
        paths: dict[str, Callable[[int], object]] = {
            "broker": lambda i: broker(events[i % len(events)]),
            "naive": lambda i: naive_token(dynamodb, secretsmanager, secret_arn, people[i % len(people)].sub),
            "floor": lambda i: floor_token(dynamodb, people[i % len(people)].sub),
        }
        for i in range(WARMUP):  # connections opened, secret cached, code paths warm
            for path in paths.values():
                path(i)
        for i in range(iterations):
            for name, path in paths.items():
                samples[name].append(_timed_ms(functools.partial(path, i)))
            if (i + 1) % max(1, iterations // 4) == 0:
                progress(f"warm path over the network: {i + 1}/{iterations}")
    return NetworkResult(
        dynamodb_ms=dynamodb_ms,
        secretsmanager_ms=secretsmanager_ms,
        broker=Summary.of(samples["broker"]),
        naive=Summary.of(samples["naive"]),
        floor=Summary.of(samples["floor"]),
    )


class MemoryDynamoDB:
    """GetItem (and BatchGetItem) answered from a dict: no serialisation, no network."""

    def __init__(self, records: list[dict[str, Any]]) -> None:
        self._items = {item["pk"]["S"]: item for item in records}

    def get_item(self, *, TableName: str, Key: dict[str, Any], **_: Any) -> dict[str, Any]:
        item = self._items.get(Key["pk"]["S"])
        return {"Item": item} if item is not None else {}

    def batch_get_item(self, *, RequestItems: dict[str, Any], **_: Any) -> dict[str, Any]:
        return {
            "Responses": {
                table: [self._items[k["pk"]["S"]] for k in spec["Keys"] if k["pk"]["S"] in self._items]
                for table, spec in RequestItems.items()
            },
            "UnprocessedKeys": {},
        }


class MemorySecretsManager:
    def __init__(self, secret_arn: str) -> None:
        self._arn = secret_arn

    def get_secret_value(self, *, SecretId: str, **_: Any) -> dict[str, Any]:
        if SecretId != self._arn:
            raise KeyError(SecretId)
        return {"ARN": self._arn, "SecretString": json.dumps(world.SECRET), "VersionStages": ["AWSCURRENT"]}


@contextmanager
def in_process_clients(dynamodb: object, secretsmanager: object) -> Iterator[None]:
    """The broker's client factories (tableau_broker.aws) hand out these objects while the block runs."""
    from tableau_broker import aws

    saved = aws.dynamodb_client, aws.secretsmanager_client
    aws.dynamodb_client = functools.lru_cache(maxsize=1)(lambda: cast("DynamoDBClient", dynamodb))
    aws.secretsmanager_client = functools.lru_cache(maxsize=1)(lambda: cast("SecretsManagerClient", secretsmanager))
    try:
        yield
    finally:
        aws.dynamodb_client, aws.secretsmanager_client = saved


def _timed_us(fn: Callable[[], object], iterations: int) -> list[float]:
    for _ in range(min(WARMUP * 10, iterations)):
        fn()
    samples = []
    for _ in range(iterations):
        started = time.perf_counter_ns()
        fn()
        samples.append((time.perf_counter_ns() - started) / 1000)
    return samples


def overhead(iterations: int) -> OverheadResult:
    """The whole warm handler with DynamoDB and Secrets Manager answered in-process, against PyJWT's HS256
    encode of a comparable payload: what the broker's own code costs per token."""
    people = world.users()
    secret_arn = f"arn:aws:secretsmanager:{world.REGION}:123456789012:secret:{world.SECRET_NAME}-AbCdEf"
    env = world.broker_environment(secret_arn, "http://127.0.0.1:9")  # never reached: the clients are in-process
    event = world.event(people[0], time.time())
    payload = token_payload(people[0].tableau_username, people[0].tenant, time.time())
    encode_samples = _timed_us(lambda: encode(payload, world.SECRET), iterations)
    with (
        world.environment(env),
        in_process_clients(MemoryDynamoDB(world.items(people)), MemorySecretsManager(secret_arn)),
        fresh_broker() as broker,
    ):
        handler_samples = _timed_us(lambda: broker(event), iterations)
    return OverheadResult(handler=Summary.of(handler_samples), encode=Summary.of(encode_samples))
