"""`make security-figures`: counts come from the JUnit reports, figures from the records, nothing else."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tools.security_figures import (
    END,
    MARKERS,
    START,
    SuiteResult,
    count_junit,
    main,
    render_block,
    replace_block,
    suite_result,
)

JUNIT = """<?xml version="1.0" encoding="utf-8"?>
<testsuites><testsuite name="pytest" tests="5">
  <testcase classname="t" name="ok_1"/>
  <testcase classname="t" name="ok_2"><system-out>x</system-out></testcase>
  <testcase classname="t" name="bad"><failure message="no">trace</failure></testcase>
  <testcase classname="t" name="broken"><error message="setup">trace</error></testcase>
  <testcase classname="t" name="later"><skipped message="s"/></testcase>
</testsuite></testsuites>
"""
EMPTY_JUNIT = '<?xml version="1.0"?><testsuites><testsuite name="pytest" tests="0"/></testsuites>'


def test_junit_cases_are_counted_by_outcome(tmp_path: Path) -> None:
    report = tmp_path / "r.xml"
    report.write_text(JUNIT)
    assert count_junit(report) == (2, 2, 1)
    assert count_junit(tmp_path / "missing.xml") == (0, 0, 0)


def test_a_marker_selecting_no_test_reports_zero(tmp_path: Path) -> None:
    (tmp_path / "security-fault.xml").write_text(EMPTY_JUNIT)
    assert suite_result("fault", tmp_path, 5) == SuiteResult("fault", 0, 0, 0, "no tests")
    assert suite_result("attack", tmp_path, None) == SuiteResult("attack", 0, 0, 0, "not run")
    (tmp_path / "security-load.xml").write_text(JUNIT)
    assert suite_result("load", tmp_path, 1).status == "failed"
    assert suite_result("load", tmp_path, 4).status == "pytest exit 4"


def test_missing_records_show_not_run_and_present_ones_their_fields(tmp_path: Path) -> None:
    (tmp_path / "load.json").write_text(json.dumps({"requests": 900, "p99_ms": 12.5, "cross_tenant": 0}))
    (tmp_path / "zeta.json").write_text(json.dumps({"cases": 3}))
    results = [SuiteResult(m, 0, 0, 0, "no tests") for m in MARKERS]
    block = render_block(results, tmp_path, date="2030-01-02", machine="Linux x86_64, 2 cores, Python 3.11.7")
    lines = block.splitlines()
    assert lines[0] == START
    assert lines[-1] == END
    assert "Last generated 2030-01-02 on Linux x86_64, 2 cores, Python 3.11.7." in lines
    assert "| load on the local stack (`load.json`) | cross_tenant: 0, p99_ms: 12.5, requests: 900 |" in lines
    assert "| attack catalogue (`attacks.json`) | not run |" in lines
    assert "| zeta (`zeta.json`) | cases: 3 |" in lines
    assert sum("not run" in line for line in lines) == 5
    assert all(f"| `{m}` | 0 | 0 | 0 | no tests |" in lines for m in MARKERS)
    # Same inputs, same block: the structure does not depend on the order files were written in.
    assert render_block(results, tmp_path, date="2030-01-02", machine="m") == render_block(
        list(results), tmp_path, date="2030-01-02", machine="m"
    )


def test_only_the_block_between_the_markers_is_replaced() -> None:
    document = f"# Security\n\nbefore\n{START}\nold figures\n{END}\nafter\n"
    assert replace_block(document, f"{START}\nnew\n{END}") == f"# Security\n\nbefore\n{START}\nnew\n{END}\nafter\n"
    with pytest.raises(ValueError, match="exactly one"):
        replace_block("# no block\n", f"{START}\n{END}")
    with pytest.raises(ValueError, match="exactly one"):
        replace_block(f"{END}\n{START}\n", f"{START}\n{END}")


def test_no_run_rewrites_security_md_from_the_last_reports(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    figures, junit = tmp_path / "figures", tmp_path / "junit"
    figures.mkdir()
    junit.mkdir()
    (figures / "load.json").write_text(json.dumps({"requests": 150, "throttled_429": 176}))
    (junit / "security-load.xml").write_text(JUNIT.replace("bad", "ok_3").replace("failure", "system-out"))
    security_md = tmp_path / "SECURITY.md"
    security_md.write_text(f"intro\n{START}\nstale\n{END}\noutro\n")
    monkeypatch.setenv("TOKEN_BROKER_FIGURES_DIR", str(figures))

    code = main(["--no-run", "--security-md", str(security_md), "--junit-dir", str(junit)])

    text = security_md.read_text()
    assert code == 1  # the report holds an errored case
    assert text.startswith("intro\n") and text.endswith("\noutro\n")
    assert "stale" not in text
    assert "| `load` | 3 | 1 | 1 | failed |" in text
    assert "| `attack` | 0 | 0 | 0 | not run |" in text
    assert "requests: 150, throttled_429: 176" in text
