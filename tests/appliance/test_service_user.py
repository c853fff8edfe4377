"""Root-run commands leave nothing in the box's data directory that the services' user
cannot write (issue 21): they become the data's owner, or are refused naming the fix.

The box's data directory is ``root:espace`` 1775 and the services run as ``espace``;
here ``daemon`` (uid 1, in every Debian's base-passwd, with a group of the same name)
plays ``espace``."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
import traceback
from pathlib import Path

import pytest

from appliance import db as dbmod
from appliance import migrations
from appliance.service_user import RootRefused, become_data_owner, data_owner, refuse_root
from tests.support import require_root

SITE = """[site]
id = "kayes"
name = "Espace de Kayes"
communes = ["Kayes"]

[storage]
data_dir = "{data}"
"""


def test_refusal_names_the_owner_and_the_fix(tmp_path):
    """A unit-level check (any user): as root, another user's data directory is refused
    with the command to run instead; not as root, nothing is refused."""
    data = tmp_path / "data"
    data.mkdir()
    if os.geteuid() == 0:
        os.chown(data, 1, 1)
    owner = pwd.getpwuid(data.stat().st_uid).pw_name
    with pytest.raises(RootRefused) as err:
        refuse_root(data, geteuid=lambda: 0)
    text = str(err.value)
    assert f"{data} belongs to {owner}" in text
    assert f"sudo -u {owner} espace" in text
    assert f"runuser -u {owner} -- espace" in text
    refuse_root(data, geteuid=lambda: 1000)  # not root: nothing to refuse
    assert become_data_owner(data, geteuid=lambda: 1000) is None
    assert list(data.iterdir()) == []


@pytest.fixture
def box_data():
    """A data directory as on a box before its first database: root:daemon 1775, in a
    directory daemon can traverse (pytest's own temporary directories are root's 0700)."""
    require_root("chown to the services' stand-in user")
    top = Path(tempfile.mkdtemp(prefix="espace-owner-"))
    try:
        top.chmod(0o755)
        data = top / "data"
        data.mkdir()
        os.chown(data, 0, 1)
        data.chmod(0o1775)
        site = top / "site.toml"
        site.write_text(SITE.format(data=data))
        yield site, data
    finally:
        shutil.rmtree(top)


def _files(data: Path) -> dict[str, int]:
    return {str(p.relative_to(data)): p.lstat().st_uid for p in data.rglob("*")}


def _in_child(fn) -> None:
    """Run ``fn`` in a forked child (it drops privileges for good) and fail with its
    traceback if it raised."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        os.close(r)
        code = 0
        try:
            fn()
        except BaseException:  # noqa: BLE001 - reported to the parent
            os.write(w, traceback.format_exc().encode())
            code = 1
        os._exit(code)
    os.close(w)
    with os.fdopen(r, "rb") as f:
        report = f.read().decode()
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, report


def test_owner_is_read_from_the_database_then_the_directory(box_data):
    _, data = box_data
    assert data_owner(data).pw_name == "daemon"  # root:daemon: the group's user
    os.chown(data, 0, 0)
    assert data_owner(data) is None  # root's own data (a laptop, a test)
    (data / dbmod.DB_NAME).touch()
    os.chown(data / dbmod.DB_NAME, 1, 1)
    assert data_owner(data).pw_name == "daemon"


@pytest.mark.parametrize(
    "command, written",
    [(["sync", "status"], dbmod.DB_NAME), (["sms", "config"], "sms/gammu/smsdrc")],
)
def test_sudo_espace_runs_as_the_services_user(box_data, command, written):
    """``sudo espace sync status`` on a box whose database does not exist yet used to
    create it, and its -wal and -shm, as root (``sudo espace sms config``: the SMS
    spool): the web and worker could not write them. Now every file it leaves is the
    services' user's, and that user writes the database afterwards."""
    from click.testing import CliRunner

    from espace.cli import cli

    site, data = box_data
    # The same command on root's own directory first: every module it imports is loaded
    # before the child gives up root (this machine's Python may live under /root).
    warm = data.parent / "warm"
    warm_site = data.parent / "warm.toml"
    warm_site.write_text(SITE.format(data=warm))
    assert CliRunner().invoke(cli, [*command, "--site", str(warm_site)]).exit_code == 0

    def child():
        result = CliRunner().invoke(cli, [*command, "--site", str(site)])
        assert result.exit_code == 0, result.output
        assert os.geteuid() == 1
        assert f"espace: running as daemon, the owner of {data}" in result.output

    _in_child(child)
    files = _files(data)
    assert written in files
    assert {name for name, uid in files.items() if uid != 1} == set()
    if written == dbmod.DB_NAME:
        # The services' user (daemon here) writes the database after root's command.
        subprocess.run(
            [
                "runuser",
                "-u",
                "daemon",
                "--",
                "/usr/bin/python3",
                "-c",
                "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); "
                "c.execute('CREATE TABLE written_by_the_service (x)'); c.commit()",
                str(data / dbmod.DB_NAME),
            ],
            check=True,
        )


def test_root_opening_the_services_database_is_refused(box_data):
    """``sudo espace serve`` (or any other command that has not become the data's
    owner) is refused before anything is written, naming the fix."""
    from appliance.app import create_app

    site, data = box_data
    with pytest.raises(RootRefused, match="sudo -u daemon espace"):
        create_app({"SITE_FILE": str(site), "SECRET_KEY": "t"})
    assert _files(data) == {}
    # The boot step (as_root) may: it hands the files back afterwards.
    db = dbmod.open_database(data, as_root=True)
    migrations.migrate(db)
    db.close()
    os.chown(data / dbmod.DB_NAME, 1, 1)
    with pytest.raises(RootRefused):
        dbmod.open_database(data)


def test_a_file_the_services_user_cannot_read_is_named_not_a_traceback(box_data, tmp_path):
    """``sudo espace content import /root/x.zim`` runs as the data's owner, who cannot
    read root's 0700 home: one line naming the file and the user, one with the fix."""
    import contextlib
    import io
    import sys

    from espace.cli import main

    site, data = box_data
    secret = tmp_path / "private"  # pytest's temporary directories are root's 0700
    secret.mkdir(mode=0o700)
    zim = secret / "cours.zim"
    zim.write_bytes(b"ZIM")
    warm = data.parent / "warm.toml"
    warm.write_text(SITE.format(data=data.parent / "warm"))
    with contextlib.redirect_stderr(io.StringIO()), pytest.raises(SystemExit):
        sys.argv = ["espace", "content", "import", "--site", str(warm), str(zim)]
        main()  # as root: loads every module the child needs

    def child():
        err = io.StringIO()
        sys.argv = ["espace", "content", "import", "--site", str(site), str(zim)]
        with contextlib.redirect_stderr(err), pytest.raises(SystemExit) as code:
            main()
        text = err.getvalue()
        assert code.value.code == 1, text
        assert f"espace: error: {zim}: permission denied for daemon" in text, text
        assert "espace: fix: give daemon access to it" in text and "Traceback" not in text

    _in_child(child)
