"""`espace network render / apply / status`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from appliance import settings
from provisioning import apply as apply_mod
from provisioning import status as status_mod
from provisioning.allowlist import MemoryBackend
from provisioning.checks import NetworkError
from provisioning.lab import _dump_toml
from tests.support import make_site, require_program, require_root

ESPACE = str(Path(sys.executable).parent / "espace")


def _site(tmp_path, **sections):
    return settings.validate(make_site(tmp_path, **sections), str(tmp_path / "site.toml"))


def _site_file(tmp_path, **sections) -> Path:
    f = tmp_path / "site.toml"
    f.write_text(_dump_toml(make_site(tmp_path, **sections)))
    return f


def test_render_command_writes_the_files(tmp_path):
    f = _site_file(tmp_path)
    done = subprocess.run([ESPACE, "network", "render", "--site", str(f),
                           str(tmp_path / "out")], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert str(tmp_path / "out/etc/hostapd/hostapd.conf") in done.stdout
    assert (tmp_path / "out/etc/dnsmasq.d/espace.conf").is_file()


class Recorder:
    def __init__(self, fail_on: str | None = None) -> None:
        self.fail_on = fail_on
        self.commands: list[list[str]] = []

    def __call__(self, argv):
        self.commands.append(list(argv))
        if self.fail_on and self.fail_on in " ".join(argv) and len(
                [c for c in self.commands if self.fail_on in " ".join(c)]) == 1:
            raise NetworkError(f"`{' '.join(argv)}` failed: Job for dnsmasq.service failed")


def _check_programs():
    require_root("nft -c needs CAP_NET_ADMIN")
    require_program("nft", "nftables")
    require_program("dnsmasq", "dnsmasq")


def test_apply_writes_reloads_and_is_idempotent(tmp_path):
    _check_programs()
    site = _site(tmp_path)
    root = tmp_path / "root"
    unit = root / "etc/systemd/system/hostapd.service"
    unit.parent.mkdir(parents=True)
    unit.symlink_to("/dev/null")  # Debian's mask
    runner = Recorder()
    changed = apply_mod.apply(site, root, runner=runner)
    assert "/etc/hostapd/hostapd.conf" in changed
    assert not unit.is_symlink()
    assert runner.commands[0] == ["systemctl", "daemon-reload"]
    assert ["nft", "-f", "/etc/espace/nftables.nft"] in runner.commands
    assert ["systemctl", "restart", "dnsmasq.service"] in runner.commands
    assert ["systemctl", "restart", "hostapd.service"] in runner.commands
    runner2 = Recorder()
    assert apply_mod.apply(site, root, runner=runner2) == []
    assert runner2.commands == []
    # A change of channel restarts hostapd only.
    site.hotspot.channel = 1
    runner3 = Recorder()
    assert apply_mod.apply(site, root, runner=runner3) == ["/etc/hostapd/hostapd.conf"]
    assert runner3.commands == [["systemctl", "restart", "hostapd.service"]]


def test_apply_removes_links_the_site_no_longer_needs(tmp_path):
    _check_programs()
    root = tmp_path / "root"
    # (pfifo: this test kernel has no fq_codel for the uplink's queues)
    apply_mod.apply(_site(tmp_path, uplink={"interface": "eth0"}), root, runner=Recorder(),
                    leaf_qdisc="pfifo")
    timer = root / "etc/systemd/system/timers.target.wants/espace-quota-reset.timer"
    hostapd = root / "etc/systemd/system/multi-user.target.wants/hostapd.service"
    shaping = (root / "etc/systemd/system/sys-subsystem-net-devices-eth0.device.wants/"
               "espace-shaping.service")
    assert timer.is_symlink() and hostapd.is_symlink() and shaping.is_symlink()
    runner = Recorder()
    changed = apply_mod.apply(_site(tmp_path, hotspot={"interface": "eth1"}), root,
                              runner=runner)
    assert not timer.is_symlink() and not hostapd.is_symlink() and not shaping.is_symlink()
    assert ["systemctl", "stop", "espace-shaping.service"] in runner.commands
    assert str(timer).endswith(next(p for p in changed if p.endswith(".timer")))
    assert ["systemctl", "stop", "espace-quota-reset.timer"] in runner.commands
    assert ["systemctl", "stop", "hostapd.service"] in runner.commands


def test_apply_rolls_back_when_a_service_fails(tmp_path):
    _check_programs()
    site = _site(tmp_path)
    root = tmp_path / "root"
    apply_mod.apply(site, root, runner=Recorder())
    before = {p: p.read_bytes() for p in root.rglob("*") if p.is_file() and not p.is_symlink()}
    mask = root / "etc/systemd/system/hostapd.service"
    mask.unlink()
    mask.symlink_to("/dev/null")
    site.hotspot.channel = 11
    site.hotspot.ssid = "Autre nom"
    runner = Recorder(fail_on="restart hostapd")
    with pytest.raises(NetworkError, match="rolled back"):
        apply_mod.apply(site, root, runner=runner)
    after = {p: p.read_bytes() for p in root.rglob("*") if p.is_file() and not p.is_symlink()}
    del before[mask]
    assert after == before
    assert mask.is_symlink() and os.readlink(mask) == "/dev/null"
    # The services were reloaded again with the old files.
    restarts = [c for c in runner.commands if c[:2] == ["systemctl", "restart"]]
    assert restarts.count(["systemctl", "restart", "hostapd.service"]) == 2


def test_apply_refuses_what_dnsmasq_refuses(tmp_path, monkeypatch):
    _check_programs()
    site = _site(tmp_path)
    from provisioning import render

    real = render.render_files

    def broken(site, **kw):
        files = real(site, **kw)
        files["/etc/dnsmasq.d/espace.conf"] += "dhcp-range=nonsense\n"
        return files

    monkeypatch.setattr(render, "render_files", broken)
    root = tmp_path / "root"
    with pytest.raises(NetworkError, match="dnsmasq refuses it"):
        apply_mod.apply(site, root, runner=Recorder())
    assert not root.exists()


def test_status_reads_leases_links_and_accepted(tmp_path):
    site = _site(tmp_path, uplink={"interface": "eth0"})
    sys_root = tmp_path / "sys"
    for iface, state in (("wlan0", "up"), ("eth0", "down")):
        (sys_root / "class/net" / iface).mkdir(parents=True)
        (sys_root / "class/net" / iface / "operstate").write_text(state + "\n")
    proc = tmp_path / "proc"
    (proc / "net").mkdir(parents=True)
    (proc / "net/route").write_text(
        "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n"
        "eth0\t00000000\t0108A8C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n")
    leases = tmp_path / "leases"
    leases.write_text("4102444800 c2:c4:ab:91:66:01 10.42.0.23 awa-phone *\n"
                      "1000 c2:c4:ab:91:66:02 10.42.0.24 old *\n")
    backend = MemoryBackend("10.42.0.0/24")
    backend.allow("c2:c4:ab:91:66:01", "10.42.0.23", 7200)
    st = status_mod.collect(site, sys_root=sys_root, proc_root=proc, leases=leases,
                            backend=backend, hasher=lambda mac: f"hash-of-{mac[-2:]}")
    lines = status_mod.format_status(st)
    assert lines[0] == "mode: uplink"
    assert "hotspot: wlan0 (up)" in lines
    assert "uplink: eth0 (down, default route)" in lines
    assert "phones with a lease: 1" in lines
    assert any("10.42.0.23" in line and "awa-phone" in line for line in lines)
    assert "accepted phones: 1" in lines
    assert any(line.strip().startswith("hash-of-01") and "1h59" in line for line in lines)
    # Phones by box-scoped hash, never by MAC (issue 24.7).
    assert not any("c2:c4" in line for line in lines)


def test_status_command_offline(tmp_path):
    f = _site_file(tmp_path)
    done = subprocess.run([ESPACE, "network", "status", "--site", str(f)],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("mode: offline\n")
    assert "uplink: none (offline mode)" in done.stdout
