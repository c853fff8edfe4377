"""Remote coaching as a phone on the hotspot sees it (issue 20): plain HTTP, so no
microphone in the page; the lesson says why and its file input (the phone's own
recorder) carries the reading; a camera photo over the box's limit is made smaller in
the page (drawing needs no secure context) and goes through."""

from __future__ import annotations

import base64

import pytest

from appliance.db import database
from tests.appliance.board_samples import webm_opus
from tests.learning.course_folder import COACHING_MANIFEST, write_course

pytestmark = [pytest.mark.browser, pytest.mark.netns]

NOISE_PHOTO = """() => { const c = document.createElement('canvas'); c.width = 3600;
  c.height = 2400; const x = c.getContext('2d'); const d = x.createImageData(3600, 2400);
  let s = 11; for (let i = 0; i < d.data.length; i++) {
    s = (s * 1103515245 + 12345) & 0x7fffffff; d.data[i] = s >> 16; }
  x.putImageData(d, 0, 0); return c.toDataURL('image/jpeg', 0.95); }"""


def test_reading_and_photo_from_a_phone_on_the_hotspot(
    hotspot_app, hotspot, new_phone, tmp_path, artifacts
):
    from learning import course, rules
    from learning.models import Work

    app = hotspot_app
    content = app.config["SITE"].content_dir
    if not (content / "alpha-1.zim").exists():
        course.build(write_course(tmp_path / "alpha", COACHING_MANIFEST), content / "alpha-1.zim")
    with app.app_context(), database.connection_context():
        fanta = rules.new_learner("Fanta", "f", "35plus")
    page = new_phone()
    page.goto(hotspot.url + "/learn/")
    page.fill("input[name=code]", fanta.code)
    page.click("form[action$='/learn/enter'] button")
    page.wait_for_url("**/learn/0/")

    page.goto(hotspot.url + "/learn/0/alpha-1/lire")
    form = "form.work[data-type=read_aloud]"
    assert page.evaluate("!window.isSecureContext && !navigator.mediaDevices")
    assert page.locator(f"{form} .recorder").is_hidden()
    assert page.locator(f"{form} [data-needs-secure]").is_visible()  # says why
    page.set_input_files(
        f"{form} input[type=file]",
        files=[{"name": "lecture.webm", "mimeType": "audio/webm", "buffer": webm_opus(3.0)}],
    )
    page.click(f"{form} button[type=submit]")
    page.wait_for_selector(f"{form} .sent[data-work-state=waiting]")
    page.screenshot(path=str(artifacts / "coaching-hotspot-reading-360x640.png"))

    page.goto(hotspot.url + "/learn/0/alpha-1/ecrire")
    big = base64.b64decode(page.evaluate(NOISE_PHOTO).split(",", 1)[1])
    assert len(big) > app.config["MAX_CONTENT_LENGTH"]
    photo = "form.work[data-type=photo]"
    page.set_input_files(
        f"{photo} input[type=file]",
        files=[{"name": "IMG_0002.jpg", "mimeType": "image/jpeg", "buffer": big}],
    )
    page.wait_for_function(
        "f => document.querySelector(f).dataset.shrunk > 0", arg=photo, timeout=20_000
    )
    page.click(f"{photo} button[type=submit]")
    page.wait_for_selector(f"{photo} .sent img.photo")
    assert page.evaluate("document.documentElement.scrollWidth") <= 360

    with app.app_context(), database.connection_context():
        works = {w.type: w for w in Work.select().where(Work.learner == fanta.id)}
    assert works["read_aloud"].mime == "audio/webm"
    assert works["photo"].mime == "image/jpeg"
    assert works["photo"].size < app.config["MAX_CONTENT_LENGTH"]
