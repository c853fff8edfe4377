"""Bad network values in site.toml get an error naming the key and the fix."""

from __future__ import annotations

import pytest

from appliance import settings
from appliance.errors import ConfigError
from tests.support import make_site


def _problems(tmp_path, **sections) -> list[str]:
    with pytest.raises(ConfigError) as e:
        settings.validate(make_site(tmp_path, **sections), str(tmp_path / "site.toml"))
    assert e.value.exit_code == 2
    return e.value.problems


@pytest.mark.parametrize("sections, key, words", [
    ({"hotspot": {"ssid": "Espace connecté de Diéma, Kayes, Mali"}}, "hotspot.ssid",
     ["bytes in UTF-8", "at most 32 bytes", "example: ssid = "]),
    ({"hotspot": {"ssid": ""}}, "hotspot.ssid", ["must not be empty"]),
    ({"hotspot": {"channel": 13}}, "hotspot.channel",
     ["13 is out of range 1-11", "regulatory database", "example: channel = 6"]),
    ({"hotspot": {"channel": 36}}, "hotspot.channel",
     ["36 is out of range 1-11", "2.4 GHz", "example: channel = 6"]),
    ({"hotspot": {"channel": "6"}}, "hotspot.channel", ["whole number"]),
    ({"hotspot": {"passphrase": "1234567"}}, "hotspot.passphrase",
     ["is 7 characters", "WPA2 needs 8 to 63", "open network"]),
    ({"hotspot": {"passphrase": "x" * 64}}, "hotspot.passphrase",
     ["is 64 characters", "WPA2 needs 8 to 63"]),
    ({"hotspot": {"passphrase": "mot de passé"}}, "hotspot.passphrase", ["printable ASCII"]),
    ({"hotspot": {"interface": "wlan0;reboot"}}, "hotspot.interface",
     ["is not a network interface name", "example: interface = "]),
    ({"hotspot": {"interface": "$(reboot)"}}, "hotspot.interface",
     ["is not a network interface name"]),
    ({"hotspot": {"interface": "wlan0 up"}}, "hotspot.interface",
     ["is not a network interface name"]),
    ({"hotspot": {"interface": "averyveryverylongname"}}, "hotspot.interface",
     ["is not a network interface name", "at most 15"]),
    ({"uplink": {"interface": "eth0`id`"}}, "uplink.interface",
     ["is not a network interface name"]),
    ({"hotspot": {"subnet": "10.42.0.0/24"}, "uplink": {"interface": "eth0",
      "subnet": "10.42.0.0/16"}}, "hotspot.subnet",
     ["overlaps the uplink's subnet 10.42.0.0/16", "example: subnet = "]),
    ({"hotspot": {"subnet": "8.8.8.0/24", "address": "8.8.8.1"}}, "hotspot.subnet",
     ["not a private range"]),
    ({"hotspot": {"address": "10.43.0.1"}}, "hotspot.address",
     ["not a host address inside hotspot.subnet"]),
    ({"hotspot": {"country": "Mali"}}, "hotspot.country", ["not a two-letter country code"]),
    ({"uplink": {"interface": "wlan0"}}, "uplink.interface",
     ["same interface as hotspot.interface"]),
])
def test_bad_network_value_names_key_and_fix(tmp_path, sections, key, words):
    problems = _problems(tmp_path, **sections)
    mine = [p for p in problems if p.startswith(f"site.toml: {key}: ")]
    assert mine, problems
    for word in words:
        assert word in mine[0], mine[0]
    assert "(example: " in mine[0]


def test_good_network_values_pass(tmp_path):
    site = settings.validate(make_site(tmp_path, hotspot={
        "ssid": "Espace connecté Nioro", "channel": 11, "passphrase": "x" * 63,
        "interface": "wlx00c0ca123456"}, uplink={"interface": "eth0",
                                                 "subnet": "192.168.8.0/24"}),
        str(tmp_path / "site.toml"))
    assert site.hotspot.channel == 11 and site.uplink.interface == "eth0"


def test_cli_prints_one_line_per_problem_and_exits_2(tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    from provisioning.lab import _dump_toml

    f = tmp_path / "site.toml"
    f.write_text(_dump_toml(make_site(tmp_path, hotspot={"channel": 13, "ssid": "x" * 33})))
    done = subprocess.run([str(Path(sys.executable).parent / "espace"), "network", "render",
                           "--site", str(f), str(tmp_path / "out")], capture_output=True,
                          text=True)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 2 and all(line.startswith("espace: error: site.toml: hotspot.")
                                   for line in lines), lines
    assert not (tmp_path / "out").exists()
