"""SnapStart's uniqueness rule, on what ships: execution environments restored from one snapshot never share a
``jti``, retry jitter or an AWS client from before the snapshot (tests/shipped/snapstart_restores.py restores one
snapshot of the built broker several times with ``os.fork()``), and the template turns SnapStart on only where
Lambda supports it."""

from __future__ import annotations

import json
import os
import subprocess
from itertools import combinations
from pathlib import Path
from typing import Any

from local_stack.invoke import function_spec, retarget
from sam_local.host_build import HostBuild
from sam_local.template import REPO_ROOT, Template

HARNESS = Path(__file__).with_name("snapstart_restores.py")


def restores(host_build: HostBuild, lambda_python: str, local_stack: dict[str, Any], tmp_path: Path) -> dict[str, Any]:
    spec = function_spec(Template(), host_build, "BrokerFunction", local_stack)
    event = retarget(
        "BrokerFunction",
        json.loads((REPO_ROOT / "events" / "token_broker" / "http_api_valid.json").read_text(encoding="utf-8")),
        local_stack,
    )
    event_file = tmp_path / "event.json"
    event_file.write_text(json.dumps(event), encoding="utf-8")
    paths = [spec.function_dir, *spec.layer_dirs, spec.runtime_dir]
    bootstrap = (
        f"import runpy, sys; sys.path[:0] = {[str(p) for p in paths]!r}; sys.argv = sys.argv[1:]; "
        "runpy.run_path(sys.argv[0], run_name='__main__')"
    )
    environment = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "TZ": ":UTC",
        "AWS_EXECUTION_ENV": "AWS_Lambda_python3.13",
        "AWS_LAMBDA_FUNCTION_NAME": "BrokerFunction",
        "AWS_LAMBDA_FUNCTION_VERSION": "1",
        "AWS_LAMBDA_INITIALIZATION_TYPE": "snap-start",
        "AWS_REGION": spec.region,
        "AWS_DEFAULT_REGION": spec.region,
        **spec.environment,
    }
    result = subprocess.run(
        [lambda_python, "-I", "-S", "-c", bootstrap, str(HARNESS), str(event_file)],
        env=environment,
        cwd=spec.function_dir,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    (line,) = [text for text in result.stdout.splitlines() if text.startswith('{"primed_jti"')]
    document: dict[str, Any] = json.loads(line)
    return document


def test_environments_restored_from_one_snapshot_share_nothing_unique(
    host_build: HostBuild, lambda_python: str, local_stack: dict[str, Any], tmp_path: Path
) -> None:
    document = restores(host_build, lambda_python, local_stack, tmp_path)
    results = document["restores"]
    assert all("error" not in r for r in results), results
    # The harness reproduces a snapshot: a generator seeded at init repeats in every restored environment...
    assert len({tuple(r["init_generator"]) for r in results}) == 1
    # ...while the broker's jti and retry jitter do not, and nothing built before the snapshot survives it.
    jtis = [document["primed_jti"], *(jti for r in results for jti in r["jtis"])]
    assert len(set(jtis)) == len(jtis)
    for one, other in combinations(results, 2):
        assert one["jitter"] != other["jitter"]
    assert all(r["carried_after_restore"] == {"runtime": 0, "clients": 0} for r in results)


def test_snapstart_is_a_parameter_off_by_default_on_published_versions_behind_the_alias() -> None:
    template = Template()
    parameter = template.doc["Parameters"]["SnapStart"]
    assert parameter["Default"] == "Disabled" and set(parameter["AllowedValues"]) == {"Enabled", "Disabled"}
    props = template.properties("BrokerFunction")
    assert props["AutoPublishAlias"] == "live"
    apply_on = props["SnapStart"]["ApplyOn"]
    assert template.resolve(apply_on, {"SnapStart": "Enabled"}) == "PublishedVersions"
    assert template.resolve(apply_on, {"SnapStart": "Disabled"}) == "None"
    runtime = props.get("Runtime") or template.doc["Globals"]["Function"]["Runtime"]
    assert runtime in {"python3.12", "python3.13"}  # SnapStart's Python runtimes
