"""Exit codes and the errors commands raise. Messages are single lines and never contain secret values."""

from __future__ import annotations

EXIT_OK = 0
EXIT_FAILURE = 1  # AWS or other operational failure
EXIT_USAGE = 2  # bad arguments, validation failure, no such record
EXIT_FINDINGS = 3  # `inspect`: the token has error-level findings
EXIT_INTERRUPTED = 130


class CliError(Exception):
    exit_code = EXIT_FAILURE

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class UsageError(CliError):
    """The operator's input is wrong: fix the command line."""

    exit_code = EXIT_USAGE


class NotFound(UsageError):
    """The named tenant, user or secret version does not exist."""


class OperationalError(CliError):
    """Something outside the command line failed (AWS, a concurrent change, unusable stored data)."""

    exit_code = EXIT_FAILURE
