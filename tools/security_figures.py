"""`make security-figures`: run the security suites, add up what they proved and rewrite SECURITY.md's figures.

For each marker (attack, differential, property, fault, load) it runs ``pytest -m <marker>`` with a JUnit XML
report under ``test-artifacts/junit/``, counts the test cases passed / failed / skipped, reads the records the
suites wrote under ``test-artifacts/figures/`` (``tests/support/figures.py``) and replaces everything between
``<!-- figures:start -->`` and ``<!-- figures:end -->`` in SECURITY.md. Nothing is invented: a marker that
selects no test shows 0, a record that is missing shows "not run". Exit status 1 when a suite failed.

    python -m tools.security_figures            # run the suites, then rewrite the block
    python -m tools.security_figures --no-run   # only re-read the last JUnit reports and records
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess  # nosec B404  # runs this interpreter's pytest with fixed arguments
import sys
import xml.etree.ElementTree as ET  # nosec B405  # parses only the JUnit reports pytest just wrote here
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tests.support.figures import ROOT, figures_dir

MARKERS = ("attack", "differential", "property", "fault", "load")
# Known records in a fixed order (what each proves is in SECURITY.md); any other record follows by name.
RECORDS = (
    ("attacks", "attack catalogue"),
    ("differential", "differential against aws-jwt-verify"),
    ("properties", "Hypothesis properties"),
    ("faults_broker", "network faults: broker"),
    ("faults_rotation", "network faults: rotation"),
    ("load", "load on the local stack"),
)
START, END = "<!-- figures:start -->", "<!-- figures:end -->"
PYTEST_OK, PYTEST_FAILED, PYTEST_NO_TESTS = 0, 1, 5


@dataclass(frozen=True)
class SuiteResult:
    marker: str
    passed: int
    failed: int
    skipped: int
    status: str


def junit_path(junit_dir: Path, marker: str) -> Path:
    return junit_dir / f"security-{marker}.xml"


def run_marker(marker: str, junit_dir: Path) -> int:
    """Run one marker's tests; the JUnit report of a previous run is removed first so it cannot be counted."""
    report = junit_path(junit_dir, marker)
    report.unlink(missing_ok=True)
    command = [sys.executable, "-m", "pytest", "-m", marker, "-q", f"--junitxml={report}"]
    print(f"== pytest -m {marker}", flush=True)
    return subprocess.run(command, cwd=ROOT, check=False).returncode  # noqa: S603  # nosec B603  # our own interpreter


def count_junit(report: Path) -> tuple[int, int, int]:
    """(passed, failed, skipped) test cases; an error (setup, teardown, collection) counts as failed."""
    if not report.exists():
        return 0, 0, 0
    root = ET.parse(report).getroot()  # noqa: S314  # nosec B314  # a file pytest wrote on this machine
    passed = failed = skipped = 0
    for case in root.iter("testcase"):
        children = {child.tag for child in case}
        if children & {"failure", "error"}:
            failed += 1
        elif "skipped" in children:
            skipped += 1
        else:
            passed += 1
    return passed, failed, skipped


def suite_result(marker: str, junit_dir: Path, exit_code: int | None) -> SuiteResult:
    passed, failed, skipped = count_junit(junit_path(junit_dir, marker))
    if exit_code is None and not junit_path(junit_dir, marker).exists():
        status = "not run"
    elif exit_code not in (None, PYTEST_OK, PYTEST_FAILED, PYTEST_NO_TESTS):
        status = f"pytest exit {exit_code}"
    elif failed:
        status = "failed"
    elif passed + skipped == 0:
        status = "no tests"
    elif passed == 0:
        status = "skipped"
    else:
        status = "passed"
    return SuiteResult(marker, passed, failed, skipped, status)


def format_value(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, str | int | bool) or value is None:
        return json.dumps(value) if isinstance(value, bool) or value is None else str(value)
    if isinstance(value, list):
        return "[" + ", ".join(format_value(item) for item in value) + "]"
    return json.dumps(value, sort_keys=True)


def describe_record(path: Path) -> str:
    if not path.exists():
        return "not run"
    try:
        fields = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return "unreadable record"
    if not isinstance(fields, dict):
        return "unreadable record"
    text = ", ".join(f"{key}: {format_value(fields[key])}" for key in sorted(fields))
    return text.replace("|", "\\|") or "empty record"


def machine_description() -> str:
    model = ""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text(encoding="utf-8", errors="replace").splitlines():
            if line.startswith("model name"):
                model = f" ({line.split(':', 1)[1].strip()})"
                break
    return (
        f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores{model}, Python {platform.python_version()}"
    )


def render_block(results: list[SuiteResult], records_dir: Path, *, date: str, machine: str) -> str:
    lines = [
        START,
        "<!-- Generated by `make security-figures` (tools/security_figures.py); edits here are overwritten. -->",
        "",
        f"Last generated {date} on {machine}.",
        "",
        "| suite (pytest marker) | passed | failed | skipped | status |",
        "|---|---:|---:|---:|---|",
    ]
    lines += [f"| `{r.marker}` | {r.passed} | {r.failed} | {r.skipped} | {r.status} |" for r in results]
    lines += ["", "| record | figures |", "|---|---|"]
    known = {name for name, _ in RECORDS}
    extra = sorted(p.stem for p in records_dir.glob("*.json") if p.stem not in known) if records_dir.is_dir() else []
    for name, label in (*RECORDS, *((name, name) for name in extra)):
        lines.append(f"| {label} (`{name}.json`) | {describe_record(records_dir / f'{name}.json')} |")
    lines.append(END)
    return "\n".join(lines)


def replace_block(document: str, block: str) -> str:
    if document.count(START) != 1 or document.count(END) != 1 or document.index(START) > document.index(END):
        raise ValueError(f"expected exactly one {START} … {END} block")
    head, rest = document.split(START, 1)
    _, tail = rest.split(END, 1)
    return head + block + tail


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tools.security_figures", description=__doc__)
    parser.add_argument("--no-run", action="store_true", help="do not run pytest; use the last reports and records")
    parser.add_argument("--security-md", type=Path, default=ROOT / "SECURITY.md")
    parser.add_argument("--junit-dir", type=Path, default=ROOT / "test-artifacts" / "junit")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    records_dir = figures_dir()
    exit_codes: dict[str, int | None] = dict.fromkeys(MARKERS)
    if not args.no_run:
        args.junit_dir.mkdir(parents=True, exist_ok=True)
        # Records of an earlier run must not pass for this run's figures.
        for stale in records_dir.glob("*.json") if records_dir.is_dir() else ():
            stale.unlink()
        for marker in MARKERS:
            exit_codes[marker] = run_marker(marker, args.junit_dir)
    results = [suite_result(marker, args.junit_dir, exit_codes[marker]) for marker in MARKERS]
    block = render_block(
        results, records_dir, date=datetime.now(UTC).strftime("%Y-%m-%d"), machine=machine_description()
    )
    document = args.security_md.read_text(encoding="utf-8")
    try:
        updated = replace_block(document, block)
    except ValueError as exc:
        print(f"{args.security_md}: {exc}", file=sys.stderr)
        return 2
    args.security_md.write_text(updated, encoding="utf-8")
    print(block)
    bad = [r.marker for r in results if r.status not in ("passed", "no tests", "not run")]
    if bad:
        print(f"security suites with failures: {', '.join(bad)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
