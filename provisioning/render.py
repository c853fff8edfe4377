"""The box's system configuration, rendered from its site config.

:func:`render_files` is pure: site config in, ``{absolute path: content}`` out, so
tests check the text and feed it to the real programs (``hostapd``, ``dnsmasq
--test``, ``nft -c``). :func:`render_system` writes those files under a root
directory (an SD image's root, a staging directory, or ``/``), each one atomically.

Every value that reaches a file was checked by :mod:`appliance.settings` (interface
names are ``[A-Za-z0-9_.-]``, addresses parse, the passphrase is printable ASCII);
the SSID goes in as hex and the passphrase as a derived key, so nothing needs
escaping.
"""

from __future__ import annotations

import hashlib
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import jinja2

from . import quotas, shaping

SITE_PATH = "/etc/espace/site.toml"
ESPACE_BIN = "/usr/local/bin/espace"
WEB_PORT = 80
PORTAL_NAME = "espace.lan"
API_PATH = "/captive-portal/api"
LEASE = "12h"

# Country codes present in Linux's wireless regulatory database (wireless-regdb
# 2026.05.30, /lib/firmware/regulatory.db). Mali (ML) is not among them: with its
# code, hostapd would ask the kernel for a regulatory domain that does not exist.
_REGDB = """
AD AE AF AI AL AM AN AR AS AT AU AW AZ BA BB BD BE BF BG BH BL BM BN BO BR BS BT BW BY
BZ CA CF CH CI CL CN CO CR CU CX CY CZ DE DK DM DO DZ EC EE EG ES ET FI FM FO FR GB GD
GE GF GH GI GL GP GR GT GU GY HK HN HR HT HU ID IE IL IM IN IR IS IT JM JO JP KE KH KN
KP KR KW KY KZ LB LC LI LK LS LT LU LV MA MC MD ME MF MH MK MN MO MP MQ MR MT MU MV MW
MX MY NA NG NI NL NO NP NZ OM PA PE PF PG PH PK PL PM PR PT PW PY QA RE RO RS RU RW SA
SE SG SI SK SM SN SR SV SX SY TC TD TG TH TN TR TT TW TZ UA UG US UY UZ VA VC VE VI VN
VU WF WS YE YT ZA ZW"""
REGDB_COUNTRIES = frozenset(_REGDB.split())


@dataclass(frozen=True)
class Symlink:
    """A symbolic link to write (how ``systemctl enable`` records a unit)."""

    target: str


def _env() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("provisioning", "templates"),
        undefined=jinja2.StrictUndefined, autoescape=False,  # noqa: S701 - config files
        trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)


def systemd_escape(name: str) -> str:
    """``systemd-escape`` for an interface name (as in its .device unit name)."""
    out = []
    for i, ch in enumerate(name):
        if ch.isascii() and (ch.isalnum() or ch in ":_" or (ch == "." and i > 0)):
            out.append(ch)
        else:
            out.append("".join(f"\\x{b:02x}" for b in ch.encode()))
    return "".join(out)


def wpa_psk(passphrase: str, ssid: str) -> str:
    """The 256-bit WPA2 key for a passphrase and SSID (IEEE 802.11i, PBKDF2-SHA1)."""
    return hashlib.pbkdf2_hmac("sha1", passphrase.encode(), ssid.encode(), 4096, 32).hex()


def mode(site: SimpleNamespace) -> str:
    """``"uplink"`` when an uplink interface is configured, else ``"offline"``."""
    return "uplink" if site.uplink.interface else "offline"


def is_wireless(interface: str) -> bool:
    """Whether hostapd drives this interface. A name not starting with ``wl`` is an
    Ethernet port with an external access point plugged in: no hostapd then."""
    return interface.startswith("wl")


