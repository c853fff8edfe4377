"""A clip recorded at one box's kiosk reaches a phone at another box of the region.

At box A (Nioro) a facilitator records the Soninke label of the home's Learn tile at the
kiosk (chromium at 800x480 with a fake microphone; the kiosk is on loopback as on the
box, its own listener 127.0.0.1:8081). Box A syncs with a real central; box B (Yélimané)
syncs, downloads the clip in verified pieces; a phone on box B's hotspot address, in
Soninke, finds the speaker beside Learn and hears it: an <audio> that plays."""

import pytest

from tests.appliance import board_samples as samples
from tests.central.harness import CentralServer, box_options, enrol_box, make_central
from tests.support import CHROMIUM_ARGS, LiveServer, kiosk_login, make_site
from tests.visitor.conftest import PHONE

pytestmark = pytest.mark.browser


def box_app(tmp, name, **hotspot):
    from appliance import create_app

    doc = make_site(tmp, site={"id": name, "name": f"Espace {name}",
                               "communes": ["Nioro", "Yélimané"],
                               "languages": ["fr", "bm", "snk"], "default_language": "fr"})
    if hotspot:
        doc["hotspot"] = hotspot
    return create_app({"SITE": doc, "SITE_DIR": tmp, "TESTING": True,
                       "SECRET_KEY": f"secret-{name}"})


def sync(app, url):
    from appliance.sync.client import SyncClient

    with app.app_context(), SyncClient(box_options(app.config["SITE"], url)) as client:
        return client.run(force=True)


def test_clip_recorded_at_one_kiosk_is_heard_at_another_box(
        browser, playwright, phone_net, tmp_path, artifacts):
    from appliance.db import database
    from appliance.labels.models import Label

    central_app = make_central(tmp_path / "central")
    wav = tmp_path / "voice.wav"
    samples.speech_like_wav(wav)
    with CentralServer(central_app) as central:
        # --- box A: the kiosk records "Xaranŋe" spoken -------------------------------------
        a = box_app(tmp_path / "a", "nioro-box")
        client = a.test_client()
        kiosk_login(client)
        cookie = client.get_cookie("session")
        mic = samples.launch_with_fake_microphone(browser, wav)
        kiosk = LiveServer(a)
        try:
            context = mic.new_context(viewport={"width": 800, "height": 480}, has_touch=True,
                                      permissions=["microphone"])
            context.add_cookies([{"name": "session", "value": cookie.value,
                                  "url": kiosk.url}])
            page = context.new_page()
            page.goto(kiosk.url + "/kiosk/labels?lang=snk&group=screens")
            page.screenshot(path=str(artifacts / "kiosk-labels-list-800x480.png"))
            page.click("a[href*='key=msg:Learn&'], a[href*='key=msg%3ALearn&']")
            page.click("#rec-start")
            page.wait_for_function("document.getElementById('rec-time').textContent"
                                   ".startsWith('0:02')", timeout=20_000)
            page.click("#rec-stop")
            page.wait_for_function("document.getElementById('label-form').dataset.recorded > 0")
            page.screenshot(path=str(artifacts / "kiosk-label-record-800x480.png"))
            page.click("#save")
            page.wait_for_url(lambda url: "/kiosk/labels?" in url)
            page.screenshot(path=str(artifacts / "kiosk-labels-800x480.png"))
            context.close()
        finally:
            kiosk.close()
            mic.close()
        with a.app_context():
            database.connect(reuse_if_open=True)
            row = Label.get(Label.key == "msg:Learn")
            assert row.lang == "snk" and row.clip_sha256 and row.clip_mime.startswith("audio/")
            clip = row.clip_sha256
            enrol_box(central_app, central.url, a.config["DATA_DIR"], slug="nioro-box")
        result = sync(a, central.url)
        assert result.blobs == 1, result
        database.close()

        # --- box B: the label and its clip arrive ------------------------------------------
        b = box_app(tmp_path / "b", "yelimane-box", address=phone_net.box_address,
                    subnet=phone_net.subnet)
        with b.app_context():
            database.connect(reuse_if_open=True)
            enrol_box(central_app, central.url, b.config["DATA_DIR"], slug="yelimane-box")
        sync(b, central.url)
        from appliance import blobs

        path = blobs.path_for(b.config["DATA_DIR"], clip)
        if not path.exists():  # the pull, then the download, may take two runs
            sync(b, central.url)
        assert path.exists()
        with b.app_context():
            shared = Label.get(Label.key == "msg:Learn")
            assert shared.origin == "nioro-box" and shared.lang == "snk"

        # --- a phone at box B, in Soninke, hears it ------------------------------------------
        server = LiveServer(b, host=phone_net.box_address)
        phone_browser = playwright.chromium.launch(
            executable_path=str(phone_net.wrapper), headless=True,
            args=CHROMIUM_ARGS + ["--autoplay-policy=no-user-gesture-required"])
        try:
            context = phone_browser.new_context(**PHONE)
            context.add_cookies([{"name": "lang", "value": "snk", "url": server.url}])
            page = context.new_page()
            page.goto(server.url + "/")
            assert page.locator("html").get_attribute("lang") == "snk"
            speaker = page.locator(".tiles li:has(a.learn) a.say")
            assert speaker.count() == 1
            href = speaker.get_attribute("href")
            assert href == f"/labels/clip/{clip}"
            assert page.locator("a.say").count() == 1  # no other clip in Soninke here
            page.screenshot(path=str(artifacts / "phone-box-b-snk-speaker.png"))
            page.evaluate("""href => { const a = document.createElement('audio');
                a.id = 'heard'; a.src = href; document.body.appendChild(a); a.play(); }""",
                          href)
            page.wait_for_function("() => { const a = document.getElementById('heard');"
                                   " return a.readyState >= 1 && a.duration > 0"
                                   " && a.currentTime > 0.2; }", timeout=20_000)
            assert page.evaluate("document.getElementById('heard').error") is None
            context.close()
        finally:
            phone_browser.close()
            server.close()
            database.close()
