"""The one version of tableau-token-broker: the installed package's metadata, else the source tree's pyproject.

Kept free of third-party imports so ``--version`` works (and is testable) without boto3 on the path.
"""

from __future__ import annotations

import tomllib
from importlib import metadata
from pathlib import Path

DISTRIBUTION = "tableau-token-broker"
PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"


def pyproject_version(path: Path = PYPROJECT) -> str | None:
    try:
        with path.open("rb") as handle:
            version = tomllib.load(handle).get("project", {}).get("version")
    except (OSError, tomllib.TOMLDecodeError):
        return None
    return version if isinstance(version, str) and version else None


def version() -> str:
    try:
        return metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        return pyproject_version() or "unknown"
