"""Domain errors and the one table that maps them to HTTP responses.

Every error carries a fixed, caller-safe message. The ``reason`` is for logs and metrics only and must never
contain a claim value, a token or a secret.
"""

from __future__ import annotations


class BrokerError(Exception):
    """Base class: an HTTP status, a stable error code and a fixed message, declared as class keywords."""

    status: int = 500
    code: str = "internal_error"
    message: str = "The token could not be issued."

    def __init_subclass__(
        cls, *, status: int | None = None, code: str | None = None, message: str | None = None
    ) -> None:
        super().__init_subclass__()
        if status is not None:
            cls.status = status
        if code is not None:
            cls.code = code
        if message is not None:
            cls.message = message

    def __init__(self, reason: str, *, message: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        if message is not None:
            self.message = message


class InvalidRequest(BrokerError, status=400, code="invalid_request", message="The request body is not valid."):
    pass


class Unauthenticated(BrokerError, status=401, code="unauthenticated", message="A valid identity token is required."):
    pass


class NotEntitled(
    BrokerError, status=403, code="not_entitled", message="The caller is not entitled to embedded content."
):
    pass


class ScopeNotAllowed(
    BrokerError, status=403, code="scope_not_allowed", message="A requested scope is not allowed for the caller."
):
    pass


class MethodNotAllowed(BrokerError, status=405, code="method_not_allowed", message="Use POST."):
    pass


class DependencyUnavailable(
    BrokerError,
    status=503,
    code="dependency_unavailable",
    message="A dependency is temporarily unavailable. Retry later.",
):
    """A dependency (DynamoDB, Secrets Manager, the JWKS endpoint) failed or throttled after retries."""

    def __init__(self, reason: str, *, dependency: str, retry_after_seconds: int = 2) -> None:
        super().__init__(reason)
        self.dependency = dependency
        self.retry_after_seconds = retry_after_seconds


class ConfigurationError(
    BrokerError, status=500, code="configuration_error", message="The token broker is misconfigured."
):
    """Stored configuration (a secret, an entitlement record, settings) is unusable: an operator must act."""


class MalformedSecret(ConfigurationError):
    """A connected-app secret does not have the expected shape. The reason never includes the value."""


class TokenRuleViolation(ConfigurationError):
    """Minting would produce a token Tableau rejects or one that breaks a safety rule."""
