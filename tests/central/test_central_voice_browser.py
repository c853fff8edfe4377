"""Issue 15's "done when", in Debian's chromium at 1366x768 and 360x640: a regional
admin plays a box's voice note on central, records a voice answer with the (fake)
microphone, listens to it, records it again, sends it, and forwards the post to an
official of the site; the box syncs through the real sync client, and a visitor's phone
plays the answer on the portal's post page and sees whom the post was sent to.
Screenshots in the test artifacts."""

from __future__ import annotations

import pytest

from appliance import blobs
from appliance.board import rules
from appliance.board.models import Answer, Forward
from appliance.models import Commune
from appliance.sync.client import SyncClient
from central import service
from tests.appliance import board_samples as samples
from tests.central.harness import (
    CentralServer,
    box_options,
    central_call,
    enrol_box,
    make_central,
)

pytestmark = pytest.mark.browser
PASSWORD = "correct horse battery"
PLAYS = """sel => { const a = document.querySelector(sel); if (!a) return false;
    if (!a.dataset.asked) { a.dataset.asked = "1"; a.preload = "auto"; a.play().catch(() => {}); }
    return a.readyState >= 1 && a.duration > 0 && a.currentTime > 0.2 && !a.error; }"""


@pytest.fixture
def media_browser(browser, tmp_path):
    wav = tmp_path / "answer.wav"
    samples.speech_like_wav(wav)
    b = samples.launch_with_fake_microphone(browser, wav)
    try:
        yield b
    finally:
        b.close()


def sync(site, url):
    with SyncClient(box_options(site, url)) as client:
        return client.run(force=True)


RECORD = """ms => navigator.mediaDevices.getUserMedia({audio: true}).then(stream =>
    new Promise(done => {
      const rec = new MediaRecorder(stream, {mimeType: 'audio/webm;codecs=opus'});
      const parts = [];
      rec.ondataavailable = e => parts.push(e.data);
      rec.onstop = () => { stream.getTracks().forEach(t => t.stop());
        new Blob(parts).arrayBuffer().then(b => done(Array.from(new Uint8Array(b)))); };
      rec.start(); setTimeout(() => rec.stop(), ms);
    }))"""


def _voice_note(context, url: str) -> bytes:
    """A voice note as a visitor's phone records one (chromium's MediaRecorder, the fake
    microphone), to post at the box."""
    page = context.new_page()
    try:
        page.goto(url)  # loopback: a secure context, the microphone is allowed
        return bytes(page.evaluate(RECORD, 2500))
    finally:
        page.close()


def _record(page, seconds: str) -> None:
    page.click("#rec-start")
    page.wait_for_function(
        f"() => document.getElementById('rec-time').textContent.startsWith('{seconds}')",
        timeout=20_000,
    )
    page.click("#rec-stop")
    page.wait_for_function("() => Number(document.getElementById('answer').dataset.recorded) > 0")


