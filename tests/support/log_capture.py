"""Capture every log line the broker writes, formatted exactly as in Lambda (Powertools JSON)."""

from __future__ import annotations

import contextlib
import io
import logging
from collections.abc import Iterator


@contextlib.contextmanager
def captured_logs(level: int = logging.INFO) -> Iterator[io.StringIO]:
    from token_broker.handler import logger as broker_logger

    buffer = io.StringIO()
    ours = logging.StreamHandler(buffer)
    ours.setFormatter(broker_logger.registered_formatter)
    everyone = logging.StreamHandler(buffer)  # other libraries (botocore, urllib3, PyJWT) via the root logger
    everyone.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
    root = logging.getLogger()
    previous_level = root.level
    broker_logger._logger.addHandler(ours)
    root.addHandler(everyone)
    root.setLevel(level)
    try:
        yield buffer
    finally:
        broker_logger._logger.removeHandler(ours)
        root.removeHandler(everyone)
        root.setLevel(previous_level)
