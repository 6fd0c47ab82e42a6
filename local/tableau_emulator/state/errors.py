"""Why a seeding or management call on the emulator state was refused."""

from __future__ import annotations


class EmulatorError(Exception):
    """A seeding or management call was refused. ``code`` is the Tableau error code, when one applies."""

    def __init__(self, message: str, code: int | None = None) -> None:
        super().__init__(message)
        self.code = code


class NotFoundError(EmulatorError):
    """The site, user, connected app or secret does not exist."""


class SecretLimitExceededError(EmulatorError):
    """A connected app already holds two secrets (Tableau error 128)."""

    def __init__(self, message: str = "Connected app already has the maximum of two secrets") -> None:
        super().__init__(message, code=128)


class InvalidDomainAllowlistError(EmulatorError):
    """A domain allowlist entry contains invalid characters (Tableau error 133)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, code=133)
