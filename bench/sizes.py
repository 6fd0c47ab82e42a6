"""Deployment package sizes of the build: each directory unzipped and zipped (deflate, as ``sam deploy`` zips
it), and the top-level packages that make up most of it."""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass
from pathlib import Path

from sam_local.host_build import HostBuild

TOP = 8


@dataclass(frozen=True)
class Contributor:
    name: str
    unzipped: int
    zipped: int


@dataclass(frozen=True)
class Package:
    name: str
    path: Path
    files: int
    unzipped: int
    zipped: int
    top: tuple[Contributor, ...]


def _files(directory: Path) -> list[Path]:
    return sorted(p for p in directory.rglob("*") if p.is_file() and "__pycache__" not in p.parts)


def _zipped_size(root: Path, files: list[Path]) -> int:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path in files:
            archive.write(path, path.relative_to(root).as_posix())
    return buffer.tell()


def _group(root: Path, path: Path) -> str:
    """The top-level package a file belongs to; a distribution's metadata counts with its package family."""
    top = path.relative_to(root).parts[0]
    if top.endswith((".dist-info", ".data")):
        return "*.dist-info (metadata)"
    return top.removesuffix(".py") if path.parent == root else top


def measure(name: str, root: Path, packages_root: Path | None = None, top: int = TOP) -> Package:
    """``root`` is what the zip holds; top-level packages are counted under ``packages_root`` (default root)."""
    files = _files(root)
    groups: dict[str, list[Path]] = {}
    for path in files:
        groups.setdefault(_group(packages_root or root, path), []).append(path)
    contributors = sorted(
        (Contributor(group, sum(p.stat().st_size for p in members), _zipped_size(root, members))
         for group, members in groups.items()),
        key=lambda c: c.unzipped,
        reverse=True,
    )  # fmt: skip
    return Package(
        name=name,
        path=root,
        files=len(files),
        unzipped=sum(p.stat().st_size for p in files),
        zipped=_zipped_size(root, files),
        top=tuple(contributors[:top]),
    )


def run(build: HostBuild) -> list[Package]:
    """The broker function's code and the shared layer (the layer's zip holds ``python/``)."""
    layer_root = build.layer_python_dir.parent
    return [
        measure("BrokerFunction", build.function_dir("BrokerFunction")),
        measure("SharedLayer", layer_root, build.layer_python_dir),
    ]
