"""The box on the LAN: ``_espace._tcp`` over mDNS with python-zeroconf.

The worker process advertises the box (site id, name, Espace version in the TXT
record) so that ``espace fleet discover`` finds it on any LAN a technician plugs
into. No avahi-daemon on the box: two mDNS responders on one host fight over UDP
port 5353 and answer each other's probes.

Both :class:`Advertiser` and :func:`discover` are context-managed: every zeroconf
thread and socket is closed on exit, and ``close()`` is safe to call twice.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

SERVICE = "_espace._tcp.local."
log = logging.getLogger("espace.mdns")


@dataclass(frozen=True)
class Box:
    """A box found on the LAN."""

    name: str  # the mDNS instance name
    host: str  # e.g. espace-nioro-3f9a2c.local.
    addresses: tuple[str, ...]
    port: int
    site_id: str
    site_name: str
    version: str
    box_id: str = ""

    @property
    def address(self) -> str:
        return self.addresses[0] if self.addresses else self.host.rstrip(".")


def _local_addresses() -> list[str]:
    import ifaddr

    out = []
    for adapter in ifaddr.get_adapters():
        for ip in adapter.ips:
            if isinstance(ip.ip, str) and not ip.ip.startswith("127."):
                out.append(ip.ip)
    return sorted(set(out))


def host_label(site_id: str, box_id: str) -> str:
    """``espace-<site>-<6 hex of the box id>``: unique even when two cards were flashed
    with one site file (the same site id), so their address records never collide."""
    short = "".join(c for c in box_id.lower() if c in "0123456789abcdef")[:6]
    return f"espace-{site_id}-{short}" if short else f"espace-{site_id}"


class Advertiser:
    """Advertises one box until closed. ``addresses``: fixed addresses to announce
    (default: every interface's but loopback, followed as they change: a cable plugged
    in late or a slow DHCP lease is announced within ``interval`` seconds).
    ``twins_file``: where to list other boxes seen announcing this site's id."""

    def __init__(self, site_id: str, site_name: str, version: str, port: int = 80,
                 addresses: Iterable[str] | None = None,
                 interfaces: Iterable[str] | None = None, box_id: str = "",
                 twins_file: Path | None = None, interval: float = 2.0) -> None:
        self.site_id = site_id
        self.site_name = site_name
        self.version = version
        self.port = port
        self.box_id = box_id
        self.addresses = list(addresses) if addresses is not None else None
        self.interfaces = list(interfaces) if interfaces is not None else None
        self.twins_file = Path(twins_file) if twins_file else None
        self.interval = interval
        self._zc = None
        self._info = None
        self._browser = None
        self._announced: list[str] = []
        self._seen: set[str] = set()
        self._twins: dict[str, dict] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def name(self) -> str:
        return f"{host_label(self.site_id, self.box_id)}.{SERVICE}"

    def start(self) -> Advertiser:
        self._register(self._wanted())
        if self.addresses is None or self.twins_file is not None:
            self._thread = threading.Thread(target=self._watch, name="mdns-watch", daemon=True)
            self._thread.start()
        return self

    def _wanted(self) -> list[str]:
        return self.addresses if self.addresses is not None else _local_addresses()

    def _register(self, addresses: list[str]) -> None:
        """(Re)start zeroconf on the current interfaces and announce ``addresses``: a
        Zeroconf instance joins the multicast group only on the interfaces it saw at
        its start, so a new address means a new instance."""
        from zeroconf import InterfaceChoice, IPVersion, ServiceBrowser, ServiceInfo, Zeroconf

        self._unregister()
        self._announced = list(addresses)
        if not addresses:
            log.info("no address yet: %s announced once one comes", self.name)
            return
        label = host_label(self.site_id, self.box_id)
        info = ServiceInfo(
            SERVICE, self.name, addresses=[socket.inet_aton(a) for a in addresses],
            port=self.port, properties={"site": self.site_id, "name": self.site_name,
                                        "version": self.version, "box": self.box_id},
            server=f"{label}.local.")
        zc = Zeroconf(interfaces=self.interfaces or InterfaceChoice.All,
                      ip_version=IPVersion.V4Only)
        # allow_name_change: a clash left (two cards, same box id) must not hide both.
        zc.register_service(info, allow_name_change=True)
        browser = None
        if self.twins_file is not None:
            browser = ServiceBrowser(zc, SERVICE, handlers=[self._on_change])
        with self._lock:
            self._zc, self._info, self._browser = zc, info, browser
        log.info("advertising %s on %s", info.name, ", ".join(addresses))

    def _on_change(self, zeroconf, service_type, name, state_change) -> None:
        from zeroconf import ServiceStateChange

        if state_change is ServiceStateChange.Removed:
            self._seen.discard(name)
            if self._twins.pop(name, None) is not None:
                self._write_twins()
        elif name != getattr(self._info, "name", None):
            self._seen.add(name)

    def _watch(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                if self.addresses is None:
                    now = _local_addresses()
                    if now != self._announced:
                        log.info("addresses changed (%s -> %s): announcing again",
                                 ", ".join(self._announced) or "none", ", ".join(now))
                        self._register(now)
                self._check_twins()
            except Exception:  # a flapping interface must not end the watch
                log.warning("mDNS watch", exc_info=True)

    def _check_twins(self) -> None:
        zc = self._zc
        if zc is None or self.twins_file is None:
            return
        changed = False
        for name in sorted(self._seen - set(self._twins)):
            info = zc.get_service_info(SERVICE, name, timeout=1000)
            if info is None:
                continue
            self._seen.discard(name)
            b = _box(info)
            if b.site_id == self.site_id and (b.box_id != self.box_id or not b.box_id):
                log.warning("another box on the LAN announces site %s: %s (%s)",
                            self.site_id, b.host, b.address)
                self._twins[name] = {"host": b.host, "address": b.address, "box": b.box_id}
                changed = True
        if changed:
            self._write_twins()

    def _write_twins(self) -> None:
        import json
        import os

        path = self.twins_file
        assert path is not None
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(sorted(self._twins.values(), key=lambda t: t["host"])))
        os.replace(tmp, path)

    def _unregister(self) -> None:
        with self._lock:
            zc, info, browser = self._zc, self._info, self._browser
            self._zc = self._info = self._browser = None
        if zc is None:
            return
        try:
            if browser is not None:
                browser.cancel()
            if info is not None:
                zc.unregister_service(info)
        finally:
            zc.close()

    def close(self) -> None:
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=10)
        self._unregister()
        if self.twins_file is not None and self._twins:
            self._twins.clear()
            self._write_twins()

    def __enter__(self) -> Advertiser:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()


