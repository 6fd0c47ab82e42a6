"""Hypothesis profiles and the in-process AWS the properties run against.

``quick`` (the default, for CI) keeps the module well under a minute on two cores; ``long`` runs at least 10,000
examples per property: ``HYPOTHESIS_PROFILE=long pytest tests/properties``.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest
from hypothesis import HealthCheck, settings
from moto import mock_aws

from sam_local import aws_resources
from sam_local.template import Template
from tableau_broker.signing_secret import ConnectedAppSecret
from tests.support.broker_stack import new_connected_app_secret
from tests.support.figures import record

settings.register_profile(
    "quick",
    max_examples=250,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    print_blob=True,
    database=None,  # a failure prints its reproduction blob; nothing is written into the checkout
)
settings.register_profile(
    "long",
    max_examples=10_000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    print_blob=True,
    database=None,  # a failure prints its reproduction blob; nothing is written into the checkout
)
PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "quick")
settings.load_profile(PROFILE)

POOL_ID = "us-east-1_PropErty1"
CLIENT_ID = "propertyclient0000000000001"


@dataclass
class Deployment:
    dynamodb: Any
    table: str
    secret: ConnectedAppSecret
    issuer: str
    client_id: str
    tenant_attribute: str
    examples: Counter[str] = field(default_factory=Counter)
    statuses: Counter[int] = field(default_factory=Counter)


@pytest.fixture(scope="module")
def deployment() -> Iterator[Deployment]:
    """Table and connected-app secret built from template.yaml in moto (in-process); the broker configured as the
    template configures it. The key set URL is a closed loopback port: the bearer path answers 401 or 503."""
    from token_broker import handler

    with mock_aws(), pytest.MonkeyPatch.context() as patch:
        for name in [n for n in os.environ if n.startswith("AWS_ENDPOINT_URL")]:
            patch.delenv(name)
        template = Template()
        session = boto3.session.Session(region_name="us-east-1")
        dynamodb = session.client("dynamodb")
        secrets = session.client("secretsmanager")
        table = aws_resources.create_entitlements_table(template, dynamodb, "entitlements-properties")
        secret = new_connected_app_secret()
        secret_arn = aws_resources.create_connected_app_secret(template, secrets, "tableau/properties", secret)
        env = template.function_environment(
            "BrokerFunction",
            {
                "EntitlementsTable": table,
                "ConnectedAppSecret": secret_arn,
                "UserPoolId": POOL_ID,
                "UserPoolClientIds": [CLIENT_ID],
                "AllowedOrigins": ["http://127.0.0.1"],
            },
        )
        env.update(COGNITO_JWKS_URL="http://127.0.0.1:9/.well-known/jwks.json", JWKS_TIMEOUT_SECONDS="1")
        # Each example stores a world of its own in the one table: a tenant record cached from the previous
        # example would be a tenant change within TenantCacheSeconds, which the cache's bound allows
        # (tests/unit/test_tenant_cache.py proves that bound). Here every token reads the world it was given.
        env["TENANT_CACHE_TTL_SECONDS"] = "0"
        for key, value in env.items():
            patch.setenv(key, value)
        handler.reset_runtime()
        deployed = Deployment(
            dynamodb=dynamodb,
            table=table,
            secret=secret,
            issuer=f"https://cognito-idp.us-east-1.amazonaws.com/{POOL_ID}",
            client_id=CLIENT_ID,
            tenant_attribute=handler.runtime().settings.tenant_attribute,
        )
        try:
            yield deployed
        finally:
            handler.reset_runtime()
            record(
                "properties",
                examples=sum(deployed.examples.values()),
                profile=PROFILE,
                per_property=dict(sorted(deployed.examples.items())),
                statuses={str(status): count for status, count in sorted(deployed.statuses.items())},
            )
