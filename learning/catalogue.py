"""The courses installed on this box: course ZIMs of the library's directory, read once
per file version (path, size, mtime)."""

from __future__ import annotations

import threading
from pathlib import Path

from .course import Course, read_course

_lock = threading.Lock()
_seen: dict[Path, tuple[tuple[int, int], Course | None]] = {}


def courses(content_dir: Path) -> dict[str, tuple[Path, Course]]:
    out: dict[str, tuple[Path, Course]] = {}
    for p in sorted(Path(content_dir).glob("*.zim")):
        try:
            st = p.stat()
        except OSError:
            continue
        version = (st.st_size, st.st_mtime_ns)
        with _lock:
            held = _seen.get(p)
        if held is None or held[0] != version:
            held = (version, read_course(p))
            with _lock:
                _seen[p] = held
        if held[1] is not None:
            out.setdefault(held[1].id, (p, held[1]))
    return out


def course(content_dir: Path, course_id: str) -> tuple[Path, Course] | None:
    return courses(content_dir).get(course_id)
