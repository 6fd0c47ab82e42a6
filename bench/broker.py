"""The real handler (``token_broker.handler.lambda_handler``) in this process, as a fresh container would run it,
with its log and metric lines sent to a sink instead of the terminal."""

from __future__ import annotations

import contextlib
import io
import logging
from collections.abc import Callable, Iterator
from typing import Any

from sam_local.lambda_runtime import LocalLambdaContext

Invoke = Callable[[dict[str, Any]], dict[str, Any]]


class Sink(io.TextIOBase):
    """Discards what it is given (the EMF and JSON log lines of each request), counting the characters."""

    def __init__(self) -> None:
        self.characters = 0

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        self.characters += len(text)
        return len(text)


class BrokerError(RuntimeError):
    """The handler answered something other than 200: the measurement would be of an error path."""


@contextlib.contextmanager
def fresh_broker(clock: Callable[[], float] | None = None) -> Iterator[Invoke]:
    """The handler with no runtime built yet (settings, clients and caches come from ``os.environ`` on the first
    request), its clock replaced by ``clock`` if given. Every response must be a 200."""
    from token_broker import handler as module

    handler: Any = module  # its module globals are the seam: the clock runtime() builds the caches with

    sink = Sink()
    _reset(handler)
    real_clock = handler.system_clock
    if clock is not None:
        handler.system_clock = clock  # read by runtime() when it builds the caches and the service
    streams = _redirect_log_streams(handler, sink)
    context = LocalLambdaContext(
        function_name="BrokerFunction",
        invoked_function_arn="arn:aws:lambda:us-east-1:123456789012:function:BrokerFunction",
    )

    def invoke(event: dict[str, Any]) -> dict[str, Any]:
        response: dict[str, Any] = handler.lambda_handler(event, context)
        if response.get("statusCode") != 200:
            raise BrokerError(f"the broker answered {response.get('statusCode')}: {response.get('body')}")
        return response

    try:
        # Powertools' Metrics prints its EMF lines to stdout (the handler's issued line goes to the log handlers):
        # redirected once for the whole block, so no request pays for the redirection.
        with contextlib.redirect_stdout(sink):
            yield invoke
    finally:
        handler.system_clock = real_clock
        for log_handler, stream in streams:
            log_handler.setStream(stream)
        _reset(handler)


def _reset(handler: Any) -> None:
    handler.reset_runtime()


def _redirect_log_streams(handler: Any, sink: Sink) -> list[tuple[logging.StreamHandler[Any], Any]]:
    """Powertools' Logger holds the stdout of import time: point its handlers at the sink (and back later)."""
    saved: list[tuple[logging.StreamHandler[Any], Any]] = []
    for log_handler in logging.getLogger(handler.logger.service).handlers:
        if isinstance(log_handler, logging.StreamHandler):
            saved.append((log_handler, log_handler.setStream(sink)))
    return saved
