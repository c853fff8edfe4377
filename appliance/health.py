"""How the box is doing: figures for the kiosk's health panel, /api/health and doctor.

Functions that read the system take their root (``/sys``) as a parameter, so tests
feed them fixture files.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import psutil

from . import outbox


def cpu_temperature(sys_root: str | Path = "/sys") -> float | None:
    """Degrees Celsius of the SoC (thermal_zone0 on a Raspberry Pi), or None."""
    try:
        return int(Path(sys_root, "class/thermal/thermal_zone0/temp").read_text()) / 1000
    except (OSError, ValueError):
        return None


def snapshot(data_dir: Path, content_dir: Path, sys_root: str | Path = "/sys") -> dict:
    disk = shutil.disk_usage(data_dir)
    mem = psutil.virtual_memory()
    content_bytes = sum(p.stat().st_size for p in Path(content_dir).glob("*.zim")) \
        if Path(content_dir).is_dir() else 0
    return {
        "cpu_temp_c": cpu_temperature(sys_root),
        "load_1m": psutil.getloadavg()[0],
        "memory_available_mb": mem.available // 2**20,
        "memory_total_mb": mem.total // 2**20,
        "disk_free_mb": disk.free // 2**20,
        "disk_total_mb": disk.total // 2**20,
        "uptime_s": int(time.time() - psutil.boot_time()),
        "outbox_length": outbox.length(),
        **_sync_figures(),
        **_board_figures(),
        "content_mb": content_bytes // 2**20,
        "secure_origin": _secure_origin(data_dir),
    }


def _secure_origin(data_dir: Path) -> dict:
    """The box's name and certificate: {name, valid, reason, not_after (ISO)}."""
    from secure_origin import store

    return store.status(data_dir).as_dict()


def _board_figures() -> dict:
    """Board posts the facilitator should review, and published ones still unanswered."""
    from .board.models import Post

    return {"board_to_review": Post.select().where(Post.status == "pending").count(),
            "board_waiting_answer": Post.select().where(
                (Post.status == "published") & (Post.answer_count == 0)).count()}


def _sync_figures() -> dict:
    """Last successful sync (ISO UTC or None) and events central has not acknowledged."""
    from .models import Meta
    from .sync.client import pending_count

    return {"sync_last_success_at": Meta.get_value("sync:last_success_at"),
            "sync_outbox_lag": pending_count()}
