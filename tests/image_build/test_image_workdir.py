"""Image tests keep their gigabytes off RAM file systems (issue 23)."""

from __future__ import annotations

import subprocess

import pytest

from tests.image_build import workdir
from tests.support import require_root


@pytest.fixture
def tmpfs(tmp_path):
    require_root("mounting a tmpfs")
    mnt = tmp_path / "ram"
    mnt.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(mnt)], check=True)
    try:
        yield mnt
    finally:
        subprocess.run(["umount", str(mnt)], check=True)


def test_a_directory_on_disk_is_used_as_is(tmp_path):
    assert not workdir.in_ram(tmp_path)
    assert workdir.image_workdir(tmp_path, "run-1") == tmp_path


def test_a_tmpfs_is_left_for_a_directory_on_disk(tmpfs, tmp_path, monkeypatch):
    assert workdir.in_ram(tmpfs)
    monkeypatch.setenv("ESPACE_IMAGE_WORKDIR", str(tmp_path / "disk"))
    work = workdir.image_workdir(tmpfs, "run-1")
    assert work == tmp_path / "disk" / "run-1" and work.is_dir()
    assert not workdir.in_ram(work)


def test_a_workdir_in_ram_too_is_refused_with_the_fix(tmpfs, monkeypatch):
    monkeypatch.setenv("ESPACE_IMAGE_WORKDIR", str(tmpfs / "also-ram"))
    monkeypatch.setattr(workdir, "CI", False)
    with pytest.raises(pytest.skip.Exception, match="ESPACE_IMAGE_WORKDIR"):
        workdir.image_workdir(tmpfs, "run-1")
