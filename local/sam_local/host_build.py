"""The same `sam build` as a deploy, for this machine's architecture, plus AWS's runtime interface client: what
:mod:`sam_local.built_function` runs (``make shipped``, ``make invoke``, tests/shipped).

The template targets arm64; an arm64 layer holds aarch64 ``.so`` files that an x86_64 machine cannot import. The
twin is template.yaml with every architecture set to the host's, built with the same build methods
(layers/shared/Makefile picks the wheels for ``LAMBDA_ARCHITECTURE``) into ``.aws-sam/host-<arch>/``.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import os
import platform
import re
import shutil
import subprocess  # nosec B404  # runs our own interpreter and the SAM CLI with fixed arguments
import sys
from dataclasses import dataclass
from pathlib import Path

from sam_local.template import REPO_ROOT, TEMPLATE_PATH

RUNTIME_PYTHON = "python3.13"
_ARCHITECTURES = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "arm64", "arm64": "arm64"}
# ELF e_machine values (System V ABI): which CPU a shared object was built for.
ELF_MACHINES = {0x3E: "x86_64", 0xB7: "arm64"}
_ARCH_LINES = re.compile(r"^(\s*(?:Architectures|CompatibleArchitectures):\s*)\[arm64\]\s*$", re.MULTILINE)
_BUILD_ARCH = re.compile(r"^(\s*BuildArchitecture:\s*)arm64\s*$", re.MULTILINE)


def host_architecture() -> str:
    machine = platform.machine().lower()
    if machine not in _ARCHITECTURES:
        raise RuntimeError(f"Lambda has no architecture for this machine ({machine})")
    return _ARCHITECTURES[machine]


def twin_template(text: str, architecture: str) -> str:
    """template.yaml with its arm64 architectures (function, layer, layer build) set to ``architecture``."""
    text, functions = _ARCH_LINES.subn(rf"\g<1>[{architecture}]", text)
    text, builds = _BUILD_ARCH.subn(rf"\g<1>{architecture}", text)
    if functions < 2 or builds < 1:
        raise RuntimeError("template.yaml no longer declares arm64 where the twin expects it; update host_build")
    return text


@dataclass(frozen=True)
class HostBuild:
    architecture: str
    build_dir: Path
    runtime_dir: Path

    def function_dir(self, logical_id: str) -> Path:
        return self.build_dir / logical_id

    @property
    def layer_python_dir(self) -> Path:
        return self.build_dir / "SharedLayer" / "python"


def sam_executable() -> str:
    return os.environ.get("SAM") or str(REPO_ROOT / ".tools" / "sam" / "bin" / "sam")


def sam_build(template: Path, build_dir: Path, cache_dir: Path | None, architecture: str, env: dict[str, str]) -> None:
    """`sam build` (no container) of ``template`` with the layer built for ``architecture``."""
    command = [sam_executable(), "build", "--template-file", str(template), "--base-dir", str(REPO_ROOT)]
    command += ["--build-dir", str(build_dir)]
    if cache_dir is not None:
        command += ["--cache-dir", str(cache_dir), "--cached"]
    environment = {
        **env,
        "SAM_CLI_TELEMETRY": "0",
        "LAMBDA_ARCHITECTURE": architecture,
        "LAYER_PIP": env.get("LAYER_PIP") or f"{sys.executable} -m pip",
    }
    result = subprocess.run(  # noqa: S603 - SAM CLI with our arguments  # nosec B603
        command, cwd=REPO_ROOT, env=environment, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise RuntimeError(f"sam build failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")


def runtime_python() -> str:
    """The real path of the runtime's interpreter (``LAMBDA_PYTHON`` or ``python3.13`` on PATH, pyenv shims too)."""
    candidate = os.environ.get("LAMBDA_PYTHON") or shutil.which(RUNTIME_PYTHON)
    if candidate:
        probe = subprocess.run(  # noqa: S603 - the interpreter we were pointed at  # nosec B603
            [candidate, "-c", "import sys; print(sys.executable, sys.version_info[:2] == (3, 13))"],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        executable, _, right_version = probe.stdout.strip().rpartition(" ")
        if probe.returncode == 0 and right_version == "True":
            return executable
    raise RuntimeError(
        "running the built functions needs the Lambda runtime's interpreter, python3.13, on PATH "
        "(or LAMBDA_PYTHON=/path/to/python3.13); with pyenv: PYENV_VERSION=3.11.7:3.12.1:3.13.0"
    )


def install_runtime_client(python: str, target: Path) -> Path:
    """awslambdaric, at the version of the dev environment's pin, installed for ``python`` into ``target``."""
    version = importlib.metadata.version("awslambdaric")
    marker = target / f".awslambdaric-{version}"
    if marker.exists():
        return target
    if target.exists():
        shutil.rmtree(target)
    subprocess.run(  # noqa: S603 - pip of the runtime interpreter  # nosec B603
        [python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--only-binary=:all:",
         "--target", str(target), f"awslambdaric=={version}"],
        check=True,
    )  # fmt: skip
    marker.write_text(version + "\n", encoding="utf-8")
    return target


def elf_architectures(directory: Path) -> set[str]:
    """The CPU architectures of every shared object under ``directory``."""
    found: set[str] = set()
    for path in directory.rglob("*.so"):
        header = path.read_bytes()[:20]
        if header[:4] != b"\x7fELF":
            raise RuntimeError(f"{path} is not an ELF shared object")
        machine = int.from_bytes(header[18:20], "little" if header[5] == 1 else "big")
        found.add(ELF_MACHINES.get(machine, hex(machine)))
    return found


def build_for_host(architecture: str | None = None, root: Path | None = None) -> HostBuild:
    """The twin build and the runtime client, reusing SAM's cache; checks the layer is for ``architecture``."""
    architecture = architecture or host_architecture()
    root = root or REPO_ROOT / ".aws-sam" / f"host-{architecture}"
    root.mkdir(parents=True, exist_ok=True)
    template = root / "template.yaml"
    template.write_text(twin_template(TEMPLATE_PATH.read_text(encoding="utf-8"), architecture), encoding="utf-8")
    build = HostBuild(architecture, root / "build", root / "runtime")
    sam_build(template, build.build_dir, root / "cache", architecture, dict(os.environ))
    machines = elf_architectures(build.layer_python_dir)
    if machines != {architecture}:
        raise RuntimeError(f"the {architecture} twin's layer holds shared objects for {sorted(machines)}")
    install_runtime_client(runtime_python(), build.runtime_dir)
    return build


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sam_local.host_build", description=__doc__)
    parser.add_argument("--architecture", choices=sorted(set(_ARCHITECTURES.values())))
    args = parser.parse_args(argv)
    try:
        build = build_for_host(args.architecture)
    except (RuntimeError, subprocess.CalledProcessError) as exc:
        print(f"host build: {exc}", file=sys.stderr)
        return 1
    print(f"built for {build.architecture}: {build.build_dir} (runtime client in {build.runtime_dir})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
