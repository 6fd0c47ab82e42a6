"""The invocation's deadline: every dependency call is budgeted from the time Lambda has left.

A Lambda function that is still waiting on a socket when its ``Timeout`` strikes is killed: the caller gets
API Gateway's generic error (no ``Retry-After``, no metric, no log line saying why). So each handler opens a
deadline scope from ``context.get_remaining_time_in_millis()`` less a safety margin, and every call to
DynamoDB, Secrets Manager, the JWKS endpoint or Tableau's REST API asks ``current_deadline()`` how long it
may wait. When too little time is left for one more attempt, the call is not made and ``DeadlineExceeded``
(a 503 naming the dependency) is raised instead, while there is still time to answer.
"""

from __future__ import annotations

import contextvars
import time
from collections.abc import Callable
from typing import Protocol, TypeVar

from tableau_broker.errors import DependencyUnavailable

Monotonic = Callable[[], float]

# No attempt is started with less than this much socket time: below it, a healthy AWS answer would not fit,
# and a connect plus a read timeout of at least 0.25 s each (the clients' step) would not fit either.
MIN_ATTEMPT_SECONDS = 0.5
# Used when no invocation set a deadline (a direct call of ``handle()``, a script): a bound, never "forever".
DEFAULT_BUDGET_SECONDS = 8.0


class RemainingTime(Protocol):
    """The part of Lambda's context object the deadline needs."""

    def get_remaining_time_in_millis(self) -> int: ...


class DeadlineExceeded(DependencyUnavailable):
    """Too little of the invocation's time is left to call ``dependency`` (again)."""

    def __init__(self, dependency: str) -> None:
        super().__init__(f"{dependency}_deadline_exceeded", dependency=dependency)


class Deadline:
    """A point on the monotonic clock by which the invocation must have its answer ready."""

    def __init__(self, expires_at: float, *, clock: Monotonic = time.monotonic) -> None:
        self.expires_at = expires_at
        self._clock = clock

    @classmethod
    def after(cls, seconds: float, *, clock: Monotonic = time.monotonic) -> Deadline:
        return cls(clock() + max(0.0, seconds), clock=clock)

    @classmethod
    def for_invocation(
        cls,
        context: RemainingTime | None,
        *,
        margin_seconds: float,
        default_seconds: float = DEFAULT_BUDGET_SECONDS,
        clock: Monotonic = time.monotonic,
    ) -> Deadline:
        """Lambda's remaining time less ``margin_seconds`` (kept for the answer, the log line and the metric
        flush). Without a usable context (tests, scripts) the budget is ``default_seconds``."""
        remaining_ms = None
        if context is not None:
            try:
                remaining_ms = int(context.get_remaining_time_in_millis())
            except (AttributeError, TypeError, ValueError):
                remaining_ms = None
        total = default_seconds if remaining_ms is None else remaining_ms / 1000.0
        return cls.after(total - margin_seconds, clock=clock)

    def remaining(self) -> float:
        return max(0.0, self.expires_at - self._clock())

    def attempt_timeout(self, dependency: str, cap: float) -> float:
        """Seconds one attempt at ``dependency`` may take: ``cap``, or less when less is left. Raises
        ``DeadlineExceeded`` when not even ``MIN_ATTEMPT_SECONDS`` is left."""
        left = self.remaining()
        if left < MIN_ATTEMPT_SECONDS:
            raise DeadlineExceeded(dependency)
        return min(cap, left)


T = TypeVar("T")


def call_within_deadline(
    attempt: Callable[[float], T],
    *,
    dependency: str,
    cap_seconds: float,
    max_attempts: int,
    retryable: Callable[[Exception], bool],
    pause_seconds: Callable[[int], float],
    sleep: Callable[[float], None] = time.sleep,
    on_retry: Callable[[Exception, int, float | None], None] | None = None,
) -> T:
    """Up to ``max_attempts`` calls of ``attempt(timeout)``, each given at most ``cap_seconds`` or what the current
    deadline leaves. A failure that ``retryable`` accepts is tried again after ``pause_seconds(attempt number)``,
    but only when the pause and one more attempt still fit before the deadline; otherwise it is raised while the
    caller can still answer. ``on_retry(error, attempt number, pause)`` is told of each retry (``pause`` is None
    when the deadline stopped it). The one retry loop of every dependency call (AWS, Tableau)."""
    deadline = current_deadline()
    for number in range(1, max_attempts + 1):
        timeout = deadline.attempt_timeout(dependency, cap_seconds)
        try:
            return attempt(timeout)
        except Exception as exc:
            if not retryable(exc) or number == max_attempts:
                raise
            pause = pause_seconds(number)
            if deadline.remaining() < pause + MIN_ATTEMPT_SECONDS:
                if on_retry is not None:
                    on_retry(exc, number, None)
                raise
            if on_retry is not None:
                on_retry(exc, number, pause)
            sleep(pause)
    raise AssertionError("unreachable")  # pragma: no cover


_current: contextvars.ContextVar[Deadline | None] = contextvars.ContextVar("tableau_broker_deadline", default=None)


def current_deadline() -> Deadline:
    """The deadline of the invocation in progress, or a fresh default-length one outside any invocation."""
    deadline = _current.get()
    return deadline if deadline is not None else Deadline.after(DEFAULT_BUDGET_SECONDS)


class deadline_scope:  # named as the function it replaced: ``with deadline_scope(d):``
    """Make ``deadline`` the current one for the block (one invocation). A class rather than a generator-based
    context manager: it runs on every request, and costs a third as much."""

    __slots__ = ("_deadline", "_token")

    def __init__(self, deadline: Deadline) -> None:
        self._deadline = deadline

    def __enter__(self) -> Deadline:
        self._token = _current.set(self._deadline)
        return self._deadline

    def __exit__(self, *_: object) -> None:
        _current.reset(self._token)
