"""AWS's side: aws-jwt-verify, installed with ``npm ci`` from the committed lock file and run once per corpus."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
LOCK_FILE = HERE / "package-lock.json"
NODE_MODULES = HERE / "node_modules"
STAMP = NODE_MODULES / ".installed-from-lock.sha256"  # which lock file node_modules was installed from
HARNESS = HERE / "harness.cjs"


class ReferenceUnavailable(RuntimeError):
    pass


def _lock_digest() -> str:
    return hashlib.sha256(LOCK_FILE.read_bytes() + (HERE / "package.json").read_bytes()).hexdigest()


def ensure_installed() -> None:
    """Run ``npm ci`` when node_modules is missing or was installed from another lock file. Nothing else here
    fetches anything: the harness itself makes no network call."""
    digest = _lock_digest()
    if STAMP.is_file() and STAMP.read_text(encoding="utf-8").strip() == digest:
        return
    npm = shutil.which("npm")
    if npm is None:
        raise ReferenceUnavailable("npm is not on PATH: install Node.js 20 and npm (.ci/run does)")
    result = subprocess.run(
        [npm, "ci", "--no-audit", "--no-fund", "--ignore-scripts"],
        cwd=HERE,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if result.returncode != 0:
        raise ReferenceUnavailable(f"npm ci failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    STAMP.write_text(digest + "\n", encoding="utf-8")


def reference_verdicts(jwks: dict[str, Any], cases: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """aws-jwt-verify's verdict for each ``{"token", "config", "now"}``, in order, from one node process."""
    node = shutil.which("node")
    if node is None:
        raise ReferenceUnavailable("node is not on PATH: install Node.js 20 (.ci/run does)")
    result = subprocess.run(
        [node, str(HARNESS)],
        cwd=HERE,
        input=json.dumps({"jwks": jwks, "cases": cases}),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if result.returncode != 0:
        raise ReferenceUnavailable(f"the aws-jwt-verify harness failed ({result.returncode}):\n{result.stderr}")
    verdicts: list[dict[str, Any]] = json.loads(result.stdout)
    if len(verdicts) != len(cases):
        raise ReferenceUnavailable(f"the harness judged {len(verdicts)} of {len(cases)} cases")
    return verdicts
