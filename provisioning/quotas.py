"""Daily uplink quotas that follow the phone, and survive reloads and reboots.

Each phone that is accepted in shared-uplink mode gets a small number (its *id*,
1, 2, 3...) and a named nftables quota ``q_<id>``. The id is found from the phone's
MAC (``@phone_mark``; ``@ip_mark`` for a phone whose MAC the box does not see) when
a connection starts and kept in the connection's conntrack mark, so every packet of
that connection, both directions, IPv4 or IPv6, counts against the same quota,
whatever address the phone takes (``templates/nftables.nft.j2``). A named quota
``phones_total`` caps all phones together.

The kernel forgets quotas when the table is reloaded or the box reboots, so their
use is kept in a small JSON file on the data partition (``DATA/network/quotas.json``,
written atomically under a lock): :func:`save` merges the kernel's counters into it
(the larger value wins: within a day, use only grows), :func:`restore` puts every
phone still accepted back into the kernel with the use it had. The day the kernel's
counters belong to is kept too, so a save never carries yesterday's use into today.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

STATE_VERSION = 1
TOTAL = "phones_total"
MB = 1024 * 1024
# The total's limit when the site sets no cap (it still counts, for the kiosk).
NO_CAP = 1 << 50


@dataclass(frozen=True)
class Policy:
    """What the site file says about sharing the uplink (``uplink.*``)."""

    phone_bytes: int
    total_bytes: int = 0  # 0: no cap on all phones together
    new_phones_per_day: int = 0  # 0: every new MAC gets a fresh quota
    state_path: Path | None = None

    @classmethod
    def from_site(cls, site: SimpleNamespace) -> Policy | None:
        """None when phones get no internet (offline mode, or a quota of 0)."""
        up = site.uplink
        if not up.interface or up.client_daily_mb == 0:
            return None
        return cls(up.client_daily_mb * MB, up.phones_daily_mb * MB, up.new_phones_per_day,
                   state_path(site.data_dir))


def state_path(data_dir: str | Path) -> Path:
    return Path(data_dir) / "network" / "quotas.json"


def quota_name(phone_id: int) -> str:
    return f"q_{phone_id}"


def today() -> str:
    return dt.date.today().isoformat()


def next_reset(now: float | None = None) -> int:
    """When the quotas come back: the next local midnight, as a Unix time (the
    reset timer runs at 00:00 local time)."""
    now_dt = dt.datetime.fromtimestamp(time.time() if now is None else now)
    midnight = dt.datetime.combine(now_dt.date() + dt.timedelta(days=1), dt.time())
    return int(midnight.timestamp())


@dataclass
class State:
    """The file's content. ``phones`` is keyed by MAC (or ``ip:ADDRESS``)."""

    day: str = field(default_factory=today)
    kernel_day: str = ""  # the day the kernel's counters were last reset or restored
    next_id: int = 1
    fresh_today: int = 0
    total_used: int = 0
    # Use of all phones counted before the table was last reloaded: the kernel's
    # total counts from 0 again, against a limit lowered by this much.
    total_base: int = 0
    phones: dict[str, dict] = field(default_factory=dict)

    def roll(self, day: str, now: float) -> bool:
        """Start ``day`` if it is a new one: use back to 0, phones no longer accepted
        forgotten. Whether anything changed."""
        if self.day == day:
            return False
        self.day, self.fresh_today, self.total_used, self.total_base = day, 0, 0, 0
        self.phones = {k: {**p, "used": 0} for k, p in self.phones.items()
                       if p.get("until", 0) > now}
        return True

    def to_json(self) -> str:
        return json.dumps({"version": STATE_VERSION, **self.__dict__}, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> State:
        doc = json.loads(text)
        if not isinstance(doc, dict) or doc.get("version") != STATE_VERSION:
            raise ValueError("not a quota state file")
        phones = {str(k): {"id": int(p["id"]), "used": int(p.get("used", 0)),
                           "quota": int(p["quota"]), "until": float(p.get("until", 0)),
                           "ip": str(p.get("ip") or "")}
                  for k, p in dict(doc.get("phones", {})).items()}
        return cls(str(doc["day"]), str(doc.get("kernel_day", "")), int(doc["next_id"]),
                   int(doc.get("fresh_today", 0)), int(doc.get("total_used", 0)),
                   int(doc.get("total_base", 0)), phones)


def load(path: Path | None) -> State:
    """The state in ``path``; a missing or unreadable file is a fresh state (quotas
    then start from 0: the worst a damaged file can do is give a day back)."""
    if path is None:
        return State()
    try:
        return State.from_json(path.read_text())
    except FileNotFoundError:
        return State()
    except (OSError, ValueError, KeyError, TypeError):
        return State()


def store(path: Path | None, state: State) -> None:
    """Write the state atomically (write, fsync, rename, fsync the directory)."""
    if path is None:
        return
    from appliance.blobs import fsync_dir

    from .render import _write_atomic

    path.parent.mkdir(parents=True, exist_ok=True)
    _write_atomic(path, state.to_json() + "\n")
    fsync_dir(path.parent)


@contextlib.contextmanager
def locked(path: Path | None) -> Iterator[None]:
    """One writer at a time (the helper, `network apply`, the nightly reset)."""
    if path is None:
        yield
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_suffix(".lock"), "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)
