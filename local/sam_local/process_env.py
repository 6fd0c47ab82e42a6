"""The one place the local tooling writes ``os.environ``.

The product's handlers read their configuration from ``os.environ`` by design (as in Lambda), when their
modules are imported and on each invocation, and boto3 reads the AWS endpoint and credentials from it. A
process that runs functions locally therefore configures itself once, before it imports a handler or creates a
boto3 client, with :func:`configure_process`. This is a one-time setup of a process that runs only the local
stack (``python -m local_stack``) or only a rotation (``python -m local_stack.rotate``), not a per-invocation
swap: the local HTTP API invokes the handler from many request threads at once, and an environment swapped
around each call would leak between concurrent invocations.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Final

#: Variables that would point boto3 at the developer's real AWS account; removed whenever a process is configured.
REAL_AWS_VARIABLES: Final = ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN")


def local_aws_environment(endpoint: str, region: str) -> dict[str, str]:
    """Every boto3 client talks to ``endpoint`` (moto) with dummy keys, whatever the shell has configured."""
    return {
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",  # nosec B105  # moto's dummy key
        "AWS_DEFAULT_REGION": region,
        "AWS_REGION": region,
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    }


def configure_process(environment: Mapping[str, str]) -> None:
    """Drop the real-AWS variables and set ``environment`` in this process's ``os.environ``."""
    for name in REAL_AWS_VARIABLES:
        os.environ.pop(name, None)
    os.environ.update(environment)