@pytest.mark.parametrize("size", [(1366, 768), (360, 640)])
def test_a_voice_answer_recorded_on_central_plays_on_the_box(
    size, tmp_path, media_browser, app, db, live_server, artifacts
):
    width, height = size
    tag = f"{width}x{height}"
    site, data_dir = app.config["SITE"], app.config["DATA_DIR"]
    capp = make_central(tmp_path / "central")
    with CentralServer(capp) as central:
        enrol_box(capp, central.url, data_dir)
        central_call(capp, service.create_admin, "awa", PASSWORD, "regional", "Kayes")
        nioro = Commune.get(Commune.name == "Nioro")
        rules.save_official(name="Fatoumata Keïta", role="Maire", commune_id=nioro.id, gender="f")
        context = media_browser.new_context(
            viewport={"width": width, "height": height},
            has_touch=width < 500,
            permissions=["microphone"],
        )
        try:
            note = _voice_note(context, central.url + "/login")
            post = rules.create_post(
                rules.Draft(
                    kind="question",
                    target=f"c:{nioro.id}",
                    theme="water",
                    body="",
                    gender="f",
                    age_group="18-35",
                ),
                note,
                site=site,
                data_dir=data_dir,
            )
            sync(site, central.url)  # the post, its voice note and the official go up
            page = context.new_page()
            page.goto(central.url + "/")
            page.fill("input[name=username]", "awa")
            page.fill("input[name=password]", PASSWORD)
            page.click("main form button")
            page.wait_for_selector("#sites")
            page.goto(central.url + "/board")
            # The board list plays the voice post (not its hash).
            assert page.locator("audio.post-voice").count() == 1
            page.click("#posts a[href^='/board/']")
            page.wait_for_selector("#voice")
            page.wait_for_function(PLAYS, arg="#voice", timeout=20_000)

            # Record, listen, record again, send.
            page.fill("input[name=official_name]", "Fatoumata Keïta")
            _record(page, "0:01")
            assert page.is_visible("#rec-preview") and page.is_visible("#rec-again")
            first = page.evaluate("() => document.getElementById('answer').dataset.recorded")
            page.wait_for_function(PLAYS, arg="#rec-preview", timeout=20_000)
            assert not page.is_visible("#rec-stop")  # [hidden] wins over the phone's CSS
            page.click("#rec-again")
            page.wait_for_function("() => !document.getElementById('answer').dataset.recorded")
            page.wait_for_function(
                "() => document.getElementById('rec-time').textContent.startsWith('0:02')",
                timeout=20_000,
            )
            page.click("#rec-stop")
            page.wait_for_function(
                f"() => Number(document.getElementById('answer').dataset.recorded) > {first}"
            )
            page.screenshot(
                path=str(artifacts / f"central-voice-answer-recorded-{tag}.png"), full_page=True
            )
            page.click("#send-answer")
            page.wait_for_selector("audio.answer-voice")
            page.wait_for_function(PLAYS, arg="audio.answer-voice", timeout=20_000)

            # Forward it to the site's official (synced up as official.saved).
            page.select_option(
                "#forward select[name=official]", label="Fatoumata Keïta (Maire), Nioro"
            )
            page.fill("#forward textarea[name=note]", "Forage de Diaye : à voir lundi.")
            page.click("#send-forward")
            page.wait_for_selector("p.forward")
            assert "Fatoumata Keïta" in page.text_content("p.forward")
            scroll = page.evaluate("() => document.documentElement.scrollWidth")
            page.screenshot(
                path=str(artifacts / f"central-voice-answer-sent-{tag}.png"), full_page=True
            )
            assert scroll <= width, f"the post page is {scroll} px wide at {width}"
            page.goto(central.url + "/board")
            assert page.locator("#posts .forwarded").count() == 1
            assert page.locator("#posts audio.answer-voice").count() == 1
            scroll = page.evaluate("() => document.documentElement.scrollWidth")
            page.screenshot(path=str(artifacts / f"central-board-voice-{tag}.png"), full_page=True)
            assert scroll <= width, f"the board is {scroll} px wide at {width}"
        finally:
            context.close()

        result = sync(site, central.url)
        assert result.pulled == 2 and result.downloaded > 0

    answer = Answer.get(Answer.post == post.id)
    assert (
        answer.source == "central"
        and answer.body == ""
        and answer.voice_mime in ("audio/webm", "audio/ogg")
    )
    assert blobs.path_for(data_dir, answer.voice_sha256).stat().st_size == answer.voice_bytes
    assert Forward.get(Forward.post == post.id).to_name == "Fatoumata Keïta"

    visitor = media_browser.new_context(
        viewport={"width": 360, "height": 640}, has_touch=True, is_mobile=True
    )
    try:
        page = visitor.new_page()
        page.goto(live_server.url + f"/board/p/{post.code}")
        assert "Fatoumata Keïta" in page.text_content("#forwarded")
        page.wait_for_function(PLAYS, arg=".answer audio.answer-audio", timeout=20_000)
        page.screenshot(
            path=str(artifacts / f"box-voice-answer-from-central-{tag}.png"), full_page=True
        )
    finally:
        visitor.close()
