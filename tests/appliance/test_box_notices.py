"""What the box has to tell a technician, on the kiosk's health page and in `espace
doctor`: a bad site file on the card (the last good one runs), another box with this
site's id on the LAN, the SSH fingerprints (issue 21)."""

from __future__ import annotations

import json

import pytest

from appliance.pins import hash_pin
from tests.appliance.test_cli import espace, write_site
from tests.support import csrf, make_site

PIN = "2468"
PROBLEM = ("/boot/firmware/espace-site.toml: not used, the box runs its last good site "
           "file (fix the file on the boot partition, then reboot):\n"
           "espace-site.toml: hotspot.channel: 13 is out of range 1-11 <script>x</script>")


def _notices(data):
    data.mkdir(parents=True, exist_ok=True)
    (data / "site-status.txt").write_text(PROBLEM + "\n")
    (data / "identity.txt").write_text("box_id=b-1\nsite_id=test-site\n"
                                       "ssh_ed25519=SHA256:Zm9vYmFy\n")
    (data / "lan-twins.json").write_text(json.dumps(
        [{"host": "espace-test-site-9f3a.local.", "address": "192.168.1.23", "box": "9f3a"}]))


@pytest.fixture
def site_doc(tmp_path):
    return make_site(tmp_path, kiosk={"facilitators": [{"name": "Awa",
                                                        "pin_hash": hash_pin(PIN)}]})


def test_health_panel_shows_site_problem_twins_and_fingerprint(client, db, tmp_path):
    assert client.post("/kiosk/login",
                       data={"name": "Awa", "pin": PIN, "csrf": csrf(client)}).status_code == 303
    before = client.get("/kiosk/health").data.decode()
    assert "site-problem" not in before and "lan-twin" not in before
    _notices(tmp_path / "data")
    page = client.get("/kiosk/health").data.decode()
    assert 'id="site-problem"' in page and "hotspot.channel: 13" in page
    assert "<script>x</script>" not in page and "&lt;script&gt;" in page
    assert 'id="lan-twin"' in page and "192.168.1.23" in page
    assert "ed25519 SHA256:Zm9vYmFy" in page


def test_doctor_fails_on_the_site_problem_and_warns_of_a_twin(tmp_path):
    site = write_site(tmp_path)
    _notices(tmp_path / "data")
    r = espace("doctor", "--site", str(site))
    lines = r.stdout.splitlines()
    assert r.returncode == 1, r.stdout + r.stderr
    assert any(line.startswith("FAIL site file on the boot partition:") and "reboot" in line
               for line in lines)
    assert any("hotspot.channel: 13" in line for line in lines)
    assert any(line.startswith("WARN same site id on the LAN:") and "192.168.1.23" in line
               for line in lines)
    assert any(line.startswith("OK   ssh host keys: ed25519 SHA256:Zm9vYmFy") for line in lines)
