"""Releases pushed by `espace fleet upgrade`: root's, checked against their wheel before
root runs them, refused when anything else wrote into them (issue 21)."""

from __future__ import annotations

import base64
import hashlib
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.support import require_root


def make_wheel(dest: Path, version: str, files: dict[str, str] | None = None,
               record: bool = True, metadata: bool = True) -> Path:
    """A minimal espace_connecte wheel with its RECORD, as pip writes it (without
    METADATA: a release whose version check fails)."""
    files = files or {"appliance/__init__.py": f"__version__ = {version!r}\n"}
    info = f"espace_connecte-{version}.dist-info"
    if metadata:
        files = {**files, f"{info}/METADATA": "Metadata-Version: 2.1\nName: espace-connecte"
                                               f"\nVersion: {version}\n"}
    path = dest / f"espace_connecte-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as z:
        lines = []
        for name, text in files.items():
            z.writestr(name, text)
            digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest())
            lines.append(f"{name},sha256={digest.decode().rstrip('=')},{len(text)}")
        if record:
            z.writestr(f"{info}/RECORD", "\n".join([*lines, f"{info}/RECORD,,"]) + "\n")
    return path


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def releases(tmp_path):
    require_root("releases belong to root")
    return tmp_path / "data/releases"


def test_installed_release_is_roots_and_verified(releases, tmp_path):
    from image_build.release import current, install, verify

    wheel = make_wheel(tmp_path, "9.1.0")
    dest = install(wheel, sha(wheel), releases)
    assert verify(dest) == []
    for p in [dest, *dest.rglob("*")]:
        st = p.lstat()
        assert st.st_uid == 0 and not st.st_mode & 0o022, p
    os.symlink("9.1.0", releases / "current")
    assert current(releases) == dest


def test_a_wheel_changed_on_the_way_is_refused(releases, tmp_path):
    from image_build.release import ReleaseError, install

    wheel = make_wheel(tmp_path, "9.1.0")
    with pytest.raises(ReleaseError, match="is not the one sent"):
        install(wheel, "0" * 64, releases)
    assert not (releases / "9.1.0").exists()
    (tmp_path / "x").mkdir()
    unrecorded = make_wheel(tmp_path / "x", "9.2.0", record=False)
    with pytest.raises(ReleaseError, match="no RECORD"):
        install(unrecorded, sha(unrecorded), releases)


@pytest.mark.parametrize("tamper", ["edit", "add", "chown", "chmod", "link"])
def test_a_release_changed_after_install_is_refused(releases, tmp_path, tamper):
    """What a compromised service could do if it reached the release: each is caught
    before root runs it, and the launcher falls back to the factory version."""
    from image_build.release import ReleaseError, current, install

    wheel = make_wheel(tmp_path, "9.1.0")
    dest = install(wheel, sha(wheel), releases)
    os.symlink("9.1.0", releases / "current")
    init = dest / "appliance/__init__.py"
    if tamper == "edit":
        init.write_text("import os; os.system('id > /tmp/pwned')\n")
    elif tamper == "add":
        (dest / "appliance/evil.py").write_text("x = 1\n")
    elif tamper == "chown":
        os.chown(init, 990, 990)
    elif tamper == "chmod":
        init.chmod(0o666)
    elif tamper == "link":
        init.unlink()
        init.symlink_to("/etc/hostname")
    with pytest.raises(ReleaseError, match="refused"):
        current(releases)
    argv = [sys.executable, "-I", "-m", "image_build.release", "current", str(releases)]
    r = subprocess.run(argv, capture_output=True, text=True,
                       cwd=Path(__file__).resolve().parents[2])
    assert r.returncode == 1 and r.stdout == "" and "factory version" in r.stderr


def test_a_releases_directory_of_the_services_user_is_moved_aside(tmp_path):
    require_root("chown")
    from image_build import boot

    data = tmp_path / "data"
    (data / "releases/current/appliance").mkdir(parents=True)
    os.chown(data / "releases", 990, 990)
    boot._secure_releases(data)
    assert not (data / "releases").exists() and (data / "releases.refused").is_dir()


def test_data_top_is_sticky_and_roots_entries_stay_roots(tmp_path, monkeypatch):
    """The services' user owns what it writes; it cannot rename root's releases away."""
    require_root("chown")
    import pwd

    from image_build import boot

    monkeypatch.setattr(pwd, "getpwnam", lambda name: pwd.struct_passwd(
        ("espace", "x", 990, 990, "", "/", "/bin/false")))
    data = tmp_path / "data"
    (data / "releases/1.0").mkdir(parents=True)
    (data / "content").mkdir()
    (data / "espace.sqlite3").write_text("")
    (data / "identity.txt").write_text("box_id=x\n")
    boot._chown_data(data)
    st = data.stat()
    assert (st.st_uid, st.st_gid, st.st_mode & 0o7777) == (0, 990, 0o1775)
    assert (data / "releases").stat().st_uid == 0
    assert (data / "releases/1.0").stat().st_uid == 0
    assert (data / "identity.txt").stat().st_uid == 0
    assert (data / "espace.sqlite3").stat().st_uid == 990
    assert (data / "content").stat().st_uid == 990


def test_the_launchers_put_only_a_verified_release_on_the_path(releases, tmp_path):
    """The image's /usr/local/bin/espace and espace-boot, run with this machine's paths:
    a good release is used; once changed, the factory version runs and stderr says why."""
    from image_build import files
    from image_build.release import install

    data = releases.parent
    wheel = make_wheel(tmp_path, "9.1.0")
    install(wheel, sha(wheel), releases)
    os.symlink("9.1.0", releases / "current")
    for text in (files.LAUNCHER, files.BOOT_LAUNCHER):
        script = tmp_path / "launcher"
        body = text.replace("/var/lib/espace", str(data)).replace(
            "/opt/espace/venv/bin/python3", sys.executable)
        body = body[:body.index("exec ")] + 'echo "PYTHONPATH=${PYTHONPATH:-}"\n'
        script.write_text(body)
        env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        r = subprocess.run(["sh", str(script)], capture_output=True, text=True, env=env,
                           cwd=Path(__file__).resolve().parents[2])
        assert r.stdout.strip() == f"PYTHONPATH={releases / '9.1.0'}", r.stderr
    (releases / "9.1.0/appliance/__init__.py").write_text("import os\n")
    r = subprocess.run(["sh", str(script)], capture_output=True, text=True, env=env,
                       cwd=Path(__file__).resolve().parents[2])
    assert r.stdout.strip() == "PYTHONPATH=" and "release 9.1.0 refused" in r.stderr
