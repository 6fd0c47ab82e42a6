"""What `sam build` ships: the same arm64 artefacts on any machine, with bytecode for the runtime's Python.

Lambda mounts the function (/var/task) and layers (/opt) read-only: a module without a matching .pyc is compiled
again at every cold start. The build compiles with python3.13 in unchecked-hash mode (no dependence on file times,
which the zip round trip does not keep exactly) and refuses, naming the fix, on a machine without python3.13.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from sam_local.host_build import elf_architectures, sam_build
from sam_local.template import TEMPLATE_PATH

PYC_MAGIC_313 = (3571).to_bytes(2, "little") + b"\r\n"  # importlib.util.MAGIC_NUMBER of CPython 3.13
UNCHECKED_HASH = 0b01  # PEP 552 flags: hash-based, check_source off


def _files(build_dir: Path) -> dict[str, str]:
    return {
        str(p.relative_to(build_dir)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(build_dir.rglob("*"))
        if p.is_file() and p.name != "template.yaml"
    }


def _without_313() -> dict[str, str]:
    return {
        **os.environ,
        "PYENV_VERSION": "3.11.7",
        "PATH": os.pathsep.join(p for p in os.environ["PATH"].split(os.pathsep) if "3.12" not in p and "3.13" not in p),
    }


def _runs_313(env: dict[str, str]) -> bool:
    probe = subprocess.run(["python3.13", "--version"], env=env, capture_output=True, check=False)
    return probe.returncode == 0


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    build_dir = tmp_path_factory.mktemp("build") / "arm64"
    sam_build(TEMPLATE_PATH, build_dir, None, "arm64", {**os.environ, "PYENV_VERSION": "3.11.7:3.12.1:3.13.0"})
    return build_dir


def test_every_module_ships_its_runtime_bytecode_in_unchecked_hash_mode(built: Path) -> None:
    for root, lambda_root in (
        (built / "SharedLayer" / "python", "/opt/python"),
        (built / "BrokerFunction", "/var/task"),
    ):
        sources = sorted(root.rglob("*.py"))
        assert sources, root
        for source in sources:
            pyc = source.parent / "__pycache__" / f"{source.stem}.cpython-313.pyc"
            data = pyc.read_bytes()
            assert data[:4] == PYC_MAGIC_313, pyc
            assert int.from_bytes(data[4:8], "little") == UNCHECKED_HASH, pyc
            # The code object names the file where Lambda puts it (tracebacks), not the build's scratch directory.
            assert f"{lambda_root}/{source.relative_to(root)}".encode() in data, pyc
    assert elf_architectures(built / "SharedLayer") == {"arm64"}


def test_the_layer_keeps_only_the_aws_models_the_functions_use(built: Path) -> None:
    data = built / "SharedLayer" / "python" / "botocore" / "data"
    assert sorted(p.name for p in data.iterdir() if p.is_dir()) == ["dynamodb", "secretsmanager"]
    assert (data / "endpoints.json").is_file() and (data / "partitions.json").is_file()
    code = "\n".join(
        p.read_text(encoding="utf-8")
        for p in (TEMPLATE_PATH.parent / "layers" / "shared" / "tableau_broker").glob("*.py")
    )
    clients = set(re.findall(r'BudgetedClient\("([a-z-]+)"', code))
    assert clients == {"dynamodb", "secretsmanager"}  # what the functions create: a new one needs its model kept


def test_two_builds_ship_the_same_bytes(built: Path, tmp_path: Path) -> None:
    again = tmp_path / "again"
    sam_build(TEMPLATE_PATH, again, None, "arm64", {**os.environ, "PYENV_VERSION": "3.11.7:3.12.1:3.13.0"})
    assert _files(again) == _files(built)


def test_a_machine_without_python_3_13_gets_a_refusal_that_names_the_fix(tmp_path: Path) -> None:
    env = _without_313()
    if shutil.which("python3.13", path=env["PATH"]) is not None and _runs_313(env):
        pytest.fail("could not hide python3.13 from PATH for this test")
    with pytest.raises(RuntimeError) as refused:
        sam_build(TEMPLATE_PATH, tmp_path / "only-311", None, "arm64", env)
    assert "python3.13" in str(refused.value) and "LAMBDA_PYTHON" in str(refused.value)
