"""Suite-wide safety: fake AWS credentials, no real endpoints, tracing off."""

from __future__ import annotations

import os

import pytest

from sam_local.template import Template

# Set before any test module imports boto3 or Powertools: nothing here may reach a real AWS account.
os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SECURITY_TOKEN": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "POWERTOOLS_DEV": "false",
    }
)
# Powertools reads these when the handler module is imported: the same values template.yaml sets.
os.environ.update(Template().literal_global_environment())
for _name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE"):
    os.environ.pop(_name, None)


@pytest.fixture(scope="session")
def moto_server_url() -> object:
    """moto in server mode on a free loopback port, for the whole session (reset per test by users)."""
    from tests.support.moto_server import running_moto_server

    with running_moto_server() as url:
        yield url
