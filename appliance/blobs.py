"""Content-addressed files (voice notes, photos) under ``DATA_DIR/blobs``.

A blob is named by the SHA-256 of its bytes, so storing the same file twice costs
nothing and the sync can move it by hash. Writing is atomic and durable: bytes go
to a temporary file in the same directory, are fsynced, then renamed into place
and the directory fsynced; a power cut leaves either the whole blob or nothing
(and perhaps a ``.tmp`` file that :func:`sweep_temporary` removes at the next start).
A writer holds its ``.tmp`` file locked, so a sweep in another process never removes
a blob being written.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

HEX64 = re.compile(r"[0-9a-f]{64}")
CHUNK = 64 * 1024


class BlobTooLarge(ValueError):
    pass


def blob_dir(data_dir: str | Path) -> Path:
    return Path(data_dir) / "blobs"


def path_for(data_dir: str | Path, sha256: str) -> Path:
    """Where a blob lives; refuses anything that is not a SHA-256 (no path tricks)."""
    if not HEX64.fullmatch(sha256):
        raise ValueError("not a SHA-256 hex digest")
    return blob_dir(data_dir) / sha256[:2] / sha256


def fsync_dir(path: Path) -> None:
    """Make a rename or unlink in ``path`` durable (the directory entry itself)."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def put(data_dir: str | Path, source: BinaryIO, max_bytes: int | None = None) -> tuple[str, int]:
    """Store a stream; return (sha256, size). Raises BlobTooLarge past ``max_bytes``
    (nothing is kept)."""
    root = blob_dir(data_dir)
    root.mkdir(parents=True, exist_ok=True)
    digest, size = hashlib.sha256(), 0
    fd, tmp_name = tempfile.mkstemp(dir=root, suffix=".tmp")
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # released when closed, or when the process dies
        with os.fdopen(fd, "wb") as out:
            while chunk := source.read(CHUNK):
                size += len(chunk)
                if max_bytes is not None and size > max_bytes:
                    raise BlobTooLarge(f"larger than {max_bytes} bytes")
                digest.update(chunk)
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        sha = digest.hexdigest()
        final = path_for(data_dir, sha)
        if final.exists():
            os.unlink(tmp_name)
            return sha, size
        final.parent.mkdir(exist_ok=True)
        os.replace(tmp_name, final)
        fsync_dir(final.parent)
        return sha, size
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise


def put_bytes(data_dir: str | Path, data: bytes) -> tuple[str, int]:
    import io

    return put(data_dir, io.BytesIO(data))


def sweep_temporary(data_dir: str | Path) -> int:
    """Remove ``.tmp`` files a power cut left behind; return how many. A file a live
    writer holds locked is left alone."""
    root = blob_dir(data_dir)
    return sum(1 for _ in remove_unlocked(root.glob("*.tmp") if root.is_dir() else []))


def remove_unlocked(paths) -> list[Path]:
    """Remove each of ``paths`` that no process holds locked (``flock``), i.e. whose
    writer died; return the removed ones. The lock is taken before the unlink, so a
    writer cannot take it back in between."""
    gone = []
    for path in abandoned(paths):
        Path(path).unlink(missing_ok=True)
        gone.append(Path(path))
    return gone


def abandoned(paths):
    """Yield each of ``paths`` that no live process holds locked (``flock``), holding
    its lock while the caller deals with it; files gone meanwhile are skipped."""
    for path in paths:
        try:
            fd = os.open(path, os.O_RDONLY)
        except FileNotFoundError:
            continue  # finished or removed meanwhile by its writer
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue  # a live writer's
            yield path
        finally:
            os.close(fd)


# --- staging: bytes written before the row that names them commits --------------------


@dataclass
class Staged:
    """Bytes written, fsynced and locked under an ``incoming`` folder (the board's voice
    notes, learners' work) until the row naming them commits: then :func:`promote`
    (into the store), else :func:`discard`."""

    sha256: str
    size: int
    path: Path | None  # None: the store already holds these bytes
    fd: int = -1


def stage(data_dir: str | Path, incoming: str, data: bytes) -> Staged:
    sha = hashlib.sha256(data).hexdigest()
    if path_for(data_dir, sha).exists():
        return Staged(sha, len(data), None)
    folder = Path(data_dir) / incoming
    folder.mkdir(parents=True, exist_ok=True)
    # A name per upload: two people sending the same bytes at once each own their
    # staging file, so one's rollback never removes the other's.
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=sha + ".", suffix=".part")
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # a sweep in another process leaves it alone
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
        staged = Path(tmp[: -len(".part")])
        os.replace(tmp, staged)
        fsync_dir(folder)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        os.close(fd)
        raise
    return Staged(sha, len(data), staged, fd)


def promote(data_dir: str | Path, staged: Staged) -> None:
    """Move staged bytes into the store (after their row committed)."""
    try:
        if staged.path is not None:
            final = path_for(data_dir, staged.sha256)
            final.parent.mkdir(parents=True, exist_ok=True)
            os.replace(staged.path, final)
            fsync_dir(final.parent)
    finally:
        if staged.fd >= 0:
            os.close(staged.fd)


def discard(staged: Staged | None) -> None:
    if staged and staged.path is not None:
        staged.path.unlink(missing_ok=True)
    if staged and staged.fd >= 0:
        os.close(staged.fd)


def recover_incoming(data_dir: str | Path, incoming: str, referenced: set[str]) -> tuple[int, int]:
    """After a crash: promote staged files whose row committed (their sha256 is in
    ``referenced``), delete the others. Returns (promoted, deleted). Safe at any time: a
    staging file a live upload holds locked is left alone."""
    folder = Path(data_dir) / incoming
    if not folder.is_dir():
        return 0, 0
    promoted = deleted = 0
    for path in abandoned(sorted(folder.iterdir())):
        sha = path.name.split(".", 1)[0]
        if path.suffix != ".part" and HEX64.fullmatch(sha) and sha in referenced:
            if path_for(data_dir, sha).exists():
                path.unlink()
            else:
                promote(data_dir, Staged(sha, 0, path))
                promoted += 1
        else:
            path.unlink(missing_ok=True)
            deleted += 1
    return promoted, deleted
