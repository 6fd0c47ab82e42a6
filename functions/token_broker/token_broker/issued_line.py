"""The one line an issued token writes: its ``token issued`` log record and its ``TokensIssued`` metric together.

CloudWatch reads a metric out of any log line that carries an ``_aws`` member (the Embedded Metric Format), so
the success path writes one JSON document instead of a Powertools log line plus a Powertools EMF line: the same
keys, in the same order, as ``Logger.info("token issued", extra=...)`` writes, and the same metric, namespace and
``service`` dimension as ``Metrics.add_metric`` + ``flush_metrics``. Measured, this halves the warm handler's
time (README "Performance"). Denials and errors, rare by comparison, go through Powertools as before.

The line goes to the Powertools logger's stream handlers (stdout in Lambda), so whatever captures or routes that
logger's output (tests, the local stack's log file) gets it too. Below INFO the log part is left out and only the
metric is written.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.metrics.functions import is_metrics_disabled

MESSAGE = "token issued"
# Keys whose Powertools value is a %-style placeholder filled from the log record; written here directly.
_RECORD_KEYS = frozenset({"level", "location", "message", "timestamp"})
_TRACE_ENV = "_X_AMZN_TRACE_ID"
_LINE_JSON = json.JSONEncoder(separators=(",", ":"), default=str)  # Powertools' separators and fallback


@functools.lru_cache(maxsize=4)
def _second(second: int) -> tuple[str, str]:
    local = time.localtime(second)
    return time.strftime("%Y-%m-%d %H:%M:%S", local), time.strftime("%z", local)


def powertools_timestamp(now: float) -> str:
    """Powertools' default ``timestamp``: local time, ``2026-11-23 18:19:57,656+0000``."""
    date_time, zone = _second(int(now))
    return f"{date_time},{int((now - int(now)) * 1000):03d}{zone}"  # milliseconds as logging.LogRecord.msecs


def trace_id() -> str | None:
    header = os.environ.get(_TRACE_ENV)
    return header.split(";")[0].replace("Root=", "") if header else None


@dataclass(frozen=True)
class IssuedLine:
    logger: Logger
    namespace: str | None
    service: str
    metric_name: str
    metrics_enabled: bool
    location: str

    @classmethod
    def for_logger(cls, logger: Logger, *, namespace: str | None, metric_name: str, location: str) -> IssuedLine:
        enabled = not is_metrics_disabled() and bool(namespace)
        return cls(logger, namespace, logger.service, metric_name, enabled, location)

    @functools.cached_property
    def _std_logger(self) -> logging.Logger:
        """The standard logger under the Powertools one (named after the service): its level and handlers."""
        return logging.getLogger(self.service)

    @functools.cached_property
    def _formatter(self) -> Any:
        """Powertools' formatter, which holds the appended keys (every handler of the logger shares it)."""
        return self.logger.registered_formatter

    @functools.cached_property
    def _directives(self) -> str:
        """The EMF ``CloudWatchMetrics`` member, the same for every line of the container."""
        directive = {
            "Namespace": self.namespace,
            "Dimensions": [["service"]],
            "Metrics": [{"Name": self.metric_name, "Unit": "Count"}],
        }
        return _LINE_JSON.encode([directive])

    def _metric_members(self, now: float) -> str:
        """``"_aws":{...},"<metric>":[1.0]``: the EMF members, whose ``service`` dimension is the line's own."""
        timestamp = int(now * 1000)
        return f'"_aws":{{"Timestamp":{timestamp},"CloudWatchMetrics":{self._directives}}},"{self.metric_name}":[1.0]'

    def render(self, fields: Mapping[str, Any], *, now: float) -> str | None:
        """The JSON line, or None when neither the log record nor the metric is to be written."""
        if not self._std_logger.isEnabledFor(logging.INFO):
            if not self.metrics_enabled:
                return None
            return f'{{"service":{_LINE_JSON.encode(self.service)},{self._metric_members(now)}}}'
        document: dict[str, Any] = {
            "level": "INFO",
            "location": self.location,
            "message": MESSAGE,
            "timestamp": powertools_timestamp(now),
        }
        for key, value in self._formatter.get_current_keys().items():
            if key not in _RECORD_KEYS and value is not None:
                document[key] = value
        document.update(fields)
        trace = trace_id()
        if trace is not None:
            document["xray_trace_id"] = trace
        if not self.metrics_enabled:
            return _LINE_JSON.encode(document)
        document["service"] = self.service  # the dimension's value; Powertools' own service key, the same name
        return f"{_LINE_JSON.encode(document)[:-1]},{self._metric_members(now)}}}"

    def write(self, fields: Mapping[str, Any], *, now: float) -> None:
        line = self.render(fields, now=now)
        if line is None:
            return
        for handler in self._std_logger.handlers:
            if isinstance(handler, logging.StreamHandler) and handler.level <= logging.INFO:
                handler.acquire()
                try:
                    handler.stream.write(line + handler.terminator)
                    handler.stream.flush()
                except (OSError, ValueError):
                    pass  # as logging does: a broken log stream never fails the request whose token is minted
                finally:
                    handler.release()
