from __future__ import annotations

import json
from typing import Any

import pytest

from tableau_broker.errors import MalformedSecret
from tableau_broker.signing_secret import ConnectedAppSecret, SecretCache, parse_connected_app_secret

VALUE = "v" * 40
GOOD = {"client_id": "c", "secret_id": "s", "secret_value": VALUE}


def test_round_trip_and_repr_hides_the_value() -> None:
    secret = parse_connected_app_secret(json.dumps(GOOD))
    assert secret == ConnectedAppSecret("c", "s", VALUE)
    assert VALUE not in repr(secret)
    assert parse_connected_app_secret(secret.to_json()) == secret


@pytest.mark.parametrize(
    "raw",
    [
        None,
        "not json",
        "[]",
        json.dumps({**GOOD, "secret_id": ""}),
        json.dumps({k: v for k, v in GOOD.items() if k != "client_id"}),
        json.dumps({**GOOD, "secret_value": "short"}),
        json.dumps({**GOOD, "extra": 1}),
        json.dumps({**GOOD, "secret_id": 5}),
    ],
)
def test_malformed_secrets_never_echo_the_value(raw: str | None) -> None:
    with pytest.raises(MalformedSecret) as info:
        parse_connected_app_secret(raw)
    assert VALUE not in str(info.value) and "short" not in str(info.value).replace("shorter", "")


class FakeSecretsManager:
    def __init__(self) -> None:
        self.value = GOOD
        self.calls: list[dict[str, Any]] = []

    def get_secret_value(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(kwargs)
        return {"SecretString": json.dumps(self.value)}


def test_cache_reads_awscurrent_once_per_ttl() -> None:
    now = [1000.0]
    client = FakeSecretsManager()
    cache = SecretCache(300, clock=lambda: now[0])
    assert cache.get(client, "arn").secret_id == "s"  # type: ignore[arg-type]
    client.value = {**GOOD, "secret_id": "s2"}
    now[0] += 299
    assert cache.get(client, "arn").secret_id == "s"  # type: ignore[arg-type]
    now[0] += 2
    assert cache.get(client, "arn").secret_id == "s2"  # type: ignore[arg-type]
    assert [c["VersionStage"] for c in client.calls] == ["AWSCURRENT", "AWSCURRENT"]
