"""HTTP byte ranges (RFC 9110 §14), parsed once for every file the box streams: the
library's media from ZIM files, the offline map's PMTiles file."""

from __future__ import annotations


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


def finish(resp, start: int, end: int, size: int, partial: bool, etag: str,
           cache_control: str):
    """The headers every streamed answer carries: its length, that ranges are
    accepted, the range served (when ``partial``), its ETag and caching."""
    resp.headers["Content-Length"] = str(end - start)
    resp.headers["Accept-Ranges"] = "bytes"
    if partial:
        resp.headers["Content-Range"] = f"bytes {start}-{end - 1}/{size}"
    resp.set_etag(etag)
    resp.headers["Cache-Control"] = cache_control
    return resp
