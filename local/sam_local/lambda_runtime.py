"""Runs a function from template.yaml in-process, the way the Lambda runtime would call it."""

from __future__ import annotations

import importlib
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

Handler = Callable[[dict[str, Any], Any], Any]


@dataclass
class LocalLambdaContext:
    function_name: str
    memory_limit_in_mb: int = 512
    function_version: str = "$LATEST"
    invoked_function_arn: str = ""
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    log_group_name: str = ""
    log_stream_name: str = "local"

    def get_remaining_time_in_millis(self) -> int:
        return 10_000


def load_handler(handler_path: str) -> Handler:
    """``package.module.function`` as in the template's ``Handler`` property."""
    module_name, _, function_name = handler_path.rpartition(".")
    module = importlib.import_module(module_name)
    handler: Handler = getattr(module, function_name)
    return handler


class LocalFunction:
    def __init__(self, logical_id: str, handler_path: str, memory_mb: int = 512) -> None:
        self.logical_id = logical_id
        self.handler_path = handler_path
        self.memory_mb = memory_mb
        self._handler: Handler | None = None

    def invoke(self, event: dict[str, Any]) -> Any:
        if self._handler is None:
            self._handler = load_handler(self.handler_path)
        context = LocalLambdaContext(
            function_name=self.logical_id,
            memory_limit_in_mb=self.memory_mb,
            invoked_function_arn=f"arn:aws:lambda:us-east-1:123456789012:function:{self.logical_id}",
        )
        return self._handler(event, context)


def route_logs_to_file(logger: Any, log_file: Path) -> None:
    """A function's Powertools log goes to ``log_file`` in its usual JSON, not to the console."""
    handler = logging.FileHandler(log_file, encoding="utf-8")
    handler.setFormatter(logger.registered_formatter)
    std_logger = logging.getLogger(logger.service)
    for existing in list(std_logger.handlers):
        std_logger.removeHandler(existing)
    std_logger.addHandler(handler)
