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
