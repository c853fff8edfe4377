"""Where image tests put their ~2.5 GB: never a RAM file system (issue 23: where /tmp is
a tmpfs, Debian trixie's default, the builds filled it and failed)."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from tests.support import CI

NEEDED_MIB = 3000
# Work directories of earlier runs older than this are removed (kept while a run may
# still use them: several engineers share this machine's cache).
STALE_S = 6 * 3600


def fs_type(path: Path) -> str:
    """The file system type of ``path`` as stat(1) names it (ext2/ext3, tmpfs, ...)."""
    return subprocess.run(
        ["stat", "-f", "-c", "%T", str(path)], capture_output=True, text=True, check=True
    ).stdout.strip()


def in_ram(path: Path) -> bool:
    return fs_type(path) in {"tmpfs", "ramfs"}


def cache_dir() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "espace-image"


def image_workdir(base: Path, run_key: str) -> Path:
    """``base`` when it is on disk; otherwise a directory for this run (``run_key``) under
    ``$ESPACE_IMAGE_WORKDIR`` or the image cache (~/.cache/espace-image/test-work).
    Skips (fails under CI=true) when no disk directory has the space."""
    if not in_ram(base):
        return base
    root = Path(os.environ.get("ESPACE_IMAGE_WORKDIR") or cache_dir() / "test-work")
    root.mkdir(parents=True, exist_ok=True)
    if in_ram(root):
        _refuse(
            f"{base} and {root} are in RAM (tmpfs); set ESPACE_IMAGE_WORKDIR to a "
            "directory on disk with 3 GB free"
        )
    now = time.time()
    for old in root.iterdir():
        if old.name != run_key and now - old.stat().st_mtime > STALE_S:
            shutil.rmtree(old, ignore_errors=True)
    free = shutil.disk_usage(root).free // 2**20
    if free < NEEDED_MIB:
        _refuse(
            f"{root} has {free} MiB free, image tests need {NEEDED_MIB} MiB; set "
            "ESPACE_IMAGE_WORKDIR to a directory on disk with more room"
        )
    work = root / run_key
    work.mkdir(exist_ok=True)
    return work


def _refuse(message: str) -> None:
    if CI:
        pytest.fail(message)
    pytest.skip(message)
