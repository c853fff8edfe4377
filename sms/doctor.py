"""``espace doctor``'s SMS lines: the modem, its signal and SIM card, HiLink sticks that
cannot receive SMS, and the queue.

Reads ``/sys`` and ``/dev`` from roots given as parameters, so tests feed it fixture
trees; the signal and SIM come from gammu-smsd's shared memory (``gammu-smsd-monitor``)
because gammu-smsd holds the modem: asking the modem directly would fight it.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

from . import gammu

OK, WARN, FAIL = "OK", "WARN", "FAIL"

# Drivers of a USB stick that shows itself as a network card. Without serial ports
# beside it, this is a "HiLink" stick: its own router firmware keeps the SMS, Gammu
# cannot reach them.
NETWORK_DRIVERS = {"cdc_ether", "rndis_host", "cdc_ncm", "huawei_cdc_ncm", "cdc_mbim", "qmi_wwan"}
SERIAL_DRIVERS = {"option", "qcserial", "cdc_acm", "sierra", "usb_wwan"}
MODEM_VENDORS = {
    "12d1": "Huawei",
    "19d2": "ZTE",
    "2c7c": "Quectel",
    "1e0e": "SIMCom",
    "05c6": "Qualcomm",
    "1bbb": "Alcatel",
    "2357": "TP-Link",
    "1410": "Novatel",
}


def _usb_device(iface: Path) -> Path | None:
    """The USB device directory above an interface directory (with idVendor)."""
    for parent in [iface, *iface.parents]:
        if (parent / "idVendor").exists():
            return parent
    return None


def usb_sticks(sys_root: str | Path = "/sys") -> dict[str, dict]:
    """USB modems by device path: vendor, and the drivers their interfaces use."""
    out: dict[str, dict] = {}
    interfaces = Path(sys_root, "bus/usb/devices")
    for iface in sorted(interfaces.iterdir()) if interfaces.is_dir() else []:
        driver = iface / "driver"
        if ":" not in iface.name or not driver.exists():
            continue
        device = _usb_device(iface.resolve())
        if device is None:
            continue
        vendor = (device / "idVendor").read_text().strip()
        if vendor not in MODEM_VENDORS:
            continue
        entry = out.setdefault(str(device), {"vendor": vendor, "drivers": set(), "product": ""})
        entry["drivers"].add(os.path.basename(os.readlink(driver)))
        product = device / "product"
        if product.exists():
            entry["product"] = product.read_text().strip()
    return out


def checks(
    site,
    *,
    sys_root: str | Path = "/sys",
    dev_root: str | Path = "/dev",
    path_env: str | None = None,
) -> Iterator[tuple[str, str, str]]:
    s = site.sms
    if not s.enabled:
        yield OK, "sms", "off (sms.enabled = false)"
        return
    if not shutil.which("gammu-smsd", path=path_env or "/usr/bin:/usr/sbin:/bin:/sbin"):
        yield FAIL, "program gammu-smsd", "missing; fix: apt-get install gammu-smsd"
    sticks = usb_sticks(sys_root)
    for entry in sticks.values():
        name = entry["product"] or MODEM_VENDORS[entry["vendor"]]
        if entry["drivers"] & NETWORK_DRIVERS and not entry["drivers"] & SERIAL_DRIVERS:
            yield (
                WARN,
                f"modem {name}",
                "a HiLink stick (a network card, no serial port): "
                "it cannot receive SMS through Gammu; fix: use a stick with serial ports "
                "(/dev/ttyUSB*), or switch this one to its modem mode with usb_modeswitch",
            )
    if s.connection == "dummy":
        yield WARN, "modem", f"Gammu's emulated phone in {s.modem} (tests only)"
    elif not Path(s.modem).exists():
        by_id = Path(dev_root, "serial/by-id")
        seen = sorted(p.name for p in by_id.iterdir()) if by_id.is_dir() else []
        yield (
            FAIL,
            "modem",
            f"nothing at {s.modem}; fix: plug the stick in"
            + (
                f", or set sms.modem to one of /dev/serial/by-id/{', '.join(seen)}"
                if seen
                else " (no serial port is present)"
            ),
        )
    else:
        yield OK, "modem", s.modem
    facts = gammu.monitor(gammu.Spool.for_site(site))
    if not facts:
        yield (
            WARN,
            "gammu-smsd",
            "not running: no signal or SIM state; fix: systemctl "
            "start espace-sms (`journalctl -u espace-sms` says why it stopped)",
        )
        return
    signal = int(facts.get("NetworkSignal", "-1") or -1)
    if signal < 0:
        yield WARN, "modem signal", "unknown"
    elif signal < 15:
        yield (
            WARN,
            "modem signal",
            f"{signal} %: weak; fix: move the stick (a USB cable to a window helps)",
        )
    else:
        yield OK, "modem signal", f"{signal} %"
    if facts.get("IMSI"):
        yield OK, "SIM card", "answers"
    else:
        yield FAIL, "SIM card", "none answers; fix: insert the SIM, or remove its PIN"
    yield (
        OK,
        "SMS sent/received/failed",
        f"{facts.get('Sent', '?')}/{facts.get('Received', '?')}/{facts.get('Failed', '?')}"
        " since gammu-smsd started",
    )
