"""HTTP byte ranges (RFC 9110 §14), parsed once for every file the box streams: the
library's media from ZIM files, a course's audio and video (learning/media.py), the
offline map's PMTiles file; and :class:`RangeFile`, the window of a file they stream."""

from __future__ import annotations

import os
from pathlib import Path


def parse_range(header: str | None, size: int) -> tuple[int, int] | None | bool:
    """One byte range ``(start, end_exclusive)``; None to serve everything (no or
    ignorable header); False when unsatisfiable (416)."""
    if not header or not header.startswith("bytes="):
        return None
    spec = header[6:].strip()
    if "," in spec:
        return None  # several ranges: answer with the whole entity (allowed)
    first, sep, last = spec.partition("-")
    if not sep:
        return None
    try:
        if first == "":
            n = int(last)
            if n <= 0:
                return False
            return max(0, size - n), size
        start = int(first)
        end = int(last) + 1 if last else size
    except ValueError:
        return None
    if start < 0 or end <= start:
        return None if end <= start and last else False
    if start >= size:
        return False
    return start, min(end, size)


def finish(resp, start: int, end: int, size: int, partial: bool, etag: str, cache_control: str):
    """The headers every streamed answer carries: its length, that ranges are
    accepted, the range served (when ``partial``), its ETag and caching."""
    resp.headers["Content-Length"] = str(end - start)
    resp.headers["Accept-Ranges"] = "bytes"
    if partial:
        resp.headers["Content-Range"] = f"bytes {start}-{end - 1}/{size}"
    resp.set_etag(etag)
    resp.headers["Cache-Control"] = cache_control
    return resp


class RangeFile:
    """A read-only window [offset, offset+length) of a file, as a file object, so
    waitress's ``wsgi.file_wrapper`` streams it from disk (seek/tell/read are
    relative to the window). Closing it closes its descriptor."""

    def __init__(self, path: Path, offset: int, length: int) -> None:
        self.fd = os.open(path, os.O_RDONLY)
        self.offset, self.length, self.pos = offset, length, 0

    def read(self, n: int = -1) -> bytes:
        left = self.length - self.pos
        if n is None or n < 0 or n > left:
            n = left
        if n <= 0:
            return b""
        data = os.pread(self.fd, n, self.offset + self.pos)
        self.pos += len(data)
        return data

    def seek(self, pos: int, whence: int = 0) -> int:
        base = {0: 0, 1: self.pos, 2: self.length}[whence]
        self.pos = max(0, min(self.length, base + pos))
        return self.pos

    def tell(self) -> int:
        return self.pos

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
