"""What a fresh machine needs for the suite itself (issue 23): the browser's libraries,
and a package that builds the same way next year."""

from __future__ import annotations

import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

from tests.conftest import _cannot_start, _driver_binaries, missing_libraries
from tests.support import ROOT, require_program

APT = (ROOT / "scripts/apt-test.txt").read_text()


def test_playwright_driver_finds_every_library_it_links():
    """On a minimal bookworm, node (Playwright's driver) missed libatomic.so.1 and every
    browser test errored with "Connection closed while reading from the driver"."""
    drivers = _driver_binaries()
    assert drivers, "Playwright's driver (node) not found"
    for binary in drivers:
        assert missing_libraries(binary) == [], binary
    needed = subprocess.run(["ldd", drivers[0]], capture_output=True, text=True).stdout
    if "libatomic.so.1" in needed:
        assert "\nlibatomic1\n" in APT


def test_chromium_finds_every_library_it_links():
    require_program("chromium", "chromium")
    assert missing_libraries("/usr/lib/chromium/chromium") == []


def test_a_missing_library_is_named_with_its_package(tmp_path):
    """A binary whose loader cannot find a library: the fixture's failure names it and
    the package to install, not a broken pipe."""
    fake = tmp_path / "fake-node"
    data = Path("/bin/true").read_bytes()
    assert b"libc.so.6\0" in data
    fake.write_bytes(data.replace(b"libc.so.6\0", b"libq.so.6\0"))
    fake.chmod(0o755)
    assert missing_libraries(str(fake)) == ["libq.so.6"]
    with pytest.raises(pytest.fail.Exception, match="missing libq.so.6; apt-get install"):
        _cannot_start("Playwright's driver", [str(fake)], RuntimeError("connection closed"))


def test_licence_is_an_spdx_expression_and_the_backend_is_pinned():
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert meta["project"]["license"] == "AGPL-3.0-or-later"
    assert not any(c.startswith("License ::") for c in meta["project"].get("classifiers", []))
    (backend,) = meta["build-system"]["requires"]
    assert backend.startswith("setuptools>=") and ",<" in backend


@pytest.mark.slow
def test_the_package_builds_without_deprecation_warnings(tmp_path):
    """A wheel built as pip builds it (isolated, the pinned backend) carries the SPDX
    licence and the backend says nothing about fields that will stop building."""
    import shutil

    from image_build.python_env import PACKAGES

    src = tmp_path / "src"  # a copy: an in-tree build would leave build/ in the clone
    for name in (*PACKAGES, "pyproject.toml", "README.md"):
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, src / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(ROOT / name, src / name)
    r = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-v", "-w", str(tmp_path), str(src)],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert "SetuptoolsDeprecationWarning" not in r.stdout + r.stderr
    (wheel,) = tmp_path.glob("espace_connecte-*.whl")
    with zipfile.ZipFile(wheel) as z:
        name = next(n for n in z.namelist() if n.endswith(".dist-info/METADATA"))
        metadata = z.read(name).decode()
    assert "License-Expression: AGPL-3.0-or-later" in metadata
