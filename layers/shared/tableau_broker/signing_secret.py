"""The connected-app signing secret: its stored shape, parsing and a per-container cache.

Stored in Secrets Manager as one JSON object per connected app::

    {"client_id": "...", "secret_id": "...", "secret_value": "..."}

``secret_id`` is Tableau's ID of the connected-app secret (the JWT ``kid``), a stored field operators already
have; a Secrets Manager secret is named ``secret_arn`` throughout (an ARN or a name).

The broker reads AWSCURRENT only. The cache is our own, keyed by the secret's ARN and AWSCURRENT, because
Powertools' ``get_secret`` caches by name alone and would mix stages.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from tableau_broker.clock import Clock, system_clock
from tableau_broker.errors import MalformedSecret
from tableau_broker.stored_json import stored_json_object

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager import SecretsManagerClient

SECRET_FIELDS = ("client_id", "secret_id", "secret_value")
MIN_SECRET_VALUE_LENGTH = 16  # HS256 with a short key is brute-forceable; Tableau's values are ~44 chars.


@dataclass(frozen=True)
class ConnectedAppSecret:
    client_id: str
    secret_id: str  # Tableau's secret ID: the JWT ``kid``
    secret_value: str = field(repr=False)

    def to_json(self) -> str:
        return json.dumps({"client_id": self.client_id, "secret_id": self.secret_id, "secret_value": self.secret_value})


def parse_connected_app_secret(raw: str | None) -> ConnectedAppSecret:
    """Parse and validate the stored JSON. Errors name the problem, never the value."""
    data = stored_json_object(raw, error=MalformedSecret, what="secret")
    missing = [name for name in SECRET_FIELDS if not isinstance(data.get(name), str) or not data[name].strip()]
    if missing:
        raise MalformedSecret(f"secret lacks non-empty string field(s): {', '.join(missing)}")
    unknown = sorted(set(data) - set(SECRET_FIELDS))
    if unknown:
        raise MalformedSecret(f"secret has unexpected field(s): {', '.join(unknown)}")
    if len(data["secret_value"]) < MIN_SECRET_VALUE_LENGTH:
        raise MalformedSecret(f"secret_value is shorter than {MIN_SECRET_VALUE_LENGTH} characters")
    return ConnectedAppSecret(
        client_id=data["client_id"].strip(),
        secret_id=data["secret_id"].strip(),
        secret_value=data["secret_value"],
    )


def read_connected_app_secret(
    client: SecretsManagerClient, secret_arn: str, *, stage: str = "AWSCURRENT", version_id: str | None = None
) -> ConnectedAppSecret:
    """One uncached read of a stage (or a version). Callers map botocore errors."""
    if version_id is not None:
        response = client.get_secret_value(SecretId=secret_arn, VersionId=version_id, VersionStage=stage)
    else:
        response = client.get_secret_value(SecretId=secret_arn, VersionStage=stage)
    return parse_connected_app_secret(response.get("SecretString"))


class SecretCache:
    """AWSCURRENT values per secret, each kept for ``ttl_seconds`` (0 disables caching)."""

    def __init__(self, ttl_seconds: int, clock: Clock = system_clock) -> None:
        self._ttl = ttl_seconds
        self._clock = clock
        self._entries: dict[str, tuple[float, ConnectedAppSecret]] = {}
        self._lock = threading.Lock()

    def get(self, client: SecretsManagerClient, secret_arn: str) -> ConnectedAppSecret:
        now = self._clock()
        with self._lock:
            entry = self._entries.get(secret_arn)
        if entry is not None and now < entry[0]:
            return entry[1]
        value = read_connected_app_secret(client, secret_arn, stage="AWSCURRENT")
        with self._lock:
            self._entries[secret_arn] = (now + self._ttl, value)
        return value

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
