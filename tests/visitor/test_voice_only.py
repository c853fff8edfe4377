"""A woman who reads no French, in Bambara: she asks her official a question by voice
and books a seat, touching only controls that have a spoken label (each tap is checked
to land on a control whose speaker is beside it).

In-page recording needs a secure context: on the box the "https" part gives phones one
(https://<site>.<domain>/); here chromium's loopback is secure, so the recording path runs
on 127.0.0.1 (the only reason for loopback). The same path on the hotspot address, as a
plain-HTTP phone sees it, goes through the file input (the phone's own recorder)."""

import re

import pytest

from appliance.labels import rules
from appliance.models import Official
from appliance.programme.models import Session
from tests.appliance import board_samples as samples
from tests.support import LiveServer
from tests.visitor.conftest import PHONE

pytestmark = pytest.mark.browser

SPOKEN = """(el) => {
  for (let h = el.closest('.said, label, li'); h; h = h.parentElement
       && h.parentElement.closest('.said, label, li'))
    if (h.querySelector('a.say[href^="/labels/clip/"]')) return true;
  return false;
}"""


def record_labels(app) -> None:
    """What a facilitator recorded at the kiosk in Bambara (clips made from bytes here;
    the kiosk's own recording is tested with the sync, in chromium)."""
    data = app.config["DATA_DIR"]
    keys = ["msg:Welcome", "msg:Enter", "msg:Home", "msg:Ask your officials",
            "msg:Ask a question", "msg:Record", "msg:Stop", "msg:Send", "msg:Water",
            "msg:Programme", "msg:Book my seat", "msg:For", "msg:Theme", "msg:Your code",
            "lang:bm"]
    keys += [f"official:{o.name}" for o in Official.select()]
    keys += [f"session:{s.title}" for s in Session.select()]
    keys += [f"char:{c}" for c in rules_signs()]
    with app.app_context():
        for n, key in enumerate(keys):
            rules.record(key, "bm", clip=samples.webm_opus(1.0 + n / 100), data_dir=data)


def rules_signs():
    from appliance.labels.keys import SIGNS

    return SIGNS


def tap(page, selector: str) -> None:
    el = page.locator(selector).first
    el.wait_for(state="visible")
    assert el.evaluate(SPOKEN), f"{selector} has no spoken label beside it"
    if el.evaluate("e => e.tagName") == "LABEL":
        el.click(position={"x": 14, "y": 14})  # its radio and icon, not its speaker
    else:
        el.click()


def ask_and_book(page, base: str, artifacts, tag: str, by_file: bytes | None = None) -> None:
    page.goto(base + "/welcome")
    tap(page, ".langs a[lang=bm]")
    page.wait_for_url(base + "/welcome")
    tap(page, "button.enter")
    page.wait_for_url(base + "/")
    assert page.locator("html").get_attribute("lang") == "bm"
    tap(page, ".tiles a.ask")
    tap(page, "a.btn[href*='kind=question']")
    page.wait_for_url(re.compile(r".*/board/new.*"))
    if by_file is None:
        tap(page, "#rec-start")
        page.wait_for_function("document.getElementById('rec-time').textContent"
                               ".startsWith('0:02')", timeout=20_000)
        tap(page, "#rec-stop")
        page.wait_for_function("document.getElementById('ask-form').dataset.recorded > 0")
    else:
        label = page.locator("#voice-label")
        assert label.evaluate(SPOKEN)
        with page.expect_file_chooser() as chooser:
            label.click()
        chooser.value.set_files({"name": "voice.webm", "mimeType": "audio/webm",
                                 "buffer": by_file})
    tap(page, "#targets label:has(input[value^='o:'])")
    tap(page, "label:has(input[name=theme][value=water])")
    page.screenshot(path=str(artifacts / f"voice-only-{tag}-form.png"), full_page=True)
    tap(page, "#send")
    page.wait_for_url(re.compile(r".*/board/sent/\w{6}$"))
    code = page.locator("#post-code").inner_text().strip()
    assert len(code) == 6
    # The code is shown large and spoken sign by sign.
    assert page.locator(".say-code").get_attribute("data-say").count("/labels/clip/") == 6
    assert page.evaluate("parseFloat(getComputedStyle(document.getElementById('post-code'))"
                         ".fontSize)") >= 36
    page.screenshot(path=str(artifacts / f"voice-only-{tag}-sent.png"))
    tap(page, "header a[href='/']")
    page.wait_for_url(base + "/")
    tap(page, ".tiles a.programme")
    tap(page, "a.sess:not(.off)")
    page.wait_for_url(re.compile(r".*/programme/\d+$"))
    tap(page, "form.book button[type=submit]")
    page.wait_for_url(re.compile(r".*/programme/\d+/b/\d{6}.*"))
    assert page.locator(".say-code").count() == 1
    assert re.fullmatch(r"\d{3} \d{3}", page.locator("#code").inner_text().strip())
    page.screenshot(path=str(artifacts / f"voice-only-{tag}-ticket.png"))


def test_voice_question_and_seat_by_spoken_labels_only(browser, hotspot_app, artifacts,
                                                       tmp_path):
    from appliance.board.models import Post
    from appliance.programme.models import Booking

    record_labels(hotspot_app)
    wav = tmp_path / "voice.wav"
    samples.speech_like_wav(wav)
    mic = samples.launch_with_fake_microphone(browser, wav)
    server = LiveServer(hotspot_app)  # loopback: a secure context, see the docstring
    try:
        context = mic.new_context(**PHONE, permissions=["microphone"])
        ask_and_book(context.new_page(), server.url, artifacts, "bm-recorded")
        context.close()
    finally:
        server.close()
        mic.close()
    post = Post.select().order_by(Post.id.desc()).first()
    assert post.voice_sha256 and not post.body
    assert Booking.select().where(Booking.name == "").count() == 1


def test_same_path_on_the_hotspot_with_the_file_input(hotspot_app, hotspot, new_phone,
                                                      artifacts):
    from appliance.board.models import Post

    record_labels(hotspot_app)
    before = Post.select().where(Post.voice_sha256 != "").count()
    page = new_phone()
    # A plain-HTTP phone: no microphone API, so no in-page recorder...
    page.goto(hotspot.url + "/board/new")
    assert page.evaluate("!navigator.mediaDevices") and page.locator("#recorder").is_hidden()
    # ...and the file input (the phone's own recorder) carries the voice note.
    ask_and_book(page, hotspot.url, artifacts, "bm-file", by_file=samples.webm_opus(3.0))
    assert Post.select().where(Post.voice_sha256 != "").count() == before + 1
