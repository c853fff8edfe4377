"""What `espace sync status`, the kiosk's health panel and /api/health show."""

from __future__ import annotations

import datetime as dt

from ..models import Meta
from . import state
from .budget import in_windows, local_day, uplink_counters


def status(site) -> dict:
    from .client import pending_count

    now = dt.datetime.now(dt.UTC)
    day = local_day(now, site.site.timezone)
    last = state.SyncRun.select().order_by(state.SyncRun.id.desc()).first()
    enr = state.enrolment()
    budget = site.sync.daily_budget_mb * 1_000_000
    out = {
        "enrolled": f"yes, site {enr['site_id']} at {enr['url']}" if enr else "no",
        "pending events": pending_count(),
        "acknowledged": ", ".join(f"{k} {v}" for k, v in state.acked().items()),
        "pull cursor": state.cursor(),
        "voice notes waiting": state.SyncBlobTodo.select().where(
            state.SyncBlobTodo.done == 0).count(),
        "downloads waiting": state.SyncDownload.select().where(
            state.SyncDownload.done == 0).count(),
        "spent today": f"{state.spent(day)} of {budget} bytes",
        "in a sync window now": "yes" if in_windows(site.sync.windows, now,
                                                   site.site.timezone) else "no",
        "last run": (f"{last.started_at} {last.result} ({last.bytes} bytes, first round "
                     f"trip {last.rtt_ms} ms)") if last else "never",
        "last success": Meta.get_value("sync:last_success_at", "never"),
    }
    counters = uplink_counters(site.uplink.interface)
    if counters:
        out["uplink since boot"] = (f"{counters['interface']}: sent {counters['bytes_sent']}, "
                                    f"received {counters['bytes_recv']} bytes")
    return out
