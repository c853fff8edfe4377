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
            Path(path).unlink(missing_ok=True)
            gone.append(Path(path))
        finally:
            os.close(fd)
    return gone
