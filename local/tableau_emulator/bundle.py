"""Build the browser bundle of the real ``@tableau/embedding-api`` (pinned in ``js/package.json``).

The npm package is CommonJS; browsers need an ES module. ``js/entry.js`` re-exports the package and esbuild
bundles it (``--bundle --format=esm --minify``) to ``<repo>/.local/build/tableau.embedding.3.latest.min.js``,
which the emulator serves where Tableau serves its own copy.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess  # nosec B404  # runs npm with a fixed argv
import threading
from pathlib import Path
from typing import Final

JS_DIR: Final = Path(__file__).resolve().parent / "js"
REPO_ROOT: Final = Path(__file__).resolve().parents[2]
BUNDLE_NAME: Final = "tableau.embedding.3.latest.min.js"
NPM_TIMEOUT_SECONDS: Final = 600
ESBUILD_TIMEOUT_SECONDS: Final = 120

_thread_lock = threading.Lock()


class BundleBuildError(RuntimeError):
    """The bundle could not be built (npm missing, registry unreachable, esbuild failure...)."""


def bundle_path() -> Path:
    """Where the built bundle lives (it may not exist yet)."""
    return REPO_ROOT / ".local" / "build" / BUNDLE_NAME


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except FileNotFoundError:
        return -1.0


def _run(cmd: list[str], *, timeout: int) -> None:
    try:
        proc = subprocess.run(  # noqa: S603 - fixed argv, no shell  # nosec B603
            cmd, cwd=JS_DIR, capture_output=True, text=True, timeout=timeout, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise BundleBuildError(f"{Path(cmd[0]).name} failed to run: {exc}") from exc
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip()[-2000:]
        raise BundleBuildError(f"{' '.join([Path(cmd[0]).name, *cmd[1:]])} exited {proc.returncode}: {tail}")


def _is_stale(bundle: Path) -> bool:
    inputs = [JS_DIR / "package-lock.json", JS_DIR / "package.json", JS_DIR / "entry.js"]
    return _mtime(bundle) < max(_mtime(p) for p in inputs)


def ensure_embedding_bundle(force: bool = False) -> Path:
    """Return the path of the built bundle, building it first when missing, stale or ``force``.

    Building runs ``npm ci --no-audit --no-fund --ignore-scripts`` in ``js/`` (when ``node_modules`` is
    missing or older than ``package-lock.json``) and then esbuild. Safe to call from several threads and
    processes at once. Raises :class:`BundleBuildError` when the bundle cannot be built.
    """
    bundle = bundle_path()
    if not force and not _is_stale(bundle):
        return bundle
    with _thread_lock:
        bundle.parent.mkdir(parents=True, exist_ok=True)
        lock_file = bundle.parent / ".embedding-bundle.lock"
        with lock_file.open("w") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                if not force and not _is_stale(bundle):  # another process built it meanwhile
                    return bundle
                _build(bundle, force=force)
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)
    return bundle


def _build(bundle: Path, *, force: bool) -> None:
    npm = shutil.which("npm")
    if npm is None:
        raise BundleBuildError("npm is not on PATH: install Node.js (>= 18) to build the embedding bundle")
    installed_marker = JS_DIR / "node_modules" / ".package-lock.json"
    if force or _mtime(installed_marker) < _mtime(JS_DIR / "package-lock.json"):
        # --ignore-scripts: nothing here needs an install script (esbuild's postinstall only swaps its JS
        # launcher for the native binary), and skipping them keeps third-party code from running at install.
        _run([npm, "ci", "--no-audit", "--no-fund", "--ignore-scripts"], timeout=NPM_TIMEOUT_SECONDS)
    esbuild = JS_DIR / "node_modules" / ".bin" / "esbuild"
    if not esbuild.exists():
        raise BundleBuildError(f"esbuild not found at {esbuild} after npm ci")
    tmp = bundle.with_name(f".{bundle.name}.{os.getpid()}.tmp")
    _run(
        [str(esbuild), "entry.js", "--bundle", "--format=esm", "--minify", "--log-level=warning", f"--outfile={tmp}"],
        timeout=ESBUILD_TIMEOUT_SECONDS,
    )
    os.replace(tmp, bundle)
