"""The courses installed on this box: the ZIMs of the library's directory read as
courses (ours, and MOOC ZIMs whose structure allows: :mod:`learning.mooc`), each read
once per file version (path, size, mtime). A ZIM that is not a course keeps the reason,
for the kiosk to say why it stays a book."""

from __future__ import annotations

import threading
from pathlib import Path

from .course import Course
from .mooc import DUPLICATE, Reading, read

_lock = threading.Lock()
_seen: dict[Path, tuple[tuple[int, int], Reading]] = {}


def readings(content_dir: Path) -> list[tuple[Path, Reading]]:
    """Every ZIM of the directory with how it reads (the first of two ZIMs carrying the
    same course id wins; the other is marked a duplicate)."""
    out: list[tuple[Path, Reading]] = []
    ids: set[str] = set()
    for p in sorted(Path(content_dir).glob("*.zim")):
        try:
            st = p.stat()
        except OSError:
            continue
        version = (st.st_size, st.st_mtime_ns)
        with _lock:
            held = _seen.get(p)
        if held is None or held[0] != version:
            held = (version, read(p))
            with _lock:
                _seen[p] = held
        reading = held[1]
        if reading.course is not None:
            if reading.course.id in ids:
                reading = Reading(None, DUPLICATE, reading.course.id, reading.title)
            else:
                ids.add(reading.course.id)
        out.append((p, reading))
    return out


def courses(content_dir: Path) -> dict[str, tuple[Path, Course]]:
    return {r.course.id: (p, r.course) for p, r in readings(content_dir) if r.course}


def course(content_dir: Path, course_id: str) -> tuple[Path, Course] | None:
    return courses(content_dir).get(course_id)


def books(content_dir: Path) -> list[tuple[Path, Reading]]:
    """The ZIMs that stay books of the library, each with why."""
    return [(p, r) for p, r in readings(content_dir) if r.course is None]
