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
            "sync_outbox_lag": pending_count(),
            "sync": sync_state()}


# What the judgements below call bad: kept here, once, for the kiosk and doctor.
HOT_C = 75.0            # the Pi 4 throttles at 80 °C
LOW_DISK_MB = 1024      # below, ZIM imports and voice notes start failing
LOW_MEMORY_MB = 100


def judge(snap: dict) -> dict:
    """Each figure's verdict, "ok" or what is wrong: what a facilitator reads instead of
    raw numbers (issue 15: "charge 2.75" meant nothing)."""
    cores = psutil.cpu_count() or 1
    temp = snap.get("cpu_temp_c")
    sync = snap.get("sync") or {}
    return {
        "temperature": "unknown" if temp is None else ("hot" if temp >= HOT_C else "ok"),
        "load": "high" if snap["load_1m"] > cores else "normal",
        "disk": "low" if snap["disk_free_mb"] < LOW_DISK_MB else "ok",
        "memory": "low" if snap["memory_available_mb"] < LOW_MEMORY_MB else "ok",
        "sync": sync.get("state", "unknown"),
    }


def sync_state() -> dict:
    """Whether the sync works, from the sync's own records (``sync_run``): ``state`` is
    "ok", "never" (enrolled, no success yet), "failing" (the runs since the last
    success stopped on an error), "revoked" (central refuses this box) or
    "not_enrolled"; ``last_error`` and ``failing_since`` (ISO UTC) say what and since
    when; ``last_success`` and ``last_attempt`` (ISO UTC) when. A run that stopped
    for the budget or a running sync is not a failure."""
    from .models import Meta
    from .sync import state

    enrolled = state.enrolment() is not None
    last_success = Meta.get_value("sync:last_success_at")
    runs = list(state.SyncRun.select().order_by(state.SyncRun.id.desc()).limit(200))
    failed = []
    for run in runs:  # newest first: the streak of failures since the last good run
        if not run.result.startswith("stopped"):
            if run.finished_at:
                break
            continue
        failed.append(run)
    last_attempt = runs[0].started_at if runs else None
    out = {"enrolled": enrolled, "last_success": last_success, "last_attempt": last_attempt,
           "failing_since": failed[-1].started_at if failed else None,
           "failed_runs": len(failed),
           "last_error": failed[0].result.removeprefix("stopped: ")[:200] if failed else ""}
    if not enrolled:
        out["state"] = "not_enrolled"
    elif failed:
        error = out["last_error"].lower()
        out["state"] = "revoked" if ("revoked" in error or "answered 403" in error
                                     or "answered 401" in error) else "failing"
    elif not last_success:
        out["state"] = "never"
    else:
        out["state"] = "ok"
    return out
