"""Which library loggers may never log below WARNING, whatever level Lambda or an operator sets.

With Lambda's ``ApplicationLogLevel=DEBUG`` the runtime puts the root logger at DEBUG, and botocore at DEBUG logs
every request and response body: a GetSecretValue's ``SecretString`` (the connected-app secret, the Tableau PAT)
and a PutSecretValue's new secret would reach CloudWatch. These loggers are pinned at WARNING in both functions;
the functions' own Powertools loggers still follow ``POWERTOOLS_LOG_LEVEL`` and never log values.
"""

from __future__ import annotations

import logging

# botocore/boto3/s3transfer: request and response bodies and signed headers; urllib3: request lines and
# connection details.
BODY_LOGGING_LIBRARIES = ("botocore", "boto3", "s3transfer", "urllib3")


def pin_library_log_levels(level: int = logging.WARNING) -> None:
    """Idempotent; called when each function's handler module is imported."""
    for name in BODY_LOGGING_LIBRARIES:
        logging.getLogger(name).setLevel(level)
