"""``espace network status``: mode, phones with a lease, accepted phones, uplink.

Every reader takes its root (``/sys``, ``/proc``, the lease file) as a parameter so
tests feed it fixture files.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

from . import allowlist as al
from . import render

LEASES = "/var/lib/misc/dnsmasq.leases"


@dataclass
class Lease:
    expires: int
    mac: str
    ip: str
    name: str


@dataclass
class Status:
    mode: str
    hotspot: str
    hotspot_state: str
    uplink: str
    uplink_state: str
    uplink_default_route: bool
    leases: list[Lease] = field(default_factory=list)
    accepted: dict[str, dict[str, int]] | None = None
    accepted_error: str = ""
    # Shared-uplink mode: today's quota use, phones by box-scoped hash (never MAC).
    usage: dict | None = None


def mb(n: int) -> str:
    return f"{n / 2**20:.1f} MB"


def usage_by_hash(usage: dict, hasher: Callable[[str], str]) -> dict:
    """``usage`` (:meth:`NftBackend.usage`) with each phone's MAC (or ``ip:ADDRESS``)
    replaced by its hash: what may be shown on a screen or printed in a terminal."""
    phones = {hasher(key.removeprefix("ip:")): p for key, p in usage["phones"].items()}
    return {**usage, "phones": phones}


def box_hasher(site: SimpleNamespace) -> Callable[[str], str]:
    """The box-scoped hash of :mod:`appliance.privacy` (the box's database holds
    its salt); without a database yet, a hash can't be made and none is shown."""
    from appliance import privacy
    from appliance.db import DB_NAME, open_database

    if not Path(site.data_dir, DB_NAME).exists():
        return lambda who: "?" * 16
    open_database(site.data_dir, as_root=True)  # exists; reads the salt only
    return lambda who: privacy.identity_hash(who, "box")


def read_leases(path: str | Path = LEASES, now: float | None = None) -> list[Lease]:
    """dnsmasq's lease file: ``EXPIRY MAC IP NAME CLIENT-ID`` per line."""
    now = time.time() if now is None else now
    leases = []
    try:
        lines = Path(path).read_text().splitlines()
    except OSError:
        return []
    for line in lines:
        parts = line.split()
        if len(parts) >= 4 and parts[0].isdigit():
            expires = int(parts[0])
            if expires == 0 or expires > now:
                leases.append(Lease(expires, parts[1].lower(), parts[2], parts[3]))
    return leases


def link_state(interface: str, sys_root: str | Path = "/sys") -> str:
    if not interface:
        return "none"
    try:
        return Path(sys_root, "class/net", interface, "operstate").read_text().strip()
    except OSError:
        return "missing"


def default_route_via(interface: str, proc_root: str | Path = "/proc") -> bool:
    """Whether the kernel's default IPv4 route goes out of ``interface``."""
    if not interface:
        return False
    try:
        lines = Path(proc_root, "net/route").read_text().splitlines()[1:]
    except OSError:
        return False
    return any(f[0] == interface and f[1] == "00000000" and f[7] == "00000000"
               for f in (line.split() for line in lines) if len(f) >= 8)


def collect(site: SimpleNamespace, *, sys_root: str | Path = "/sys",
            proc_root: str | Path = "/proc", leases: str | Path = LEASES,
            backend: al.Backend | None = None,
            hasher: Callable[[str], str] | None = None) -> Status:
    """What ``espace network status`` prints. Phones appear by their box-scoped
    hash (``hasher``), never by MAC: the output may be pasted anywhere."""
    hasher = hasher or box_hasher(site)
    status = Status(
        mode=render.mode(site), hotspot=site.hotspot.interface,
        hotspot_state=link_state(site.hotspot.interface, sys_root),
        uplink=site.uplink.interface, uplink_state=link_state(site.uplink.interface, sys_root),
        uplink_default_route=default_route_via(site.uplink.interface, proc_root),
        leases=[Lease(le.expires, hasher(le.mac), le.ip, le.name)
                for le in read_leases(leases)])
    backend = backend or al.backend_for(site)
    try:
        entries = backend.entries()
        status.accepted = {"mac": {hasher(m): left for m, left in entries["mac"].items()},
                           "ip": entries["ip"]}
        if site.uplink.interface and site.uplink.client_daily_mb:
            status.usage = usage_by_hash(backend.usage(), hasher)
    except al.AllowlistError as e:
        status.accepted_error = str(e)
    return status


def format_status(status: Status) -> list[str]:
    lines = [f"mode: {status.mode}",
             f"hotspot: {status.hotspot} ({status.hotspot_state})"]
    if status.uplink:
        lines.append(f"uplink: {status.uplink} ({status.uplink_state}"
                     + (", default route" if status.uplink_default_route else
                        ", no default route") + ")")
    else:
        lines.append("uplink: none (offline mode)")
    lines.append(f"phones with a lease: {len(status.leases)}")
    for lease in status.leases:
        lines.append(f"  {lease.ip:<15} {lease.mac} {lease.name}")
    if status.accepted is None:
        lines.append(f"accepted phones: unknown ({status.accepted_error})")
    else:
        acc = status.accepted
        lines.append(f"accepted phones: {len(acc.get('mac', {})) + len(acc.get('ip', {}))}")
        for kind in ("mac", "ip"):
            for value, left in sorted(acc.get(kind, {}).items()):
                lines.append(f"  {value:<17} {left // 3600}h{left % 3600 // 60:02d} left")
    if status.usage is not None:
        total = status.usage["total"]
        cap = f"of {mb(total['quota'])}" if total["quota"] else "(no cap)"
        lines.append(f"today, all phones: {mb(total['used'])} {cap}")
        lines.append("quota use today (phone by box-scoped hash):")
        for who, p in sorted(status.usage["phones"].items(), key=lambda i: -i[1]["used"]):
            state = "accepted" if p.get("accepted") else "gone"
            limit = mb(p["quota"]) if p["quota"] else "0 MB (no fresh quota left today)"
            lines.append(f"  {who}  {mb(min(p['used'], p['quota']))} of {limit} ({state})")
    return lines