def dhcp_range(site: SimpleNamespace) -> tuple[str, str]:
    """First and last address handed out: the subnet's hosts above the box, leaving
    a few low addresses free for fixed devices (an external access point)."""
    net = ipaddress.IPv4Network(site.hotspot.subnet)
    box = ipaddress.IPv4Address(site.hotspot.address)
    first = net.network_address + 1
    last = net.broadcast_address - 1
    start = first + min(9, max(0, net.num_addresses // 8))
    if box >= start:
        # The box sits inside the pool: hand out only the addresses above it, or
        # below it if nothing is left above.
        start = box + 1 if box < last else first
        last = box - 1 if box == last else last
    return str(start), str(last)


def portal_url(site: SimpleNamespace) -> str:
    return f"http://{site.hotspot.address}/"


def api_url(site: SimpleNamespace) -> str:
    return f"http://{site.hotspot.address}{API_PATH}"


def context(site: SimpleNamespace, *, espace_bin: str = ESPACE_BIN,
            site_path: str = SITE_PATH) -> dict:
    hs = site.hotspot
    net = ipaddress.IPv4Network(hs.subnet)
    start, end = dhcp_range(site)
    policy = quotas.Policy.from_site(site)
    return {
        # Phones share the uplink (with quotas), and how the kernel queues it.
        "share": policy is not None, "total_mb": site.uplink.phones_daily_mb,
        "total_bytes": (policy.total_bytes or quotas.NO_CAP) if policy else 0,
        "max_conns": hs.max_connections_per_phone, "phone_ports": shaping.PHONE_PORTS,
        "box_ports": shaping.BOX_PORTS, "shaping": shaping.enabled(site),
        "ifb": shaping.IFB, "uplink_unit": systemd_escape(site.uplink.interface or "-"),
        "site_file": site_path, "site_path": site_path, "espace_bin": espace_bin,
        "mode": mode(site), "iface": hs.interface, "iface_unit": systemd_escape(hs.interface),
        "uplink": site.uplink.interface, "quota_mb": site.uplink.client_daily_mb,
        "address": hs.address, "subnet": str(net), "prefix": net.prefixlen,
        "netmask": str(net.netmask), "dhcp_start": start, "dhcp_end": end, "lease": LEASE,
        "ssid_hex": hs.ssid.encode().hex(), "channel": hs.channel, "country": hs.country,
        "country_code": hs.country if hs.country in REGDB_COUNTRIES else "",
        "isolate": hs.isolate_clients,
        "psk_hex": wpa_psk(hs.passphrase, hs.ssid) if hs.passphrase else "",
        "portal_name": PORTAL_NAME, "api_url": api_url(site), "web_port": WEB_PORT,
        "data_dir": str(site.data_dir),
        # The TLS listener (secure_origin) answers phones only where the site wants it.
        "tls_port": site.secure_origin.port if site.secure_origin.https else 0,
    }


# absolute path -> template
FILES = {
    "/etc/hostapd/hostapd.conf": "hostapd.conf.j2",
    "/etc/dnsmasq.d/espace.conf": "dnsmasq.conf.j2",
    "/etc/espace/nftables.nft": "nftables.nft.j2",
    "/etc/nftables.conf": "nftables.conf.j2",
    "/etc/sysctl.d/90-espace.conf": "sysctl.conf.j2",
    "/etc/systemd/system/espace-web.service": "espace-web.service.j2",
    "/etc/systemd/system/espace-worker.service": "espace-worker.service.j2",
    "/etc/systemd/system/espace-hotspot.service": "espace-hotspot.service.j2",
    "/etc/systemd/system/espace-allowlist.socket": "espace-allowlist.socket.j2",
    "/etc/systemd/system/espace-allowlist.service": "espace-allowlist.service.j2",
    "/etc/systemd/system/hostapd.service": "hostapd.service.j2",
    "/etc/systemd/system/dnsmasq.service.d/espace.conf": "dnsmasq-espace.conf.j2",
    "/etc/systemd/system/nftables.service.d/espace.conf": "nftables-espace.conf.j2",
    "/etc/systemd/system/espace-quota-reset.service": "espace-quota-reset.service.j2",
    "/etc/systemd/system/espace-quota-reset.timer": "espace-quota-reset.timer.j2",
    "/etc/systemd/system/espace-shaping.service": "espace-shaping.service.j2",
    "/etc/systemd/system/espace-sms.service": "espace-sms.service.j2",
}
SHAPING = "/etc/espace/shaping.tc"

SYSTEMD = "/etc/systemd/system"
DEBIAN_UNITS = "/lib/systemd/system"


def render_files(site: SimpleNamespace, *, espace_bin: str = ESPACE_BIN,
                 site_path: str = SITE_PATH,
                 leaf_qdisc: str = shaping.LEAF) -> dict[str, str | Symlink]:
    """Every system file of the box, by absolute path: text, or a :class:`Symlink`
    for the units to enable (what ``systemctl enable`` would create). ``leaf_qdisc``
    is the queue in each class of the uplink's shaping (see :mod:`.shaping`)."""
    env = _env()
    ctx = context(site, espace_bin=espace_bin, site_path=site_path)
    out: dict[str, str | Symlink] = {
        path: env.get_template(tpl).render(ctx) for path, tpl in FILES.items()}
    out[SHAPING] = ("# Rendered by `espace network render`; edit site.toml, not this file.\n"
                    "# tc -batch: the uplink's queues (provisioning/shaping.py).\n"
                    + "".join(line + "\n" for line in shaping.batch(site, leaf_qdisc)))
    wants = f"{SYSTEMD}/multi-user.target.wants"
    enabled = {"espace-web.service": f"{SYSTEMD}/espace-web.service",
               "espace-worker.service": f"{SYSTEMD}/espace-worker.service",
               "espace-hotspot.service": f"{SYSTEMD}/espace-hotspot.service",
               "dnsmasq.service": f"{DEBIAN_UNITS}/dnsmasq.service",
               # Debian installs nftables.service disabled.
               "nftables.service": f"{DEBIAN_UNITS}/nftables.service"}
    if is_wireless(site.hotspot.interface):
        enabled["hostapd.service"] = f"{SYSTEMD}/hostapd.service"
    if site.sms.enabled:  # SMS (docs/sms.md): ours runs gammu-smsd, Debian's is masked
        enabled["espace-sms.service"] = f"{SYSTEMD}/espace-sms.service"
        out[f"{SYSTEMD}/gammu-smsd.service"] = Symlink("/dev/null")
    for unit, target in enabled.items():
        out[f"{wants}/{unit}"] = Symlink(target)
    from secure_origin import units as tls_units  # the TLS listener (docs/secure-origin.md)

    out.update(tls_units.render(site, ctx, Symlink))
    out[f"{SYSTEMD}/sockets.target.wants/espace-allowlist.socket"] = Symlink(
        f"{SYSTEMD}/espace-allowlist.socket")
    if mode(site) == "uplink":
        # The per-phone daily quotas exist only when visitors share an uplink.
        out[f"{SYSTEMD}/timers.target.wants/espace-quota-reset.timer"] = Symlink(
            f"{SYSTEMD}/espace-quota-reset.timer")
        # The helper starts at boot too: it puts the day's quotas back in the kernel.
        out[f"{wants}/espace-allowlist.service"] = Symlink(
            f"{SYSTEMD}/espace-allowlist.service")
    if shaping.enabled(site):
        device = f"sys-subsystem-net-devices-{systemd_escape(site.uplink.interface)}.device"
        out[f"{SYSTEMD}/{device}.wants/espace-shaping.service"] = Symlink(
            f"{SYSTEMD}/espace-shaping.service")
    return out


# Links that only some configurations have: `network apply` removes them when the
# site no longer needs them (an uplink removed, hostapd replaced by an external AP).
OPTIONAL = (f"{SYSTEMD}/multi-user.target.wants/hostapd.service",
            f"{SYSTEMD}/timers.target.wants/espace-quota-reset.timer",
            f"{SYSTEMD}/multi-user.target.wants/espace-allowlist.service",
            f"{SYSTEMD}/multi-user.target.wants/espace-sms.service",
            f"{SYSTEMD}/gammu-smsd.service")


def optional_links(root: Path) -> list[str]:
    """The optional links present under ``root``, including the shaping's, whose
    path names the uplink's device (any uplink the site had before)."""
    found = [p for p in OPTIONAL if (root / p.lstrip("/")).is_symlink()]
    systemd = Path(root, SYSTEMD.lstrip("/"))
    # (not Path.glob: it skips a link whose target is missing, as in an image's root)
    for name in sorted(os.listdir(systemd)) if systemd.is_dir() else []:
        link = systemd / name / "espace-shaping.service"
        if name.startswith("sys-subsystem-net-devices-") and link.is_symlink():
            found.append(f"{SYSTEMD}/{name}/espace-shaping.service")
    return found


def _write_atomic(dest: Path, item: str | Symlink) -> None:
    """Replace ``dest`` in one rename: a power cut leaves the old file or the new
    one, never half of one. A symlink at ``dest`` (Debian's mask of hostapd, a link
    to /dev/null) is replaced, not followed."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.espace-tmp")
    if tmp.is_symlink() or tmp.exists():
        tmp.unlink()
    if isinstance(item, Symlink):
        os.symlink(item.target, tmp)
    else:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o644)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(item)
            f.flush()
            os.fsync(f.fileno())
    os.replace(tmp, dest)


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def render_system(site: SimpleNamespace, root: Path, *, espace_bin: str = ESPACE_BIN,
                  site_path: str = SITE_PATH, leaf_qdisc: str = shaping.LEAF) -> list[Path]:
    """Write every system file the box needs under ``root`` (mirroring absolute
    paths: ``root/etc/hostapd/hostapd.conf``...) and return the paths written.

    Idempotent; each file is replaced atomically. ``espace_bin`` is where the
    ``espace`` command is installed on the box."""
    root = Path(root)
    written = []
    for path, item in render_files(site, espace_bin=espace_bin, site_path=site_path,
                                   leaf_qdisc=leaf_qdisc).items():
        dest = root / path.lstrip("/")
        _write_atomic(dest, item)
        written.append(dest)
    for d in sorted({p.parent for p in written}):
        _fsync_dir(d)
    return written
