"""Connectivity probes, acceptance and the captive portal API, through the app."""

from __future__ import annotations

import json
import re

import pytest

from captive_portal import probes
from provisioning.allowlist import AllowlistError, MemoryBackend

PHONE = "10.42.0.23"
PHONE_MAC = "c2:c4:ab:91:66:01"
ENV = {"REMOTE_ADDR": PHONE}
WELCOME = "http://10.42.0.1/welcome"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def backend(clock):
    return MemoryBackend("10.42.0.0/24", clock=clock)


@pytest.fixture
def app(site_doc, tmp_path, backend, clock):
    from appliance import create_app
    from appliance.db import database

    proc = tmp_path / "proc"
    (proc / "net").mkdir(parents=True)
    (proc / "net/arp").write_text(
        "IP address       HW type     Flags       HW address            Mask     Device\n"
        f"{PHONE}      0x1         0x2         {PHONE_MAC}     *        wlan0\n")
    app = create_app({"SITE": site_doc, "SITE_DIR": tmp_path, "TESTING": True,
                      "SECRET_KEY": "test", "ALLOWLIST": backend, "PROC_ROOT": str(proc)})
    from captive_portal.accept import get_allowlist

    get_allowlist(app).clock = clock
    try:
        yield app
    finally:
        database.close()


def every_probe():
    return [(p, url) for p in probes.load() for url in p.urls()]


def _get(client, url, ua=""):
    return client.get(url, headers={"User-Agent": ua}, environ_base=ENV)


def test_probe_table_rows_each_cite_a_source():
    text = probes.TABLE.read_text()
    blocks = text.split("[[probe]]")[1:]
    assert len(blocks) == len(probes.load()) >= 10
    chunks = text.split("[[probe]]")
    for i in range(len(blocks)):
        # The comment lines just above each row cite where its answer comes from.
        above = chunks[i].rstrip("\n").split("\n\n")[-1]
        assert "# Source:" in above, chunks[i + 1][:40]
    names = [p.name for p in probes.load()]
    assert len(set(names)) == len(names)
    hosts = probes.probe_hosts()
    for needed in ("connectivitycheck.gstatic.com", "clients3.google.com", "www.google.com",
                   "play.googleapis.com", "www.gstatic.com", "captive.apple.com",
                   "www.msftconnecttest.com", "www.msftncsi.com", "detectportal.firefox.com",
                   "nmcheck.gnome.org", "network-test.debian.org",
                   "connectivity-check.ubuntu.com", "fedoraproject.org"):
        assert needed in hosts


@pytest.mark.parametrize("probe, url", every_probe(), ids=lambda v: getattr(v, "name", v))
def test_probe_before_and_after_acceptance(client, probe, url):
    before = _get(client, url, probe.user_agent)
    assert before.status_code == 302
    assert before.headers["Location"] == WELCOME
    assert "no-store" in before.headers["Cache-Control"]
    assert client.post("http://10.42.0.1/welcome", environ_base=ENV).status_code == 303
    after = _get(client, url, probe.user_agent)
    if probe.location == "portal":
        assert after.status_code == 302
        return
    assert after.status_code == probe.status
    assert after.get_data(as_text=True) == probe.body
    if probe.content_type:
        assert after.headers["Content-Type"].startswith(probe.content_type)
    else:
        assert "Content-Type" not in after.headers or probe.status == 204
    for name, value in probe.headers.items():
        assert after.headers[name] == value
    assert "no-store" in after.headers["Cache-Control"]


def test_exact_success_answers(client):
    client.post("http://10.42.0.1/welcome", environ_base=ENV)
    r = _get(client, "http://connectivitycheck.gstatic.com/generate_204")
    assert r.status_code == 204 and r.data == b""
    r = _get(client, "http://captive.apple.com/hotspot-detect.html", "CaptiveNetworkSupport wispr")
    assert r.data == b"<HTML><HEAD><TITLE>Success</TITLE></HEAD><BODY>Success</BODY></HTML>"
    assert _get(client, "http://www.msftconnecttest.com/connecttest.txt").data == \
        b"Microsoft Connect Test"
    assert _get(client, "http://www.msftncsi.com/ncsi.txt").data == b"Microsoft NCSI"
    assert _get(client, "http://detectportal.firefox.com/success.txt?ipv4").data == b"success\n"
    # Firefox compares this one with its pref exactly: not a byte more.
    assert _get(client, "http://detectportal.firefox.com/canonical.html").data == (
        b'<meta http-equiv="refresh" content="0;url=https://support.mozilla.org/kb/captive-portal"/>')
    # HEAD works too, and the Host header may carry a port or a trailing dot.
    r = client.head("http://connectivitycheck.gstatic.com/generate_204", environ_base=ENV)
    assert r.status_code == 204
    r = client.get("/", headers={"Host": "connectivity-check.ubuntu.com."}, environ_base=ENV)
    assert r.status_code == 204
    r = client.get("/generate_204", headers={"Host": "clients3.google.com:80"}, environ_base=ENV)
    assert r.status_code == 204


