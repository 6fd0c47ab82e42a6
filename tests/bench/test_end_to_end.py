"""`python -m bench --quick` from start to BENCHMARKS.md: the host build, every measurement, every section."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from bench.report import SECTIONS
from tests.support.local_stack_process import REPO_ROOT, source_pythonpath


def test_the_quick_run_writes_every_section_with_the_models_counts(tmp_path: Path) -> None:
    output = tmp_path / "BENCHMARKS.md"
    result = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--output", str(output)],
        cwd=REPO_ROOT,
        env={**os.environ, "PYTHONPATH": source_pythonpath()},
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    text = output.read_text(encoding="utf-8")
    assert text in result.stdout  # the table is printed too
    for heading in SECTIONS:
        assert f"\n{heading}\n" in text, heading
    verdicts = re.findall(r"^\| (.+?) \| .+ \| \*\*(met|not met)\*\* \|$", text, re.MULTILINE)
    assert [v[0].split()[0] for v in verdicts] == ["≤", "cold", "warm"]
    rows = {line.split(" | ")[0].lstrip("| "): line for line in text.splitlines() if line.startswith("| ")}
    assert rows["broker, tenant cache off"].endswith("| yes |")  # measured at the wire == the TTL model
    assert rows["naive baseline"].endswith("| yes |")
    assert "| 3000 | yes |" in rows["naive baseline"]  # 3 calls per token, per 1,000 tokens
    datagrams = int(re.search(r"(\d+) trace datagrams received", text).group(1))  # type: ignore[union-attr]
    assert datagrams == 0  # active tracing is Lambda's own: no tracing SDK in the function (README "Performance")
    assert re.search(r"\| 8 \| 200 \| 200: 200 \|", text)  # every local API request got a token
