"""The facilitator's board queue on the 800x480 touchscreen, in chromium: log in on
the keypad, publish, hide with a reason, merge a duplicate, and record an official's
answer with the (fake) microphone; the answer plays on the visitor's page."""

from __future__ import annotations

import re

import pytest

from appliance import audio
from appliance.board import rules
from appliance.board.models import Answer, Post
from appliance.board.rules import Draft
from appliance.models import Commune, Official
from appliance.pins import hash_pin
from tests.appliance import board_samples as samples
from tests.support import make_site

pytestmark = pytest.mark.browser
PIN = "2468"


@pytest.fixture
def site_doc(tmp_path):
    return make_site(tmp_path, board={"moderation": "before"},
                     kiosk={"facilitators": [{"name": "Awa", "pin_hash": hash_pin(PIN)}]})


@pytest.fixture
def media_browser(browser, tmp_path):
    wav = tmp_path / "answer.wav"
    samples.speech_like_wav(wav)
    b = samples.launch_with_fake_microphone(browser, wav)
    try:
        yield b
    finally:
        b.close()


def test_moderate_and_answer_by_voice(media_browser, live_server, app, db, artifacts):
    site, data_dir = app.config["SITE"], app.config["DATA_DIR"]
    nioro = Commune.get(Commune.name == "Nioro")
    maire = Official.create(name="Awa Diallo", role="Maire", commune=nioro, gender="f")
    posts = [rules.create_post(Draft(kind="question", target=f"o:{maire.id}", theme="water",
                                     body=body), None, site=site, data_dir=data_dir)
             for body in ("Quand le forage de Diaye sera-t-il réparé ?", "Le forage !!",
                          "Message injurieux")]
    keep, dup, bad = posts
    context = media_browser.new_context(viewport={"width": 800, "height": 480},
                                        has_touch=True, permissions=["microphone"])
    try:
        page = context.new_page()
        page.goto(live_server.url + "/kiosk/moderation")
        page.tap("text=Awa")
        for digit in PIN:
            page.tap(f'#pad button[data-k="{digit}"]')
        page.tap("#ok")
        page.wait_for_url(lambda url: "/login" not in url)
        if not page.url.endswith("/kiosk/moderation"):
            page.tap("nav.kiosk >> text=Board")
            page.wait_for_url("**/kiosk/moderation")
        assert page.locator(".item").count() == 3
        page.screenshot(path=str(artifacts / "board-kiosk-queue-800x480.png"))
        page.tap(f"#q-{keep.code} >> text=Publish")
        page.wait_for_selector("p.notice")
        page.fill(f"#q-{dup.code} input[name=into]", keep.code)
        # The on-screen keyboard opened with the field (it covers the screen's
        # bottom): close it, as a facilitator does, before tapping the button.
        page.tap('#osk button[data-k="✓"]')
        page.tap(f"#q-{dup.code} >> text=Merge into")
        page.wait_for_selector(f"p.notice:has-text('{keep.code}')")
        page.select_option(f"#q-{bad.code} select[name=reason]", index=0)
        page.tap(f"#q-{bad.code} >> text=Hide")
        page.wait_for_selector(f"p.notice:has-text('{bad.code}')")
        assert page.locator(".item").count() == 0
        assert [Post.get_by_id(p.id).status for p in posts] == ["published", "merged",
                                                                "hidden"]

        page.tap("text=Answer during a debate")
        page.tap("text=Record the answer")
        page.wait_for_url(f"**/kiosk/moderation/{keep.code}/answer")
        page.select_option("#official", str(maire.id))
        page.tap("#rec-start")
        page.wait_for_function("document.getElementById('rec-time').textContent"
                               ".startsWith('0:02')", timeout=20_000)
        page.tap("#rec-stop")
        page.wait_for_function("document.getElementById('ask-form').dataset.recorded > 0")
        page.screenshot(path=str(artifacts / "board-kiosk-answer-800x480.png"))
        page.tap("text=Save the answer")
        page.wait_for_url(re.compile(r".*/kiosk/moderation/answers.*"))
        assert "saved" in page.text_content("p.notice")
    finally:
        context.close()
    ans = Answer.get()
    assert ans.official_name == "Awa Diallo" and ans.recorded_by == "Awa" and ans.body == ""
    info = audio.probe(rules.voice_file(data_dir, ans.voice_sha256).read_bytes())
    assert info.codec == "opus" and info.seconds >= 1.5

    visitor = media_browser.new_context(viewport={"width": 360, "height": 640})
    try:
        page = visitor.new_page()
        page.goto(live_server.url + f"/board/p/{keep.code}")
        assert "Awa Diallo" in page.text_content(".answer")
        page.wait_for_function("() => { const a = document.querySelector('.answer audio');"
                               " a.preload = 'metadata'; return a.readyState >= 1"
                               " && a.duration > 0; }", timeout=15_000)
        page.screenshot(path=str(artifacts / "board-answer-visitor.png"), full_page=True)
    finally:
        visitor.close()