def test_acceptance_is_keyed_by_mac_and_expires(client, backend, clock, app):
    client.post("http://10.42.0.1/welcome", environ_base=ENV)
    assert backend.calls == [("allow", PHONE_MAC, PHONE, 24 * 3600)]
    assert _get(client, "http://www.google.com/gen_204").status_code == 204
    # Another phone is still captive.
    other = client.get("http://www.google.com/gen_204", environ_base={"REMOTE_ADDR": "10.42.0.99"})
    assert other.status_code == 302
    clock.now += 24 * 3600 + 1
    assert _get(client, "http://www.google.com/gen_204").status_code == 302


def test_phone_with_unknown_mac_is_accepted_by_ip(client, backend):
    env = {"REMOTE_ADDR": "10.42.0.77"}
    client.post("http://10.42.0.1/welcome", environ_base=env)
    assert backend.calls == [("allow", None, "10.42.0.77", 24 * 3600)]
    assert client.get("http://www.google.com/gen_204", environ_base=env).status_code == 204


def test_foreign_names_go_to_the_portal_on_one_host(client):
    r = _get(client, "http://example.org/some/page?x=1")
    assert r.status_code == 302 and r.headers["Location"] == WELCOME
    client.post("http://10.42.0.1/welcome", environ_base=ENV)
    r = _get(client, "http://example.org/")
    assert r.status_code == 302 and r.headers["Location"] == "http://10.42.0.1/"
    # The box's own names are served as they are.
    assert _get(client, "http://10.42.0.1/about").status_code == 200
    assert _get(client, "http://espace.lan/about").status_code == 200
    assert _get(client, "http://espace.local/about").status_code == 200


def test_lan_and_kiosk_clients_are_never_redirected(client, backend):
    lan = {"REMOTE_ADDR": "192.168.1.20"}
    assert client.get("http://192.168.1.5/about", environ_base=lan).status_code == 200
    assert client.get("http://localhost/about").status_code == 200
    # Enter on the kiosk goes home without touching the allow-list.
    assert client.post("http://localhost/welcome").status_code == 303
    assert backend.calls == []


def test_welcome_page_works_without_javascript(client):
    r = _get(client, WELCOME)
    html = r.get_data(as_text=True)
    assert r.status_code == 200 and "<script" not in html
    assert re.search(r'<form method="post" action="/welcome">', html)
    assert 'type="submit"' in html
    for code in ("fr", "bm", "snk", "en"):
        assert f'href="/lang/{code}?next=/welcome"' in html
    # Picking a language is a full navigation back to the welcome page.
    r = client.get("/lang/bm?next=/welcome", environ_base=ENV)
    assert r.status_code == 303 and r.headers["Location"] == "/welcome"
    # After Enter, the welcome page sends the phone home.
    client.post("/welcome", environ_base=ENV)
    assert _get(client, WELCOME).headers["Location"] == "/"


def test_enter_lands_on_home_page(client):
    client.set_cookie("lang", "fr")
    r = client.post("/welcome", environ_base=ENV, follow_redirects=True)
    assert r.status_code == 200
    assert 'class="tiles"' in r.get_data(as_text=True)


def test_enter_keeps_the_language_the_welcome_page_was_shown_in(client, app):
    shown = app.config["SITE"].site.default_language  # no cookie yet: the site's default
    r = client.post("/welcome", environ_base=ENV)
    assert f"lang={shown}" in r.headers["Set-Cookie"]
    r = client.get("/", environ_base=ENV)
    assert 'class="tiles"' in r.get_data(as_text=True)  # no second language question


def test_failure_to_accept_is_a_page_not_a_traceback(client, backend, monkeypatch):
    def broken(*a):
        raise AllowlistError("helper down")

    monkeypatch.setattr(backend, "allow", broken)
    r = client.post("/welcome", environ_base=ENV)
    assert r.status_code == 503
    assert 'class="error"' in r.get_data(as_text=True)


def test_captive_portal_api_rfc8908(client, clock):
    r = client.get("/captive-portal/api", environ_base=ENV)
    assert r.headers["Content-Type"] == "application/captive+json"
    assert r.headers["Cache-Control"] == "private, no-store"
    body = json.loads(r.data)
    assert body == {"captive": True, "user-portal-url": WELCOME,
                    "venue-info-url": "http://10.42.0.1/about"}
    client.post("/welcome", environ_base=ENV)
    clock.now += 3600
    body = json.loads(client.get("/captive-portal/api", environ_base=ENV).data)
    assert body["captive"] is False
    assert body["seconds-remaining"] == 23 * 3600
    assert body["can-extend-session"] is True


def test_normalise_host():
    assert probes.normalise_host("Captive.Apple.com:80") == "captive.apple.com"
    assert probes.normalise_host("connectivity-check.ubuntu.com.") == \
        "connectivity-check.ubuntu.com"
    assert probes.normalise_host("[::1]:8080") == "[::1]"
    assert probes.find("www.apple.com", "/") is None
    assert probes.find("www.apple.com", "/library/test/success.html").name == "apple-www"
