"""The one way Espace writes a file that must survive a power cut: write a temporary
file beside it, fsync it, rename it over the target, fsync the directory. After a cut
the target is either the old file or the new one, never a torn mix or an empty file;
a temporary file a cut leaves behind ends in ``.tmp`` for the start-up sweep."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO


def fsync_dir(path: str | Path) -> None:
    """Make a rename or unlink in ``path`` durable (the directory entry itself)."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_open(path: str | Path, mode: int = 0o644) -> Iterator[BinaryIO]:
    """A binary file to write; on a clean exit it replaces ``path`` durably with
    permissions ``mode`` (set before any byte is written: a key is never readable by
    others, even for a moment). On an exception the target is untouched."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    fsync_dir(path.parent)


def write_atomic(path: str | Path, data: bytes | str, mode: int = 0o644) -> None:
    """Replace ``path`` with ``data`` (text is UTF-8), durably; see :func:`atomic_open`."""
    with atomic_open(path, mode) as f:
        f.write(data.encode() if isinstance(data, str) else data)


def create_once(path: str | Path, make: bytes | str, mode: int = 0o600) -> bytes:
    """The bytes of ``path``, writing ``make`` there first if it does not exist yet
    (a key made once). Two processes racing both write a whole file; the later rename
    wins and both read back what won, so they agree."""
    path = Path(path)
    try:
        return path.read_bytes()
    except FileNotFoundError:
        pass
    write_atomic(path, make, mode)
    return path.read_bytes()
