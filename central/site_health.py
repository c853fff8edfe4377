"""A site's health in words, for the admins' list of sites (issue 15): its sync (last
contact, central's last refusal of its box, the error its box's syncs stopped on), its
clock against central's, its free disk. Each state is a level (``ok``, ``warn``,
``bad``, ``unknown``) and a sentence: the page shows both, never a colour alone."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from .i18n import _
from .models import Site

CLOCK_OK_SECONDS = 300  # an exchange's own delay and a box's drift between syncs
CLOCK_PLAUSIBLE_FROM = dt.datetime(2025, 1, 1)  # as the box's sync/state.py
DISK_LOW_MB, DISK_CRITICAL_MB = 1024, 200
STALE_DAYS = 3
REFUSALS = {
    "revoked": lambda: _("its box is revoked or was replaced: issue a new code if it should sync"),
    "signature": lambda: _(
        "a request with a bad signature (a damaged card, or someone else's copy of its key?)"
    ),
    "replay": lambda: _(
        "a replayed request (a copy of an old one: someone else, or a "
        "box restored from an old backup)"
    ),
}


@dataclass(frozen=True)
class State:
    level: str  # ok, warn, bad, unknown
    text: str


def _ago(delta: dt.timedelta) -> str:
    seconds = max(0, delta.total_seconds())
    if seconds < 3600:
        return _("%(n)d min ago", n=seconds // 60)
    if seconds < 48 * 3600:
        return _("%(n)d h ago", n=round(seconds / 3600))
    return _("%(n)d days ago", n=round(seconds / 86400))


def sync(site: Site, now: dt.datetime) -> list[State]:
    """The last contact, then why it may have stopped: central's refusal of the box
    (newer than the last contact) and the error the box reported."""
    out = []
    if site.last_contact is None:
        out.append(State("bad", _("Never synced")))
    else:
        age = now - site.last_contact
        out.append(
            State("bad" if age.days >= STALE_DAYS else "ok", _("Last sync %(ago)s", ago=_ago(age)))
        )
    if (
        site.refusal
        and site.refusal_at
        and (site.last_contact is None or site.refusal_at >= site.last_contact)
    ):
        code, _sep, _detail = site.refusal.partition(":")
        why = REFUSALS[code]() if code in REFUSALS else site.refusal[:200]
        out.append(
            State(
                "warn" if code == "replay" else "bad",
                _("Refused by central %(ago)s: %(why)s", ago=_ago(now - site.refusal_at), why=why),
            )
        )
    if site.last_error:
        since = site.last_error_since[:16].replace("T", " ")
        out.append(
            State(
                "warn",
                _(
                    "Its syncs failed since %(since)s UTC: %(error)s",
                    since=since or "?",
                    error=site.last_error,
                ),
            )
        )
    return out


def clock(site: Site) -> State:
    """The box's clock against central's at its last exchange."""
    if site.clock_offset is None or site.clock_at is None:
        return State("unknown", _("Not reported (older software)"))
    offset = int(site.clock_offset)
    try:
        shown = site.clock_at + dt.timedelta(seconds=offset)
    except OverflowError:
        shown = dt.datetime.min
    if shown < CLOCK_PLAUSIBLE_FROM:
        return State(
            "bad", _("Wrong: the box believes it is %(date)s", date=shown.date().isoformat())
        )
    if abs(offset) <= CLOCK_OK_SECONDS:
        return State("ok", _("On time"))
    size = abs(offset)
    amount = (
        _("%(n)d min", n=size // 60)
        if size < 3600
        else _("%(n)d h", n=round(size / 3600))
        if size < 48 * 3600
        else _("%(n)d days", n=round(size / 86400))
    )
    text = (
        _("%(amount)s ahead", amount=amount)
        if offset > 0
        else _("%(amount)s behind", amount=amount)
    )
    return State("warn" if size < 3600 else "bad", text)


def disk(site: Site) -> State:
    free = site.disk_free_mb
    if free is None:
        return State("unknown", _("Not reported yet"))
    if free < DISK_CRITICAL_MB:
        return State("bad", _("Almost full: %(mb)d MB free", mb=free))
    if free < DISK_LOW_MB:
        return State("warn", _("Low: %(mb)d MB free", mb=free))
    return State("ok", _("%(gb)s GB free", gb=f"{free / 1024:.1f}"))
