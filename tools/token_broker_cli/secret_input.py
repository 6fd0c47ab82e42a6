"""Reading a secret value from stdin or a file, never from the command line (shell history, process lists)."""

from __future__ import annotations

import getpass
import os
import stat
from pathlib import Path

from token_broker_cli.context import Context
from token_broker_cli.errors import UsageError


def read_secret_value(ctx: Context, *, path: str | None, file_flag: str, what: str) -> str:
    """The value from ``path`` (``file_flag``), else stdin (prompted without echo on a terminal).

    It is registered as sensitive at once, so no later message can print it; whitespace inside is refused.
    """
    if path is not None:
        source = Path(path)
        try:
            raw = source.read_text(encoding="utf-8")
            mode = source.stat().st_mode
        except UnicodeDecodeError:
            raise UsageError(f"{file_flag} {str(source)!r} is not UTF-8 text") from None
        except OSError as exc:
            raise UsageError(f"cannot read {file_flag} {str(source)!r}: {exc.strerror or exc}") from None
        if os.name == "posix" and mode & (stat.S_IRWXG | stat.S_IRWXO):
            ctx.warn(f"{str(source)!r} is accessible to other users; delete it once stored")
    elif ctx.stdin.isatty():
        raw = getpass.getpass(f"{what} (not echoed): ")
    else:
        raw = ctx.stdin.read()
    value = raw.strip()
    ctx.sensitive(value)
    if not value:
        raise UsageError(f"no {what} read")
    if any(ch.isspace() or not ch.isprintable() for ch in value):
        raise UsageError(f"the {what} contains whitespace or control characters (give the value alone)")
    return value
