"""The board in Debian's chromium at phone size: a real voice note recorded from the
fake microphone, sent and played back; and the text path with JavaScript off."""

import re

import pytest

from appliance import audio
from appliance.board import rules
from appliance.board.models import Post
from tests.appliance import board_samples as samples

pytestmark = pytest.mark.browser

PHONE = {"viewport": {"width": 360, "height": 640}, "has_touch": True, "is_mobile": True,
         "device_scale_factor": 2}


@pytest.fixture(scope="module")
def media_browser(browser, tmp_path_factory):
    """A second chromium from the same Playwright, with the fake audio device."""
    wav = tmp_path_factory.mktemp("mic") / "voice.wav"
    samples.speech_like_wav(wav)
    b = samples.launch_with_fake_microphone(browser, wav)
    try:
        yield b
    finally:
        b.close()


def test_voice_note_recorded_sent_and_played_back(media_browser, live_server, app, db,
                                                  artifacts):
    context = media_browser.new_context(**PHONE, permissions=["microphone"])
    try:
        page = context.new_page()
        page.goto(live_server.url + "/board/new")
        page.check("input[name=target][value='c:1']")
        page.check("input[name=theme][value=water]")
        page.click("#rec-start")
        page.wait_for_function("document.getElementById('rec-time').textContent"
                               ".startsWith('0:02')", timeout=20_000)
        page.click("#rec-stop")
        page.wait_for_selector("#rec-preview:not([hidden])")
        page.wait_for_function("document.getElementById('ask-form').dataset.recorded > 0")
        assert page.eval_on_selector("#voice", "i => i.files.length") == 1
        page.screenshot(path=str(artifacts / "board-voice-recorded.png"))
        page.click("#send")
        page.wait_for_url(re.compile(r".*/board/sent/\w{6}$"))
        code = page.text_content("#post-code").strip()
        page.screenshot(path=str(artifacts / "board-voice-sent.png"))
        page.click(f"a[href='/board/p/{code}']")
        page.wait_for_selector("#post-voice")
        # The note loads in the player: metadata read, a positive duration.
        page.wait_for_function("() => { const a = document.getElementById('post-voice');"
                               " return a.readyState >= 1 && a.duration > 0; }", timeout=15_000)
        assert page.evaluate("document.getElementById('post-voice').error") is None
        page.evaluate("document.getElementById('post-voice').play()")
        page.wait_for_function("document.getElementById('post-voice').currentTime > 0.2",
                               timeout=15_000)
        page.screenshot(path=str(artifacts / "board-voice-post.png"))
    finally:
        context.close()
    post = Post.get(Post.code == code)
    assert post.voice_mime in ("audio/webm", "audio/ogg") and post.body == ""
    data = rules.voice_file(app.config["DATA_DIR"], post.voice_sha256).read_bytes()
    info = audio.probe(data)
    assert info.codec == "opus" and info.seconds >= 1.5


def test_text_post_without_javascript(browser, live_server, db, artifacts):
    context = browser.new_context(**PHONE, java_script_enabled=False)
    try:
        page = context.new_page()
        page.goto(live_server.url + "/board/")
        page.click("text=Ask a question")
        assert page.is_hidden("#recorder")  # no script: no recorder, the file input stays
        assert page.is_visible("#voice")
        page.check("input[name=target][value='c:2']")
        page.check("input[name=theme][value=health]")
        page.fill("#body", "Le centre de santé ferme à midi. ߒ ߓߘߊ߫ <b>?</b>")
        page.screenshot(path=str(artifacts / "board-nojs-form.png"), full_page=True)
        page.click("#send")
        page.wait_for_url(re.compile(r".*/board/sent/\w{6}$"))
        code = page.text_content("#post-code").strip()
        assert "on the board now" in page.text_content("#visibility")
        page.goto(live_server.url + f"/board/p/{code}")
        assert page.text_content("#post-body") == "Le centre de santé ferme à midi. ߒ ߓߘߊ߫ <b>?</b>"
        page.click("#support")
        page.wait_for_url(re.compile(r".*done=support"))
        assert "(1)" in page.text_content("#support")
        page.screenshot(path=str(artifacts / "board-nojs-post.png"), full_page=True)
        page.goto(live_server.url + "/board/")
        assert page.locator(".card").count() == 1
        page.screenshot(path=str(artifacts / "board-index-360.png"), full_page=True)
        # A server-side refusal comes back as a page with the message, values kept.
        page.goto(live_server.url + "/board/new")
        page.check("input[name=target][value='c:1']")
        page.check("input[name=theme][value=water]")
        page.click("#send")
        assert "Write a text or record a voice note" in page.text_content("#form-error")
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 360, "the form fits a 360 px phone"
    finally:
        context.close()