def _box_id(data_dir: Path) -> str:
    """The box's id: identity.txt (written at boot on an image), else the database."""
    import sqlite3

    from appliance import box_notices

    found = box_notices.identity(data_dir).get("box_id", "")
    if found:
        return found
    try:
        from appliance.db import DB_NAME

        con = sqlite3.connect(f"file:{Path(data_dir) / DB_NAME}?mode=ro", uri=True)
        try:
            row = con.execute("SELECT value FROM box_meta WHERE key = 'box_id'").fetchone()
        finally:
            con.close()
        return row[0] if row else ""
    except (sqlite3.Error, ImportError):
        return ""


def advertiser_for(site, port: int = 80) -> Advertiser:
    """The advertiser of this box, from its site config: addresses followed, twins
    (same site id, another box) listed in the data directory for the kiosk and doctor."""
    from appliance import __version__
    from appliance.box_notices import LAN_TWINS

    return Advertiser(site.site.id, site.site.name, __version__, port=port,
                      box_id=_box_id(site.data_dir),
                      twins_file=Path(site.data_dir) / LAN_TWINS)


def _box(info) -> Box:
    props = {(k.decode() if isinstance(k, bytes) else k):
             (v.decode() if isinstance(v, bytes) else (v or ""))
             for k, v in (info.properties or {}).items()}
    return Box(name=info.name, host=info.server or "",
               addresses=tuple(info.parsed_addresses()), port=info.port or 0,
               site_id=props.get("site", ""), site_name=props.get("name", ""),
               version=props.get("version", ""), box_id=props.get("box", ""))


def discover(timeout: float = 3.0, interfaces: Iterable[str] | None = None,
             until: Callable[[list[Box]], bool] | None = None) -> list[Box]:
    """Boxes answering on the LAN within ``timeout`` seconds (returns early once
    ``until(boxes)`` is true), sorted by site id."""
    from zeroconf import InterfaceChoice, IPVersion, ServiceBrowser, ServiceStateChange, Zeroconf

    found: dict[str, Box] = {}
    names: set[str] = set()
    changed = threading.Event()

    def on_change(zeroconf, service_type, name, state_change) -> None:
        if state_change in (ServiceStateChange.Added, ServiceStateChange.Updated):
            names.add(name)
            changed.set()

    zc = Zeroconf(interfaces=list(interfaces) if interfaces else InterfaceChoice.All,
                  ip_version=IPVersion.V4Only)
    browser = None
    try:
        browser = ServiceBrowser(zc, SERVICE, handlers=[on_change])
        deadline = time.monotonic() + timeout
        while True:
            for name in sorted(names - set(found)):
                info = zc.get_service_info(SERVICE, name, timeout=1500)
                if info is not None:
                    found[name] = _box(info)
            boxes = sorted(found.values(), key=lambda b: (b.site_id, b.name))
            left = deadline - time.monotonic()
            if (until is not None and until(boxes)) or left <= 0:
                return boxes
            changed.wait(min(left, 0.5))
            changed.clear()
    finally:
        if browser is not None:
            browser.cancel()
        zc.close()


def main(argv: list[str] | None = None) -> int:
    """``python -m provisioning.mdns advertise SITE NAME VERSION [ADDR]`` or
    ``... discover [SECONDS] [COUNT] [hosts]``: used by the namespace tests."""
    import sys

    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["advertise"]:
        # advertise SITE NAME VERSION [ADDR|-] [BOX_ID] [TWINS_FILE]: "-" (or no ADDR)
        # follows the interfaces' addresses as they come and go.
        site_id, name, version = args[1:4]
        fixed = [a for a in args[4:5] if a != "-"] or None
        box_id = args[5] if len(args) > 5 else ""
        twins = Path(args[6]) if len(args) > 6 else None
        with Advertiser(site_id, name, version, addresses=fixed, interfaces=fixed,
                        box_id=box_id, twins_file=twins, interval=1.0):
            print("advertising", flush=True)
            sys.stdin.read()  # until the parent closes our stdin
        return 0
    if args[:1] == ["discover"]:
        seconds = float(args[1]) if len(args) > 1 else 3.0
        count = int(args[2]) if len(args) > 2 else 0
        boxes = discover(seconds, until=(lambda b: len(b) >= count) if count else None)
        for b in boxes:
            print(f"{b.site_id}\t{b.site_name}\t{b.version}\t{b.address}\t{b.port}"
                  + (f"\t{b.host}" if len(args) > 3 else ""), flush=True)
        return 0
    print(main.__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
