"""`sam build` needs no python3.13: with only 3.11 on PATH it produces the same artefacts, for arm64."""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

from sam_local.host_build import elf_architectures, sam_build
from sam_local.template import TEMPLATE_PATH


def _files(build_dir: Path) -> dict[str, str]:
    return {
        str(p.relative_to(build_dir)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(build_dir.rglob("*"))
        if p.is_file() and p.name != "template.yaml"
    }


def test_a_machine_with_only_python_3_11_builds_the_same_arm64_artefacts(tmp_path: Path) -> None:
    full = {**os.environ, "PYENV_VERSION": "3.11.7:3.12.1:3.13.0"}
    only_311 = {
        **os.environ,
        "PYENV_VERSION": "3.11.7",
        "PATH": os.pathsep.join(p for p in os.environ["PATH"].split(os.pathsep) if "3.12" not in p and "3.13" not in p),
    }
    assert shutil.which("python3.13", path=only_311["PATH"]) is None or _runs_313(only_311) is False
    sam_build(TEMPLATE_PATH, tmp_path / "with-313", None, "arm64", full)
    sam_build(TEMPLATE_PATH, tmp_path / "only-311", None, "arm64", only_311)
    built = _files(tmp_path / "only-311")
    assert built == _files(tmp_path / "with-313")
    assert {"BrokerFunction/token_broker/handler.py", "SharedLayer/python/tableau_broker/__init__.py"} <= set(built)
    assert elf_architectures(tmp_path / "only-311" / "SharedLayer") == {"arm64"}
    assert not [name for name in built if name.endswith(".pyc")]


def _runs_313(env: dict[str, str]) -> bool:
    import subprocess

    probe = subprocess.run(["python3.13", "--version"], env=env, capture_output=True, check=False)
    return probe.returncode == 0
