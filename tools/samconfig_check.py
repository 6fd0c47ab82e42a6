"""Refuse to deploy a samconfig.toml environment that still holds a ``<placeholder>`` parameter value.

    python -m tools.samconfig_check ENVIRONMENT [--config samconfig.toml]

Exit 0 when the environment's deploy parameters are filled in, 2 (naming each parameter) otherwise, so that
`make deploy` never creates a stack with a user pool called "<user-pool-id>".
"""

from __future__ import annotations

import argparse
import re
import shlex
import sys
import tomllib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

SAMCONFIG_PATH = Path(__file__).resolve().parents[1] / "samconfig.toml"
PLACEHOLDER = re.compile(r"<[^<>]*>")


class SamconfigError(Exception):
    pass


def deploy_parameters(config: dict[str, Any], environment: str) -> dict[str, Any]:
    env = config.get(environment)
    if not isinstance(env, dict):
        raise SamconfigError(f"samconfig.toml has no environment {environment!r}")
    shared = env.get("global", {}).get("parameters", {})
    merged: dict[str, Any] = {**shared, **env.get("deploy", {}).get("parameters", {})}
    if not merged.get("stack_name"):
        raise SamconfigError(f"environment {environment!r} names no stack_name")
    return merged


def parameter_overrides(parameters: dict[str, Any]) -> dict[str, str]:
    """``parameter_overrides`` as SAM reads it: ``Key=Value`` pairs, values optionally quoted (a string or a list)."""
    raw = parameters.get("parameter_overrides", "")
    items = raw if isinstance(raw, list) else [raw]
    pairs: dict[str, str] = {}
    for item in items:
        for token in shlex.split(str(item)):
            key, sep, value = token.partition("=")
            if not sep:
                raise SamconfigError(f"parameter_overrides entry {token!r} is not Key=Value")
            pairs[key] = value
    return pairs


def placeholders(config: dict[str, Any], environment: str) -> list[str]:
    """Names of the environment's parameters whose value is still a ``<placeholder>``."""
    overrides = parameter_overrides(deploy_parameters(config, environment))
    return sorted(name for name, value in overrides.items() if PLACEHOLDER.search(value))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Check a samconfig.toml environment is ready to deploy.")
    parser.add_argument("environment")
    parser.add_argument("--config", type=Path, default=SAMCONFIG_PATH)
    args = parser.parse_args(argv)
    try:
        config = tomllib.loads(args.config.read_text(encoding="utf-8"))
        left = placeholders(config, args.environment)
    except (OSError, tomllib.TOMLDecodeError, SamconfigError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if left:
        print(
            f"error: samconfig.toml [{args.environment}] still has placeholders for {', '.join(left)}: "
            f"fill them in, or run `make deploy-guided ENV={args.environment}`",
            file=sys.stderr,
        )
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
