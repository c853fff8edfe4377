"""Root-run commands and the box's data directory.

On a box the data directory is ``root:espace`` mode 1775 and the services (web, worker,
SMS) run as ``espace``. A technician's ``sudo espace sync now`` or ``sudo espace content
import`` would otherwise write as root there: a database created by root, ZIMs,
downloads, blobs and spool folders root's, which the services then cannot write, and
which the sticky bit stops them from replacing or removing. (SQLite itself gives the
``-wal`` and ``-shm`` files of an existing database its owner when root opens it; the
database file and everything else a command writes it does not.)

So a command that works on the box's data, run as root, first becomes the data's owner
(:func:`become_data_owner`), as ``espace fleet`` does with ``runuser -u espace``; and
:func:`appliance.db.open_database` refuses root, naming the fix, for every other caller
that did not say it may (the boot step, which hands the files back afterwards, and the
read-only checks of ``doctor`` and ``network status``). On a laptop or in a test, where
root owns the data directory, nothing changes.
"""

from __future__ import annotations

import grp
import os
import pwd
import sys
from pathlib import Path

from .errors import EspaceError

DB_NAME = "espace.sqlite3"  # appliance.db.DB_NAME (not imported: no peewee here)


class RootRefused(EspaceError):
    """A root process was about to write in a service user's data directory."""


def data_owner(data_dir: str | Path) -> pwd.struct_passwd | None:
    """The user the data directory's files must belong to, or None when it is root's.

    The database's owner if it exists; else the directory's owner, or the user named
    after its group (the box's ``root:espace`` 1775 before the first database)."""
    data_dir = Path(data_dir)
    try:
        st = (data_dir / DB_NAME).stat()
        if st.st_uid != 0:
            return _user(uid=st.st_uid)
    except FileNotFoundError:
        pass
    try:
        st = data_dir.stat()
    except FileNotFoundError:
        return None
    if st.st_uid != 0:
        return _user(uid=st.st_uid)
    if st.st_gid != 0:
        try:
            return _user(name=grp.getgrgid(st.st_gid).gr_name)
        except KeyError:
            return None
    return None


def _user(*, uid: int | None = None, name: str | None = None) -> pwd.struct_passwd | None:
    try:
        return pwd.getpwuid(uid) if uid is not None else pwd.getpwnam(name or "")
    except KeyError:
        return None


def become_data_owner(data_dir: str | Path, *, geteuid=os.geteuid) -> str | None:
    """Run the rest of this process as the data directory's owner when it runs as root
    (every file it writes is then the services'); returns that user's name, or None
    when nothing changed. Call it before the command writes anything."""
    if geteuid() != 0:
        return None
    owner = data_owner(data_dir)
    if owner is None:
        return None
    os.initgroups(owner.pw_name, owner.pw_gid)
    os.setgid(owner.pw_gid)
    os.setuid(owner.pw_uid)
    os.environ.update(HOME=owner.pw_dir, USER=owner.pw_name, LOGNAME=owner.pw_name)
    print(
        f"espace: running as {owner.pw_name}, the owner of {data_dir} (files written "
        "as root would be out of the services' reach)",
        file=sys.stderr,
    )
    return owner.pw_name


def refuse_root(data_dir: str | Path, *, geteuid=os.geteuid) -> None:
    """Raise :class:`RootRefused` when this process is root and the data directory is
    another user's."""
    if geteuid() != 0:
        return
    owner = data_owner(data_dir)
    if owner is None:
        return
    name = owner.pw_name
    raise RootRefused(
        f"{data_dir} belongs to {name}: as root this command would leave files there "
        f"that the services ({name}) cannot write",
        fix=f"run it as {name}: sudo -u {name} espace ... (or runuser -u {name} -- "
        "espace ...); to start the portal: systemctl start espace-web",
    )
