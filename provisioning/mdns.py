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

SERVICE = "_espace._tcp.local."
log = logging.getLogger("espace.mdns")


@dataclass(frozen=True)
class Box:
    """A box found on the LAN."""

    name: str  # the mDNS instance name
    host: str  # e.g. espace-nioro.local.
    addresses: tuple[str, ...]
    port: int
    site_id: str
    site_name: str
    version: str

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
    return out


class Advertiser:
    """Advertises one box until closed. ``interfaces``: addresses to answer on
    (default: every interface but loopback)."""

    def __init__(self, site_id: str, site_name: str, version: str, port: int = 80,
                 addresses: Iterable[str] | None = None,
                 interfaces: Iterable[str] | None = None) -> None:
        self.site_id = site_id
        self.site_name = site_name
        self.version = version
        self.port = port
        self.addresses = list(addresses) if addresses is not None else None
        self.interfaces = list(interfaces) if interfaces is not None else None
        self._zc = None
        self._info = None
        self._lock = threading.Lock()

    def start(self) -> Advertiser:
        from zeroconf import InterfaceChoice, IPVersion, ServiceInfo, Zeroconf

        addresses = self.addresses if self.addresses is not None else _local_addresses()
        # The instance name must be unique on the LAN: the site id is.
        self._info = ServiceInfo(
            SERVICE, f"espace-{self.site_id}.{SERVICE}",
            addresses=[socket.inet_aton(a) for a in addresses], port=self.port,
            properties={"site": self.site_id, "name": self.site_name,
                        "version": self.version},
            server=f"espace-{self.site_id}.local.")
        self._zc = Zeroconf(interfaces=self.interfaces or InterfaceChoice.All,
                            ip_version=IPVersion.V4Only)
        # allow_name_change: two cards flashed for one site must not both vanish.
        self._zc.register_service(self._info, allow_name_change=True)
        log.info("advertising %s on %s", self._info.name, ", ".join(addresses))
        return self

    def close(self) -> None:
        with self._lock:
            zc, self._zc = self._zc, None
        if zc is None:
            return
        try:
            if self._info is not None:
                zc.unregister_service(self._info)
        finally:
            zc.close()

    def __enter__(self) -> Advertiser:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()


def advertiser_for(site, port: int = 80) -> Advertiser:
    """The advertiser of this box, from its site config."""
    from appliance import __version__

    return Advertiser(site.site.id, site.site.name, __version__, port=port)


def _box(info) -> Box:
    props = {(k.decode() if isinstance(k, bytes) else k):
             (v.decode() if isinstance(v, bytes) else (v or ""))
             for k, v in (info.properties or {}).items()}
    return Box(name=info.name, host=info.server or "",
               addresses=tuple(info.parsed_addresses()), port=info.port or 0,
               site_id=props.get("site", ""), site_name=props.get("name", ""),
               version=props.get("version", ""))


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
    ``... discover [SECONDS] [COUNT]``: used by the namespace tests."""
    import sys

    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["advertise"]:
        site_id, name, version = args[1:4]
        addresses = args[4:5] or None
        with Advertiser(site_id, name, version, addresses=addresses,
                        interfaces=addresses):
            print("advertising", flush=True)
            sys.stdin.read()  # until the parent closes our stdin
        return 0
    if args[:1] == ["discover"]:
        seconds = float(args[1]) if len(args) > 1 else 3.0
        count = int(args[2]) if len(args) > 2 else 0
        boxes = discover(seconds, until=(lambda b: len(b) >= count) if count else None)
        for b in boxes:
            print(f"{b.site_id}\t{b.site_name}\t{b.version}\t{b.address}\t{b.port}", flush=True)
        return 0
    print(main.__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
