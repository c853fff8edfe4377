"""Putting ZIM files into the library and taking them out, never half-way.

An import checks free space first (keeping ``storage.reserve_mb`` free so the
database stays writable), copies to a hidden temporary name in the content
directory, fsyncs, verifies the copy with libzim (opens it, checks its MD5
checksum, reads its main page) and only then renames it into place atomically.
Whatever fails, the temporary file is removed: nothing half-installed remains.
"""

from __future__ import annotations

import fcntl
import os
import re
import shutil
from collections.abc import Callable
from pathlib import Path

from appliance.blobs import fsync_dir, remove_unlocked
from appliance.errors import EspaceError
from appliance.zimfile import is_zim_header

from .library import BOOK_NAME, forget
from .precompressed import DIR

CHUNK = 1024 * 1024


class ContentError(EspaceError):
    """A ZIM could not be installed or removed; the message names the fix."""


class NotEnoughSpace(ContentError):
    pass


class BadZim(ContentError):
    pass


def book_name_for(filename: str) -> str:
    """A safe book name from a file name: 'wikipedia_bm_all 2024.zim' ->
    'wikipedia_bm_all_2024'."""
    stem = filename[:-4] if filename.lower().endswith(".zim") else filename
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", stem).strip("._-")[:120]
    if not name or not BOOK_NAME.fullmatch(name):
        raise ContentError(f"{filename!r} does not give a usable book name",
                           "rename the file to letters, digits, '-' and '_' ending in .zim")
    return name


def check_space(directory: Path, needed: int, reserve_mb: int) -> None:
    usage = shutil.disk_usage(directory)
    reserve = reserve_mb * 1024 * 1024
    if usage.free - needed < reserve:
        raise NotEnoughSpace(
            f"not enough free space: {needed // 2**20} MB needed, "
            f"{max(0, usage.free - reserve) // 2**20} MB usable "
            f"({reserve_mb} MB kept free for the database)",
            "remove a book with `espace content remove NAME` or use a larger SD card")


def verify(path: Path, label: str | None = None) -> None:
    """Raise :class:`BadZim` unless ``path`` is a complete, intact ZIM."""
    from libzim.reader import Archive

    label = label or path.name
    with open(path, "rb") as f:
        head = f.read(80)
    if not is_zim_header(head):
        raise BadZim(f"{label} is not a ZIM file", "copy the .zim file itself, not an "
                     "archive or a web page; check the download")
    try:
        archive = Archive(path)
    except RuntimeError as e:
        raise BadZim(f"{label} is truncated or corrupt ({str(e).splitlines()[0][:120]})",
                     "copy or download the file again; if a USB stick, check it on a "
                     "computer") from None
    try:
        ok = archive.check() if archive.has_checksum else True
        if ok and archive.has_main_entry:
            main = archive.main_entry
            (main.get_item() if not main.is_redirect else main.get_redirect_entry().get_item())
    except (RuntimeError, KeyError):
        ok = False
    if not ok:
        raise BadZim(f"{label} is corrupt (its checksum does not match)",
                     "copy or download the file again; if a USB stick, check it on a "
                     "computer")


def zim_uuid(path: Path) -> bytes:
    """The 16-byte UUID in a ZIM's header (bytes 8-24): the same book under any name."""
    with open(path, "rb") as f:
        head = f.read(24)
    return head[8:24] if is_zim_header(head) and len(head) == 24 else b""


def same_book(content_dir: Path, uuid: bytes, name: str) -> str | None:
    """The name of an installed book, other than ``name``, with this UUID."""
    for other in sorted(Path(content_dir).glob("*.zim")):
        if other.stem != name and uuid and zim_uuid(other) == uuid:
            return other.stem
    return None


def install(tmp: Path, content_dir: Path, name: str, replace: bool = False) -> Path:
    """Verify a complete file in the content directory and rename it into place.

    The same ZIM (same UUID) under another file name is refused, or with ``replace``
    takes the place of the installed copy: never two copies, which would double every
    search result."""
    dest = content_dir / f"{name}.zim"
    if dest.exists() and not replace:
        raise ContentError(f"a book named {name} is already installed",
                           f"remove it first (`espace content remove {name}`) or use --replace")
    verify(tmp, f"{name}.zim")
    twin = same_book(content_dir, zim_uuid(tmp), name)
    if twin and not replace:
        raise ContentError(f"this ZIM is already installed as {twin}",
                           f"nothing to do; to rename it, use --replace (it takes {twin}'s "
                           f"place) or `espace content remove {twin}` first")
    os.replace(tmp, dest)
    fsync_dir(content_dir)
    if twin:
        remove(twin, content_dir)
    forget(content_dir)
    return dest


def import_zim(src: Path, content_dir: Path, reserve_mb: int, replace: bool = False,
               progress: Callable[[int], None] | None = None) -> Path:
    """Copy ``src`` into the library, verified and atomically. Returns the new path."""
    src = Path(src)
    if not src.is_file():
        raise ContentError(f"{src} is not a file", "give the path of a .zim file")
    with open(src, "rb") as f:
        if not is_zim_header(f.read(80)):
            raise BadZim(f"{src.name} is not a ZIM file", "copy the .zim file itself, not "
                         "an archive or a web page")
    name = book_name_for(src.name)
    content_dir.mkdir(parents=True, exist_ok=True)
    if (content_dir / f"{name}.zim").exists() and not replace:
        raise ContentError(f"a book named {name} is already installed",
                           f"remove it first (`espace content remove {name}`) or use --replace")
    size = src.stat().st_size
    check_space(content_dir, size, reserve_mb)
    tmp = content_dir / f".{name}.importing"
    try:
        with open(src, "rb") as fin, open(tmp, "wb") as fout:
            # Held until the file is closed or this process dies: the sweep at start
            # (cleanup) leaves a locked file alone, so an import running from the CLI
            # survives the web app or the worker restarting.
            fcntl.flock(fout.fileno(), fcntl.LOCK_EX)
            while chunk := fin.read(CHUNK):
                fout.write(chunk)
                if progress:
                    progress(len(chunk))
            fout.flush()
            os.fsync(fout.fileno())
        return install(tmp, content_dir, name, replace)
    finally:
        tmp.unlink(missing_ok=True)


def remove(name: str, content_dir: Path) -> Path:
    path = content_dir / f"{name}.zim"
    if not BOOK_NAME.fullmatch(name) or not path.is_file():
        raise ContentError(f"no book named {name!r}", "see `espace content list`")
    path.unlink()
    fsync_dir(content_dir)
    forget(content_dir)
    for store in (content_dir / DIR).glob(f"{name}-*"):
        if _STORE_NAME.fullmatch(store.name[len(name) + 1:]):
            store.unlink()
    return path


_STORE_NAME = re.compile(r"[0-9a-f]{32}\.(sqlite|part)(-wal|-shm|-journal)?")


def cleanup(content_dir: Path) -> list[Path]:
    """Remove leftovers of imports cut by a power failure or a kill (never partial
    downloads, which resume; never an import still running, which holds its file
    locked). Run at start and daily (:func:`content_cache.jobs.sweep_imports`)."""
    return remove_unlocked(sorted(Path(content_dir).glob(".*.importing")))
