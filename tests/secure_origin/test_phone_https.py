"""What a phone sees: Debian's chromium in a phone namespace, trusting pebble's root and
nothing else, joins the hotspot, taps Enter, lands on https://<site>.<domain>/ and
records a voice question with the in-page recorder (fake microphone); on plain
http://<hotspot address> the recorder is absent and the page says why.

The box's certificate comes from pebble by DNS-01 for the CSR of the box's own key
(test_acme_sync.py covers the way through central and the sync)."""

from __future__ import annotations

import re
import sqlite3
import subprocess

import pytest

from appliance.db import DB_NAME
from central import acme_issue, dns_update
from provisioning.lab import BOX_ADDRESS, HotspotLab
from tests.appliance import board_samples as samples
from tests.secure_origin.acme_lab import TSIG_NAME, TSIG_SECRET
from tests.secure_origin.conftest import DOMAIN, Nginx
from tests.support import CHROMIUM_ARGS, make_site, require_program, require_root

pytestmark = [pytest.mark.netns, pytest.mark.slow, pytest.mark.browser]
NAME = f"test-site.{DOMAIN}"


def trust_only(home, root_pem: str):
    """A phone's own trust store with pebble's root added (chromium on Linux reads the
    user's NSS database as a phone reads its user-installed CAs). Not
    --ignore-certificate-errors-spki-list: chromium matches it against the certificates
    the server sends, and servers (Let's Encrypt's chains, pebble's) do not send the
    root, so it would have to name the intermediate instead."""
    certutil = require_program("certutil", "libnss3-tools")
    nssdb = home / ".pki" / "nssdb"
    nssdb.mkdir(parents=True)
    root = home / "pebble-root.pem"
    root.write_text(root_pem)
    subprocess.run([certutil, "-d", f"sql:{nssdb}", "-N", "--empty-password"], check=True)
    subprocess.run(
        [certutil, "-d", f"sql:{nssdb}", "-A", "-t", "C,,", "-n", "pebble root", "-i", str(root)],
        check=True,
    )
    return home


@pytest.fixture
def certified_site(tmp_path, pebble, dns_server):
    """A site whose data directory holds a pebble certificate for the box's own key."""
    from secure_origin import store

    doc = make_site(tmp_path, hotspot={"accept_hours": 2})
    data_dir = tmp_path / "data"
    store.set_name(data_dir, NAME, BOX_ADDRESS)
    publisher = dns_update.Rfc2136(DOMAIN, "127.0.0.1", dns_server.port, TSIG_NAME, TSIG_SECRET)
    config = acme_issue.AcmeConfig(
        directory=pebble.directory, data_dir=tmp_path / "central", ca_bundle=str(pebble.ca_file)
    )
    chain = acme_issue.obtain(store.make_csr(data_dir, NAME).encode(), publisher, config)
    assert store.install(data_dir, chain)
    return doc


@pytest.fixture
def lab(tmp_path, certified_site):
    require_root("network namespaces, nftables and dnsmasq")
    for program, package in (
        ("ip", "iproute2"),
        ("nft", "nftables"),
        ("dnsmasq", "dnsmasq"),
        ("udhcpc", "udhcpc"),
    ):
        require_program(program, package)
    with HotspotLab(tmp_path, certified_site) as lab:
        yield lab
    assert lab.closed


def test_phone_enters_lands_on_https_and_records_in_page(
    lab, tmp_path, pebble, artifacts, playwright
):
    chromium = require_program("chromium", "chromium")
    nginx = Nginx(
        tmp_path / "data", tmp_path / "nginx", upstream="127.0.0.1:80", listen=f"{BOX_ADDRESS}:443"
    )
    nginx.start(netns=lab.box)
    wav = tmp_path / "voice.wav"
    samples.speech_like_wav(wav)
    lab.dhcp()
    home = trust_only(tmp_path / "phone-home", pebble.root_pem())
    wrapper = tmp_path / "chromium-in-phone"
    wrapper.write_text(
        f'#!/bin/sh\nexec env HOME={home} ip netns exec {lab.phone} {chromium} "$@"\n'
    )
    wrapper.chmod(0o755)
    browser = playwright.chromium.launch(
        executable_path=str(wrapper),
        headless=True,
        args=[
            *CHROMIUM_ARGS,
            "--use-fake-device-for-media-stream",
            "--use-fake-ui-for-media-stream",
            f"--use-file-for-fake-audio-capture={wav}",
        ],
    )
    try:
        context = browser.new_context(
            viewport={"width": 360, "height": 640},
            has_touch=True,
            is_mobile=True,
            permissions=["microphone"],
        )
        page = context.new_page()
        page.goto("http://example.org/", wait_until="load")
        assert page.url == f"http://{BOX_ADDRESS}/welcome"
        page.locator(".langs a[lang=fr]").tap()
        page.wait_for_url(f"http://{BOX_ADDRESS}/welcome")
        page.locator("button.enter").tap()
        page.wait_for_url(f"https://{NAME}/")
        assert page.evaluate("window.isSecureContext") is True
        assert page.locator("html").get_attribute("lang") == "fr"  # the choice carried over
        page.screenshot(path=str(artifacts / "secure-origin-home.png"))

        page.goto(f"https://{NAME}/board/new", wait_until="load")
        assert page.evaluate("espaceSecureOrigin.secure && espaceSecureOrigin.can('microphone')")
        # What maps, surveys and offline ZIMs will ask the same helper for.
        assert page.evaluate("['location', 'uuid', 'offline'].map(espaceSecureOrigin.can)") == [
            True,
            True,
            True,
        ]
        assert page.locator("#recorder").is_visible()
        assert not page.locator("#rec-insecure").is_visible()
        page.check("input[name=target][value='c:1']")
        page.check("input[name=theme][value=water]")
        page.tap("#rec-start")
        page.wait_for_function(
            "document.getElementById('rec-time').textContent.startsWith('0:02')", timeout=20_000
        )
        page.tap("#rec-stop")
        page.wait_for_function("document.getElementById('ask-form').dataset.recorded > 0")
        page.screenshot(path=str(artifacts / "secure-origin-recorded.png"))
        page.tap("#send")
        page.wait_for_url(re.compile(rf"https://{re.escape(NAME)}/board/sent/\w{{6}}$"))
        code = page.text_content("#post-code").strip()

        # The same page on plain HTTP: no recorder, and the page says why and where.
        page.goto(f"http://{BOX_ADDRESS}/board/new", wait_until="load")
        assert page.evaluate("window.isSecureContext") is False
        assert page.evaluate("espaceSecureOrigin.can('microphone')") is False
        assert page.evaluate("['location', 'uuid', 'offline'].map(espaceSecureOrigin.can)") == [
            False,
            False,
            False,
        ]
        assert not page.locator("#recorder").is_visible()
        notice = page.locator("#rec-insecure")
        assert notice.is_visible()
        assert notice.locator("a").get_attribute("href") == f"https://{NAME}/board/new"
        assert page.locator("#voice").is_visible()  # the file input still works
        page.screenshot(path=str(artifacts / "secure-origin-plain-http.png"))
    finally:
        browser.close()
        nginx.close()
    with sqlite3.connect(tmp_path / "data" / DB_NAME) as db:
        mime, seconds = db.execute(
            "SELECT voice_mime, voice_seconds FROM board_post WHERE code = ?", (code,)
        ).fetchone()
    assert mime in ("audio/webm", "audio/ogg") and seconds >= 1.5
