"""When the sync may run, and how many bytes it may still spend today.

The budget is counted from the bytes the sync itself moved (request and response,
headers included, from :mod:`appliance.sync.transport`), per local day. The uplink
interface's own counters (psutil) are reported beside it: they include visitors'
traffic, so they inform the technician but do not stop the sync.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import psutil

from . import state

# Bytes kept back for a response's headers and acknowledgement, so that a request sized
# to the remaining budget cannot overshoot it by more than this.
RESPONSE_RESERVE = 1024
REQUEST_HEADERS = 160


def in_windows(windows: Iterable[tuple[int, int]], when: dt.datetime, tz: str) -> bool:
    """Whether local time ``when`` falls in one of the (start, end) minute windows; a
    window whose end is before its start wraps past midnight ("22:00-06:00")."""
    local = when.astimezone(ZoneInfo(tz))
    minute = local.hour * 60 + local.minute
    for start, end in windows:
        if start < end and start <= minute < end:
            return True
        if start > end and (minute >= start or minute < end):
            return True
    return False


def local_day(when: dt.datetime, tz: str) -> str:
    return when.astimezone(ZoneInfo(tz)).date().isoformat()


@dataclass
class Budget:
    """The day's allowance; ``limit`` 0 means online sync is off."""

    limit: int
    day: str

    @property
    def spent(self) -> int:
        return state.spent(self.day)

    @property
    def remaining(self) -> int:
        return max(0, self.limit - self.spent)

    def allows(self, request_bytes: int, response_bytes: int) -> bool:
        return (request_bytes + REQUEST_HEADERS + response_bytes + RESPONSE_RESERVE
                <= self.remaining)

    def room(self) -> int:
        """Largest request + response payload that still fits."""
        return max(0, self.remaining - REQUEST_HEADERS - RESPONSE_RESERVE)


def uplink_counters(interface: str) -> dict | None:
    """Bytes the uplink interface moved since boot (all traffic), or None."""
    if not interface:
        return None
    counters = psutil.net_io_counters(pernic=True).get(interface)
    if counters is None:
        return None
    return {"interface": interface, "bytes_sent": counters.bytes_sent,
            "bytes_recv": counters.bytes_recv}
