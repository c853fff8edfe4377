"""The box's clock. A Raspberry Pi has no real-time clock and, offline, no time
source: after a power cut it may wake up in the past. The kiosk shows the time,
says when it is implausible, and lets the facilitator set it.

Setting the clock: the web process is not root. It runs ``timedatectl set-time``
with a fixed argv (never a shell string) and an explicit UTC timestamp;
systemd-timedated does the change if polkit allows the ``espace`` user the action
``org.freedesktop.timedate1.set-time`` (the rule is in docs/kiosk.md). Ordering of
data never depends on the clock (outbox sequence numbers are SQLite rowids).
"""

from __future__ import annotations

import datetime as dt
import subprocess
from collections.abc import Callable, Sequence

from ..errors import EspaceError

TIMEDATECTL = ("/usr/bin/timedatectl",)
# A clock more than this after the last successful sync is suspicious (a box is
# rarely offline this long; a wrong year is the usual failure).
FAR_AFTER_SYNC = dt.timedelta(days=120)
# Sync times come from the box's own clock at the time; a little slack for drift.
BEFORE_SYNC_SLACK = dt.timedelta(minutes=10)
LATEST = dt.datetime(2100, 1, 1)


class ClockError(EspaceError):
    """The clock could not be set."""


def parse_iso_utc(value: str | None) -> dt.datetime | None:
    """An ISO 8601 time (naive means UTC) as naive UTC, or None if absent or bad."""
    if not value:
        return None
    try:
        t = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return t.astimezone(dt.UTC).replace(tzinfo=None) if t.tzinfo else t


def problems(now: dt.datetime, build_date: dt.date, last_sync: dt.datetime | None) -> list[str]:
    """Why ``now`` (naive UTC) looks wrong: ``before_build``, ``before_last_sync``,
    ``long_after_sync``; empty when plausible."""
    out = []
    if now.date() < build_date:
        out.append("before_build")
    if last_sync is not None:
        if now < last_sync - BEFORE_SYNC_SLACK:
            out.append("before_last_sync")
        elif now - last_sync > FAR_AFTER_SYNC:
            out.append("long_after_sync")
    return out


def argv_for(when_utc: dt.datetime, command: Sequence[str] = TIMEDATECTL) -> list[str]:
    """The exact argv that sets the clock; the timestamp is formatted by us, so no
    visitor or facilitator text reaches the command line."""
    return [*command, "set-time", when_utc.strftime("%Y-%m-%d %H:%M:%S") + " UTC"]


def set_clock(when_utc: dt.datetime, build_date: dt.date, *,
              command: Sequence[str] = TIMEDATECTL,
              run: Callable[..., subprocess.CompletedProcess] = subprocess.run) -> None:
    """Set the system clock to ``when_utc`` (naive UTC). Refuses a time before the
    build date or after 2100. Raises ClockError with the fix on failure."""
    if not isinstance(when_utc, dt.datetime):
        raise ClockError("not a time", "choose a date and a time")
    if when_utc.date() < build_date or when_utc >= LATEST:
        raise ClockError(f"{when_utc:%Y-%m-%d} is not a plausible date",
                         f"choose a date after {build_date.isoformat()}")
    try:
        result = run(argv_for(when_utc, command), capture_output=True, text=True,  # noqa: S603
                     timeout=20, check=False, env={"PATH": "/usr/bin:/bin", "LC_ALL": "C"})
    except (OSError, subprocess.TimeoutExpired) as e:
        raise ClockError(f"cannot run {command[0]}: {e}",
                         "install systemd (timedatectl) on the box") from e
    if result.returncode != 0:
        err = (result.stderr or result.stdout or "").strip().splitlines()
        detail = err[-1] if err else f"exit {result.returncode}"
        fix = "allow the espace user to set the time (polkit rule in docs/kiosk.md)"
        if "NTP" in detail or "synchroni" in detail:
            fix = "automatic time sync is on: it will set the clock once online"
        raise ClockError(f"the clock was not set: {detail[:200]}", fix)
