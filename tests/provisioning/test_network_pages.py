"""What people see of the shared uplink, through the test client: the page of a
spent quota (each reason, in the visitor's language), the captive API's truth, and
the kiosk's Internet tab (today's use, phones by box-scoped hash, never MAC)."""

from __future__ import annotations

import json

import pytest

from appliance import privacy
from appliance.pins import hash_pin
from provisioning.allowlist import MemoryBackend
from tests.support import csrf, make_site

PIN = "2468"
PHONE, PHONE_MAC = "10.42.0.23", "c2:c4:ab:91:66:01"
MB = 2**20
ON_HOTSPOT = {"REMOTE_ADDR": PHONE}


@pytest.fixture
def site_doc(tmp_path):
    return make_site(tmp_path, site={"default_language": "fr"},
                     uplink={"interface": "eth0", "client_daily_mb": 5,
                             "phones_daily_mb": 100},
                     kiosk={"facilitators": [{"name": "Awa", "pin_hash": hash_pin(PIN)}]})


@pytest.fixture
def backend():
    b = MemoryBackend("10.42.0.0/24")
    b.allow(PHONE_MAC, PHONE, 3600)
    b.usage_data["phones"][PHONE_MAC] = {"used": 2 * MB, "quota": 5 * MB, "accepted": True}
    b.usage_data["total"] = {"used": 7 * MB, "quota": 100 * MB}
    return b


@pytest.fixture
def app(site_doc, tmp_path, backend):
    from appliance import create_app
    from appliance.db import database

    proc = tmp_path / "proc"
    (proc / "net").mkdir(parents=True)
    (proc / "net/arp").write_text(
        "IP address       HW type     Flags       HW address            Mask     Device\n"
        f"{PHONE}      0x1         0x2         {PHONE_MAC}     *        wlan0\n")
    app = create_app({"SITE": site_doc, "SITE_DIR": tmp_path, "TESTING": True,
                      "SECRET_KEY": "test", "ALLOWLIST": backend, "PROC_ROOT": str(proc)})
    try:
        yield app
    finally:
        database.close()


def api(client) -> dict:
    r = client.get("/captive-portal/api", environ_base=ON_HOTSPOT)
    assert r.content_type == "application/captive+json"
    return json.loads(r.data)


@pytest.mark.parametrize("reason, used, quota, total, text", [
    ("phone", 5 * MB, 5 * MB, 7 * MB, "Votre téléphone a utilisé son internet du jour (5,0 Mo)"),
    ("total", 1 * MB, 5 * MB, 100 * MB, "Tous les téléphones ensemble"),
    ("new", 0, 0, 7 * MB, "autant de téléphones que cet espace le permet"),
])
def test_spent_quota_page_and_api(client, backend, reason, used, quota, total, text):
    assert api(client)["captive"] is False
    assert api(client)["bytes-remaining"] == 3 * MB
    backend.usage_data["phones"][PHONE_MAC].update(used=used, quota=quota)
    backend.usage_data["total"]["used"] = total
    body = client.get("/quota", environ_base=ON_HOTSPOT).get_data(as_text=True)
    assert "Plus d’internet aujourd’hui" in body and text in body
    assert "Il revient à :" in body
    after = api(client)
    assert after["captive"] is True and after["user-portal-url"].endswith("/quota")
    assert "seconds-remaining" not in after and "bytes-remaining" not in after
    # A foreign name reaching the box from an accepted phone: nftables sent it here.
    r = client.get("/", headers={"Host": "example.org"}, environ_base=ON_HOTSPOT)
    assert r.status_code == 302 and r.headers["Location"].endswith("/quota")
    probe = client.get("/generate_204", headers={"Host": "connectivitycheck.gstatic.com"},
                       environ_base=ON_HOTSPOT)
    assert probe.status_code == 302 and probe.headers["Location"].endswith("/quota")
    # The box's own pages keep working.
    assert client.get("/", environ_base=ON_HOTSPOT).status_code == 200


def test_quota_page_in_bambara(client, backend):
    backend.usage_data["phones"][PHONE_MAC]["used"] = 5 * MB
    client.set_cookie("lang", "bm")
    body = client.get("/quota", environ_base=ON_HOTSPOT).get_data(as_text=True)
    assert "Ɛntɛrinɛti tɛ yen tugun bi" in body


def test_kiosk_internet_tab_shows_use_by_hash(client, db):
    assert client.post("/kiosk/login",
                       data={"name": "Awa", "pin": PIN, "csrf": csrf(client)}).status_code == 303
    body = client.get("/kiosk/internet/").get_data(as_text=True)
    assert 'id="internet-today"' in body and "7,0" in body and "100,0" in body
    assert privacy.identity_hash(PHONE_MAC, "box")[:8] in body
    assert PHONE_MAC not in body and "2,0 / 5,0" in body
    assert "/kiosk/internet/" in client.get("/kiosk/").get_data(as_text=True)  # its tab


def test_kiosk_internet_tab_is_not_on_the_hotspot(client, app):
    from appliance.server import HOTSPOT, LISTENER_KEY

    r = client.get("/kiosk/internet/", environ_base={LISTENER_KEY: HOTSPOT, **ON_HOTSPOT})
    assert r.status_code == 404


@pytest.mark.browser
def test_kiosk_internet_tab_on_the_touchscreen(live_server, touchscreen, db, artifacts):
    """The facilitator's 800x480 screen: log in with the keypad, tap Internet."""
    page = touchscreen
    page.goto(live_server.url + "/kiosk/")
    page.tap("text=Awa")
    for digit in PIN:
        page.tap(f'#pad button[data-k="{digit}"]')
    page.tap("#ok")
    page.wait_for_url(live_server.url + "/kiosk/")
    page.tap("nav.kiosk >> text=Internet")
    page.wait_for_url(live_server.url + "/kiosk/internet/")
    assert page.locator("#internet-today").is_visible()
    assert page.locator("#internet-phones tr").count() == 1
    assert PHONE_MAC not in page.content()
    # Nothing wider than the screen.
    assert page.evaluate("document.documentElement.scrollWidth") <= 800
    page.screenshot(path=artifacts / "kiosk-internet-800x480.png")
