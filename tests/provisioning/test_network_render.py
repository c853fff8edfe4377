"""The rendered system files: their content, and the real programs reading them."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from appliance import settings
from provisioning import checks, render
from tests.support import make_site, require_program, require_root


def _site(tmp_path, **sections):
    return settings.validate(make_site(tmp_path, **sections), str(tmp_path / "site.toml"))


OFFLINE = {}
UPLINK = {"uplink": {"interface": "eth0", "subnet": "192.168.8.0/24", "client_daily_mb": 40}}
WPA2 = {"hotspot": {"passphrase": "un mot de passe \"#;\\", "ssid": "Espace connecté"}}
SENEGAL = {"hotspot": {"country": "SN", "channel": 1, "isolate_clients": False}}
VARIANTS = {"offline": OFFLINE, "uplink": UPLINK, "wpa2": WPA2, "senegal": SENEGAL}


@pytest.fixture(params=sorted(VARIANTS))
def rendered(request, tmp_path):
    site = _site(tmp_path, **VARIANTS[request.param])
    root = tmp_path / "root"
    paths = render.render_system(site, root)
    return request.param, site, root, paths


def test_render_system_writes_every_file_under_root(tmp_path):
    site = _site(tmp_path)
    root = tmp_path / "root"
    paths = render.render_system(site, root)
    rel = {"/" + str(p.relative_to(root)) for p in paths}
    for expected in ("/etc/hostapd/hostapd.conf", "/etc/dnsmasq.d/espace.conf",
                     "/etc/espace/nftables.nft", "/etc/nftables.conf",
                     "/etc/systemd/system/espace-web.service",
                     "/etc/systemd/system/espace-worker.service",
                     "/etc/systemd/system/hostapd.service",
                     "/etc/systemd/system/dnsmasq.service.d/espace.conf",
                     "/etc/systemd/system/multi-user.target.wants/hostapd.service",
                     "/etc/systemd/system/multi-user.target.wants/nftables.service"):
        assert expected in rel
    assert all(p.is_relative_to(root) for p in paths)
    web = (root / "etc/systemd/system/espace-web.service").read_text()
    assert "serve --site /etc/espace/site.toml" in web
    assert "User=espace" in web and "CAP_NET_BIND_SERVICE" in web
    assert "worker --site /etc/espace/site.toml" in (
        root / "etc/systemd/system/espace-worker.service").read_text()
    assert os.readlink(root / "etc/systemd/system/multi-user.target.wants/dnsmasq.service") \
        == "/lib/systemd/system/dnsmasq.service"
    # Idempotent: a second render writes the same bytes.
    before = {p: (os.readlink(p) if p.is_symlink() else p.read_bytes()) for p in paths}
    assert render.render_system(site, root) == paths
    assert before == {p: (os.readlink(p) if p.is_symlink() else p.read_bytes()) for p in paths}


def test_render_replaces_debians_hostapd_mask(tmp_path):
    """Debian masks hostapd (a link to /dev/null): the unit replaces the link and
    /dev/null is never written through."""
    site = _site(tmp_path)
    root = tmp_path / "root"
    unit = root / "etc/systemd/system/hostapd.service"
    unit.parent.mkdir(parents=True)
    decoy = tmp_path / "null"
    decoy.write_text("")
    unit.symlink_to(decoy)
    render.render_system(site, root)
    assert not unit.is_symlink()
    assert "ExecStart=/usr/sbin/hostapd" in unit.read_text()
    assert decoy.read_text() == ""


def test_mali_has_no_country_code_but_senegal_does(tmp_path):
    mali = render.render_files(_site(tmp_path))["/etc/hostapd/hostapd.conf"]
    assert "\ncountry_code=" not in mali and "channel=6" in mali
    senegal = render.render_files(_site(tmp_path, **SENEGAL))["/etc/hostapd/hostapd.conf"]
    assert "\ncountry_code=SN" in senegal and "ap_isolate=0" in senegal
    assert "ML" not in render.REGDB_COUNTRIES and "SN" in render.REGDB_COUNTRIES


def test_open_network_by_default_with_isolation(tmp_path):
    conf = render.render_files(_site(tmp_path))["/etc/hostapd/hostapd.conf"]
    assert "wpa=0" in conf and "wpa_psk" not in conf and "ap_isolate=1" in conf
    assert f"ssid2={'Espace connecté'.encode().hex()}" in conf


def test_wpa2_key_is_derived_not_copied(tmp_path):
    site = _site(tmp_path, **WPA2)
    conf = render.render_files(site)["/etc/hostapd/hostapd.conf"]
    assert "wpa=2" in conf and "mot de passe" not in conf
    # IEEE 802.11i test vector: "password" / "IEEE" ->
    assert render.wpa_psk("password", "IEEE") == (
        "f42c6fc52df0ebef9ebb4b90b38a5f902e83fe1b135a70e23aed762e9710a12e")
    assert f"wpa_psk={render.wpa_psk(site.hotspot.passphrase, site.hotspot.ssid)}" in conf


def test_offline_dns_answers_everything_uplink_forwards(tmp_path):
    offline = render.render_files(_site(tmp_path))["/etc/dnsmasq.d/espace.conf"]
    assert "address=/#/10.42.0.1" in offline and "no-resolv" in offline
    assert "address=/dns.msftncsi.com/131.107.255.255" in offline
    assert 'dhcp-option=wlan0,114,"http://10.42.0.1/captive-portal/api"' in offline
    assert "dhcp-range=wlan0,10.42.0.10,10.42.0.254,255.255.255.0,12h" in offline
    uplink = render.render_files(_site(tmp_path, **UPLINK))
    assert "address=/#/" not in uplink["/etc/dnsmasq.d/espace.conf"]
    nft = uplink["/etc/espace/nftables.nft"]
    assert 'oifname "eth0" ip saddr 10.42.0.0/24 masquerade' in nft
    # Quotas follow the phone (its id in the conntrack mark), both ways, any family.
    assert "ct state new ct mark set ether saddr map @phone_mark" in nft
    assert 'oifname "eth0" ct mark != 0 quota name ct mark map @mark_quota jump refuse' in nft
    assert 'iifname "eth0" ct mark != 0 quota name ct mark map @mark_quota jump cut' in nft
    assert "quota phones_total {\n\t\tover 1048576000 bytes" in nft  # all phones: 1000 MB
    assert "net.ipv4.ip_local_port_range=32768 49151" in uplink["/etc/sysctl.d/90-espace.conf"]
    assert "net.ipv4.ip_forward=1" in uplink["/etc/sysctl.d/90-espace.conf"]
    # The quotas are reset every night by a timer, enabled only with an uplink.
    timer = "/etc/systemd/system/timers.target.wants/espace-quota-reset.timer"
    assert timer in uplink and timer not in render.render_files(_site(tmp_path))
    assert "network reset-quotas" in uplink["/etc/systemd/system/espace-quota-reset.service"]


def test_external_access_point_gets_no_hostapd(tmp_path):
    files = render.render_files(_site(tmp_path, hotspot={"interface": "eth1"}))
    assert "/etc/systemd/system/multi-user.target.wants/hostapd.service" not in files
    assert "/etc/systemd/system/multi-user.target.wants/dnsmasq.service" in files


def test_dhcp_range_avoids_the_box():
    from types import SimpleNamespace as NS

    def rng(address, subnet):
        return render.dhcp_range(NS(hotspot=NS(address=address, subnet=subnet)))

    assert rng("10.42.0.1", "10.42.0.0/24") == ("10.42.0.10", "10.42.0.254")
    assert rng("10.42.0.100", "10.42.0.0/24") == ("10.42.0.101", "10.42.0.254")
    assert rng("10.42.0.254", "10.42.0.0/24") == ("10.42.0.1", "10.42.0.253")
    assert rng("192.168.7.1", "192.168.7.0/28") == ("192.168.7.3", "192.168.7.14")


def test_systemd_escape():
    assert render.systemd_escape("wlan0") == "wlan0"
    assert render.systemd_escape("wlx-usb.1") == "wlx\\x2dusb.1"


# --- the real programs ----------------------------------------------------------------


def test_dnsmasq_accepts_the_config(rendered):
    require_program("dnsmasq", "dnsmasq")
    _, _, root, _ = rendered
    checks.check_dnsmasq(root / "etc/dnsmasq.d/espace.conf")


def test_nft_accepts_the_ruleset(rendered):
    require_root("nft -c needs CAP_NET_ADMIN")
    require_program("nft", "nftables")
    _, _, root, _ = rendered
    checks.check_nft(root / "etc/espace/nftables.nft")


def _hostapd_in_empty_netns(conf: Path) -> str:
    # An empty namespace: no radio, and nothing of the host's network touched.
    return checks.check_hostapd(conf, prefix=["unshare", "--net"])


def test_hostapd_reads_the_config_and_fails_only_at_the_driver(rendered):
    require_root("hostapd in an empty network namespace")
    require_program("hostapd", "hostapd")
    _, _, root, _ = rendered
    output = _hostapd_in_empty_netns(root / "etc/hostapd/hostapd.conf")
    assert checks.hostapd_config_errors(output) == []
    assert checks.hostapd_reached_driver(output), output


def test_hostapd_config_error_is_told_from_driver_error(tmp_path):
    require_root("hostapd in an empty network namespace")
    require_program("hostapd", "hostapd")
    site = _site(tmp_path)
    conf = tmp_path / "hostapd.conf"
    conf.write_text(render.render_files(site)["/etc/hostapd/hostapd.conf"]
                    .replace("hw_mode=g", "hw_mode=q") + "wpa_pairwise=NOPE\n")
    with pytest.raises(checks.NetworkError) as e:
        _hostapd_in_empty_netns(conf)
    assert "hostapd refuses it" in str(e.value) and "Line" in str(e.value)


def test_check_dnsmasq_reports_a_bad_line(tmp_path):
    require_program("dnsmasq", "dnsmasq")
    conf = tmp_path / "bad.conf"
    conf.write_text("dhcp-range=wlan0,nonsense\n")
    with pytest.raises(checks.NetworkError, match="dnsmasq refuses it"):
        checks.check_dnsmasq(conf)


def test_nftables_conf_includes_the_espace_table(tmp_path):
    files = render.render_files(_site(tmp_path))
    # (the real load of the table is in test_network_netns.py)
    assert 'include "/etc/espace/nftables.nft"' in files["/etc/nftables.conf"]


def test_systemd_reads_the_units(tmp_path):
    """systemd-analyze verify finds no unknown key or bad value in any rendered unit
    (the espace command is not installed here: that one complaint is expected)."""
    analyze = require_program("systemd-analyze", "systemd")
    site = _site(tmp_path, **UPLINK)
    root = tmp_path / "root"
    render.render_system(site, root)
    units = sorted(p for p in (root / "etc/systemd/system").iterdir()
                   if p.is_file() and p.suffix in (".service", ".socket", ".timer", ".path"))
    # with the secure origin's espace-tls, espace-tls-reload .service and .path, and
    # the uplink's queueing (espace-shaping.service) and SMS (espace-sms.service)
    assert len(units) == 13
    import subprocess

    done = subprocess.run([analyze, "verify", "--man=no", *map(str, units)],
                          capture_output=True, text=True,
                          env={"SYSTEMD_LOG_LEVEL": "warning", "PATH": "/usr/bin:/bin"})
    complaints = [line for line in (done.stdout + done.stderr).splitlines()
                  if line.strip() and "is not executable" not in line]
    assert complaints == []


def test_uplink_queueing_is_rendered_and_loads_in_a_scratch_namespace(tmp_path):
    """The uplink's queues (issue 24.4): rendered from uplink.*, loaded by the real tc
    in a namespace of their own (what `network apply` checks before writing)."""
    require_root("tc in a scratch network namespace")
    require_program("tc", "iproute2")
    site = _site(tmp_path, uplink={"interface": "eth0", "down_kbit": 20000, "up_kbit": 5000,
                                   "box_share_percent": 80})
    files = render.render_files(site)
    tc = files[render.SHAPING]
    assert "htb rate 16000kbit ceil 20000kbit prio 0" in tc  # the box: 80 % and first
    assert "htb rate 4000kbit ceil 20000kbit prio 1" in tc  # phones: the rest, may borrow
    assert "match ip dport 0xc000 0xc000 flowid 1:20" in tc  # phones' NAT ports, downloads
    assert "handle 20: fq_codel" in tc
    link = ("/etc/systemd/system/sys-subsystem-net-devices-eth0.device.wants/"
            "espace-shaping.service")
    assert link in files
    unit = files["/etc/systemd/system/espace-shaping.service"]
    assert "ExecStart=/sbin/tc -batch /etc/espace/shaping.tc" in unit
    # This test kernel has no fq_codel: the same tree with pfifo leaves loads.
    staged = tmp_path / "shaping.tc"
    staged.write_text(render.render_files(site, leaf_qdisc="pfifo")[render.SHAPING])
    checks.check_tc(staged, site)
    staged.write_text("qdisc replace dev eth0 root handle 1: htb default 10\nclass nonsense\n")
    with pytest.raises(checks.NetworkError, match="tc refuses it"):
        checks.check_tc(staged, site)
    # No rates, or no sharing: no queueing, and no unit enabled.
    off = render.render_files(_site(tmp_path, uplink={"interface": "eth0", "down_kbit": 0}))
    assert off[render.SHAPING].count("\n") == 2 and link not in off
