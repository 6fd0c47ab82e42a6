"""Run pip-audit on one target; fail on a known vulnerability, but only when the vulnerability database answered.

    python .ci/audit_dependencies.py LABEL -- PIP_AUDIT_ARGS...

pip-audit exits 1 both for "vulnerabilities found" and for "could not ask", and exits 0 with every package
skipped when the service answers 404 for each release (a registry mirror without PyPI's per-release JSON API).
This wrapper reads its JSON report to tell these apart:

- vulnerabilities listed                       -> print them, exit 1
- every package audited, none vulnerable       -> exit 0
- the database could not be reached / answered -> print a warning saying nothing was audited, exit 0
  (offline runs and mirrors must still pass; the report says so loudly)
- anything else (bad requirements file, crash) -> print pip-audit's error, exit 1
"""

from __future__ import annotations

import json
import subprocess  # nosec B404  # runs pip-audit with an argv built here, no shell
import sys
import tempfile
from pathlib import Path
from typing import Any

# What pip-audit prints when it cannot talk to PyPI's or OSV's API (requests/urllib3 exception names and texts).
UNREACHABLE_MARKERS = (
    "ConnectionError",
    "ConnectTimeout",
    "ReadTimeout",
    "NameResolutionError",
    "Name or service not known",
    "Temporary failure in name resolution",
    "Max retries exceeded",
    "Network is unreachable",
    "Connection refused",
    "ServiceError",
)
# pip-audit's skip reason when the service had no answer for a release.
NOT_FOUND_SKIP = "not found on PyPI"


def classify(returncode: int, report: dict[str, Any] | None, stderr: str) -> tuple[str, list[str]]:
    """("vulnerable" | "clean" | "unreachable" | "error", lines to print)."""
    if report is None:
        if any(marker in stderr for marker in UNREACHABLE_MARKERS):
            return "unreachable", ["vulnerability database unreachable: NOT AUDITED", *_tail(stderr)]
        return "error", [f"pip-audit failed (exit {returncode})", *_tail(stderr)]
    dependencies = report.get("dependencies", [])
    vulnerable = [d for d in dependencies if d.get("vulns")]
    if vulnerable:
        lines = [f"{len(vulnerable)} vulnerable package(s):"]
        for dep in vulnerable:
            for vuln in dep["vulns"]:
                fixes = ", ".join(vuln.get("fix_versions") or []) or "no fix yet"
                lines.append(f"  {dep['name']} {dep.get('version', '?')}: {vuln.get('id')} (fixed in: {fixes})")
        return "vulnerable", lines
    skipped = [d for d in dependencies if "skip_reason" in d]
    audited = len(dependencies) - len(skipped)
    unanswered = [d for d in skipped if NOT_FOUND_SKIP in d["skip_reason"]]
    if unanswered and audited == 0:
        return "unreachable", [
            f"vulnerability database did not answer for any of {len(unanswered)} package(s): NOT AUDITED"
        ]
    if returncode != 0:
        return "error", [f"pip-audit failed (exit {returncode})", *_tail(stderr)]
    lines = [f"{audited} package(s) audited, no known vulnerability"]
    lines += [f"  skipped {d['name']}: {d['skip_reason']}" for d in skipped]
    return "clean", lines


def _tail(text: str, count: int = 5) -> list[str]:
    return ["  " + line for line in text.strip().splitlines()[-count:]]


def main(argv: list[str]) -> int:
    if len(argv) < 3 or argv[1] != "--":
        print(__doc__, file=sys.stderr)
        return 2
    label, pip_audit_args = argv[0], argv[2:]
    with tempfile.TemporaryDirectory() as tmp:
        output = Path(tmp) / "report.json"
        command = [
            sys.executable,
            "-m",
            "pip_audit",
            "--progress-spinner",
            "off",
            "--format",
            "json",
            "--output",
            str(output),
            *pip_audit_args,
        ]
        proc = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603  # nosec B603
        report: dict[str, Any] | None = None
        if output.exists() and output.stat().st_size:
            report = json.loads(output.read_text())
    verdict, lines = classify(proc.returncode, report, proc.stderr)
    for line in lines:
        print(f"pip-audit [{label}] {line}" if not line.startswith("  ") else line)
    return 1 if verdict in ("vulnerable", "error") else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
