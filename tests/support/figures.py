"""Figures for SECURITY.md: suites record what they ran, and `make security-figures` adds them up.

Each record is one JSON file under ``test-artifacts/figures/`` named after the suite (``differential.json``,
``load.json``, ...). Tests write a record only after they measured it, so a figure is never a constant.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


def figures_dir() -> Path:
    return Path(os.environ.get("TOKEN_BROKER_FIGURES_DIR", ROOT / "test-artifacts" / "figures"))


def record(suite: str, **fields: Any) -> Path:
    """Write (replace) the record of ``suite``; values must be JSON-serialisable numbers, strings or lists."""
    directory = figures_dir()
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{suite}.json"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(fields, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    tmp.replace(path)
    return path
