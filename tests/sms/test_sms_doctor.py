"""``espace doctor``'s SMS lines: a HiLink stick is named as unable to receive SMS (a
fixture /sys tree), a missing modem names the fix, and with gammu-smsd running the
signal and SIM come from its shared memory."""

from __future__ import annotations

import os
from pathlib import Path

from sms.doctor import checks, usb_sticks


def usb_tree(root: Path, vendor: str, product: str, drivers: list[str]) -> None:
    device = root / "devices/pci0000:00/usb1/1-1"
    device.mkdir(parents=True)
    (device / "idVendor").write_text(vendor + "\n")
    (device / "product").write_text(product + "\n")
    links = root / "bus/usb/devices"
    links.mkdir(parents=True)
    for i, driver in enumerate(drivers):
        iface = device / f"1-1:1.{i}"
        iface.mkdir()
        (root / "bus/usb/drivers" / driver).mkdir(parents=True, exist_ok=True)
        os.symlink(root / "bus/usb/drivers" / driver, iface / "driver")
        os.symlink(iface, links / iface.name)


def test_a_hilink_stick_is_named(tmp_path, box):
    usb_tree(tmp_path / "hilink", "12d1", "HUAWEI_MOBILE", ["cdc_ether", "cdc_ether"])
    usb_tree(tmp_path / "stick", "12d1", "E3372s", ["option", "option", "huawei_cdc_ncm"])
    assert usb_sticks(tmp_path / "stick")
    site = box.config["SITE"]
    lines = list(checks(site, sys_root=tmp_path / "hilink", dev_root=tmp_path))
    assert any(s == "WARN" and "HiLink" in d for s, _w, d in lines)
    lines = list(checks(site, sys_root=tmp_path / "stick", dev_root=tmp_path))
    assert not any("HiLink" in d for _s, _w, d in lines)


def test_no_modem_and_no_gammu_smsd(tmp_path, box):
    site = box.config["SITE"]
    site.sms.connection, site.sms.modem = "at", str(tmp_path / "ttyUSB9")
    (tmp_path / "serial/by-id").mkdir(parents=True)
    (tmp_path / "serial/by-id/usb-ZTE_MF190-if00-port0").touch()
    lines = {w: (s, d) for s, w, d in checks(site, sys_root=tmp_path, dev_root=tmp_path)}
    assert lines["modem"][0] == "FAIL" and "usb-ZTE_MF190-if00-port0" in lines["modem"][1]
    assert lines["gammu-smsd"][0] == "WARN"


def test_signal_and_sim_from_the_running_gammu_smsd(tmp_path, box, gammu_smsd):
    from sms import gammu
    from tests.sms.conftest import wait_until

    _phone, spool, _daemon = gammu_smsd
    # gammu-smsd reads the signal on its status round (statusfrequency): wait for it.
    wait_until(
        lambda: gammu.monitor(spool).get("NetworkSignal", "0") != "0",
        "gammu-smsd's first status round",
    )
    lines = {w: (s, d) for s, w, d in checks(box.config["SITE"], sys_root=tmp_path)}
    assert lines["modem signal"] == ("OK", "42 %")  # the dummy phone's
    assert lines["SIM card"][0] == "OK"
