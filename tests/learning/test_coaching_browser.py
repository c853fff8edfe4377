"""Remote coaching, done when (issue 20), in chromium: a learner at 360x640 records the
reading exercise with the fake microphone and sends a photo of her writing; the box
syncs to a real central through a faulty link; a trainer logs in on central, plays the
recording, sees the photo, records a voice answer in the page and gives a mark; after
the box's next sync the learner's lesson plays it, and the path says "answered".
Central's indicators still equal the box's.

The box is served on loopback, a secure context where chromium gives the page its
microphone; a phone on the hotspot's plain HTTP gets the file input instead (the same
form, tested without JavaScript in test_coaching_box.py)."""

from __future__ import annotations

import re

import pytest

from appliance.db import database
from appliance.demo_zim import illustration_png
from tests.appliance import board_samples as samples
from tests.central.harness import CentralServer, central_call, enrol_box, make_central
from tests.learning.course_folder import COACHING_MANIFEST, write_course
from tests.learning.test_coaching_central import PASSWORD, sync_until_done
from tests.support import LiveServer, kiosk_login

pytestmark = pytest.mark.browser

WRITING = illustration_png(64, (30, 30, 30))  # a real image the pages decode
PHONE = {"viewport": {"width": 360, "height": 640}, "has_touch": True, "is_mobile": True}


@pytest.fixture
def coach_app(app, tmp_path):
    from learning import course

    content = app.config["SITE"].content_dir
    content.mkdir(parents=True, exist_ok=True)
    course.build(write_course(tmp_path / "alpha", COACHING_MANIFEST), content / "alpha-1.zim")
    return app


def _playable(page, selector: str) -> None:
    """The audio element loads and plays its source (decoded, not only fetched)."""
    page.locator(selector).first.scroll_into_view_if_needed()
    page.evaluate(
        "s => { const a = document.querySelector(s); a.muted = true; return a.play(); }",
        selector,
    )
    page.wait_for_function(
        "s => { const a = document.querySelector(s); return a.currentTime > 0 || a.ended; }",
        arg=selector,
        timeout=20_000,
    )


def _assign(username: str, slug: str, ref: str) -> None:
    from central.coaching import TrainerGroup
    from central.models import Admin, Site

    TrainerGroup.create(admin=Admin.get(username=username), site=Site.get(slug=slug), group_ref=ref)


def _record(page, form: str) -> None:
    page.click(f"{form} .rec-start")
    page.wait_for_function(
        "f => document.querySelector(f + ' .rec-time').textContent.startsWith('0:02')",
        arg=form,
        timeout=20_000,
    )
    assert not page.is_visible(f"{form} .rec-start")  # one button at a time
    page.click(f"{form} .rec-stop")
    page.wait_for_function("f => document.querySelector(f).dataset.recorded > 0", arg=form)
    # Stopped: Record again, never a Stop that does nothing beside it.
    assert page.is_visible(f"{form} .rec-start") and not page.is_visible(f"{form} .rec-stop")


def test_a_reading_goes_to_the_trainer_and_the_answer_comes_back(
    browser, coach_app, tmp_path, artifacts
):
    from central import learning as central_learning
    from central import service
    from central.models import Site
    from learning import catalogue, coaching, rules
    from learning.models import Work

    app = coach_app
    site = app.config["SITE"]
    with app.app_context(), database.connection_context():
        awa = rules.new_learner("Awa", "f", "under35")
        group = rules.new_group("Femmes de Nioro", "alpha-1")
        rules.join(group, awa)
        ref = coaching.group_ref(group)

    central_app = make_central(tmp_path / "central")
    wav = tmp_path / "voice.wav"
    samples.speech_like_wav(wav)
    mic = samples.launch_with_fake_microphone(browser, wav)
    box = LiveServer(app)  # loopback: a secure context, the microphone is there
    try:
        with CentralServer(central_app) as central:
            # the learner, at 360x640
            phone = mic.new_context(**PHONE, permissions=["microphone"])
            page = phone.new_page()
            page.goto(box.url + "/learn/")
            page.fill("input[name=code]", awa.code)
            page.click("form[action$='/learn/enter'] button")
            page.wait_for_url("**/learn/0/")
            page.goto(box.url + "/learn/0/alpha-1/lire")
            form = "form.work[data-type=read_aloud]"
            page.wait_for_selector(f"{form} .recorder", state="visible")
            _record(page, form)
            page.screenshot(path=str(artifacts / "coaching-record-360x640.png"))
            page.click(f"{form} button[type=submit]")
            page.wait_for_selector(f"{form} .sent[data-work-state=waiting]")
            _playable(page, f"{form} .sent audio")  # she hears her own reading
            page.goto(box.url + "/learn/0/alpha-1/ecrire")
            photo = "form.work[data-type=photo]"
            page.set_input_files(
                f"{photo} input[type=file]",
                files=[{"name": "writing.png", "mimeType": "image/png", "buffer": WRITING}],
            )
            page.click(f"{photo} button[type=submit]")
            page.wait_for_selector(f"{photo} .sent img.photo")
            assert page.evaluate("document.documentElement.scrollWidth") <= 360
            page.screenshot(path=str(artifacts / "coaching-photo-360x640.png"))
            with app.app_context(), database.connection_context():
                works = {w.type: w for w in Work.select()}
                assert works["read_aloud"].mime == "audio/webm"  # chromium's own recording

            # the box syncs to central through a link that drops and duplicates
            with app.app_context():
                database.connect(reuse_if_open=True)
                enrol_box(central_app, central.url, site.data_dir)
                sync_until_done(site, central.url)
                database.close()
            for name, role in (("reg", "regional"), ("coach", "trainer")):
                central_call(central_app, service.create_admin, name, PASSWORD, role, "Kayes")
            central_call(central_app, _assign, "coach", "nioro", ref)  # as /coaching/trainers

            # the trainer, at central: plays, looks, records an answer, marks
            desk = mic.new_context(
                viewport={"width": 1366, "height": 768}, permissions=["microphone"]
            )
            t = desk.new_page()
            t.goto(central.url + "/login")
            t.fill("input[name=username]", "coach")
            t.fill("input[name=password]", PASSWORD)
            t.click("main form button")
            t.wait_for_url(re.compile(r".*/coaching$"))
            reading = f"section[data-work='{works['read_aloud'].uuid}']"
            _playable(t, f"{reading} audio")
            img = f"section[data-work='{works['photo'].uuid}'] img"
            t.wait_for_function(
                "s => { const i = document.querySelector(s);"
                " return i.complete && i.naturalWidth > 0; }",
                arg=img,
            )
            _record(t, f"{reading} form.answer")
            t.check(f"{reading} input[name=mark][value='3']")
            t.click(f"{reading} form.answer button[type=submit]")
            t.wait_for_selector(f"{reading}[data-answered='1']")
            t.screenshot(path=str(artifacts / "coaching-trainer-1366x768.png"))
            desk.close()

            # the box's next sync: the answer and its voice note come down
            with app.app_context():
                database.connect(reuse_if_open=True)
                sync_until_done(site, central.url, faults={0: "drop_response"})
                from appliance.sync.client import SyncClient
                from tests.central.harness import box_options

                for _ in range(2):  # the voice note's pieces, if not yet fetched
                    with SyncClient(box_options(site, central.url)) as client:
                        client.run(force=True)
                course = catalogue.course(site.content_dir, "alpha-1")[1]
                box_figures = rules.figures(course)
                database.close()

            page.goto(box.url + "/learn/0/alpha-1/lire")
            page.wait_for_selector(f"{form} .sent[data-work-state=answered]")
            assert page.get_attribute(f"{form} .mark", "data-mark") == "3"
            _playable(page, f"{form} audio[data-feedback]")
            page.screenshot(path=str(artifacts / "coaching-answered-360x640.png"))
            page.goto(box.url + "/learn/0/alpha-1/")
            assert page.get_attribute("li[data-lesson=lire]", "data-coach") == "answered"
            assert page.get_attribute("li[data-lesson=ecrire]", "data-coach") == "waiting"
            phone.close()

            # the facilitator's kiosk at 800x480: Awa has one lesson answered, one waiting
            kiosk = browser.new_context(viewport={"width": 800, "height": 480}, has_touch=True)
            client = app.test_client()
            kiosk_login(client)
            kiosk.add_cookies(
                [{"name": "session", "value": client.get_cookie("session").value, "url": box.url}]
            )
            k = kiosk.new_page()
            k.goto(box.url + f"/kiosk/learning/groups/{group.id}")
            cell = k.locator(f"tr[data-code='{awa.code}'] td.coach")
            assert cell.get_attribute("data-answered") == "1"
            assert cell.get_attribute("data-waiting") == "1"
            assert cell.is_visible()
            k.screenshot(path=str(artifacts / "coaching-kiosk-group-800x480.png"))
            kiosk.close()

            # the trainer's page fits a phone too
            small = mic.new_context(**PHONE)
            t = small.new_page()
            t.goto(central.url + "/login")
            t.fill("input[name=username]", "coach")
            t.fill("input[name=password]", PASSWORD)
            t.click("main form button")
            t.wait_for_url(re.compile(r".*/coaching$"))
            assert t.evaluate("document.documentElement.scrollWidth") <= 360
            t.screenshot(path=str(artifacts / "coaching-trainer-360x640.png"))
            small.close()

            # central's indicators still equal the box's
            def central_figures():
                rows = central_learning.figures(list(Site.select()))
                return {(r["course"], r["state"]): r["counts"] for r in rows}

            got = central_call(central_app, central_figures)
            for state in ("started", "progressed", "completed"):
                assert got[("alpha-1", state)] == box_figures[state], state
    finally:
        box.close()
        mic.close()


def test_a_large_photo_is_made_smaller_in_the_phone_before_it_is_sent(coach_app, phone):
    """A camera's photo over the box's limit: the page shrinks it (1600 px at most on its
    long side, JPEG) and the box takes it; without the script it would be refused."""
    import base64

    from learning import rules
    from learning.models import Work

    app = coach_app
    with app.app_context(), database.connection_context():
        awa = rules.new_learner("Awa", "f", "under35")
    limit = app.config["MAX_CONTENT_LENGTH"]
    server = LiveServer(app)
    try:
        page = phone
        page.goto(server.url + "/learn/")
        page.fill("input[name=code]", awa.code)
        page.click("form[action$='/learn/enter'] button")
        page.wait_for_url("**/learn/0/")
        page.goto(server.url + "/learn/0/alpha-1/ecrire")
        # a 3600x2400 "photo" of noise (nothing compresses it), made by chromium
        data_url = page.evaluate(
            """() => { const c = document.createElement('canvas'); c.width = 3600;
            c.height = 2400; const x = c.getContext('2d'); const d = x.createImageData(3600, 2400);
            let s = 7; for (let i = 0; i < d.data.length; i++) {
              s = (s * 1103515245 + 12345) & 0x7fffffff; d.data[i] = s >> 16; }
            x.putImageData(d, 0, 0); return c.toDataURL('image/jpeg', 0.95); }"""
        )
        big = base64.b64decode(data_url.split(",", 1)[1])
        assert len(big) > limit  # the box would refuse it as it is
        photo = "form.work[data-type=photo]"
        page.set_input_files(
            f"{photo} input[type=file]",
            files=[{"name": "IMG_0001.jpg", "mimeType": "image/jpeg", "buffer": big}],
        )
        page.wait_for_function(
            "f => document.querySelector(f).dataset.shrunk > 0", arg=photo, timeout=20_000
        )
        page.click(f"{photo} button[type=submit]")
        page.wait_for_selector(f"{photo} .sent img.photo")
        size = page.evaluate(
            "s => { const i = document.querySelector(s);"
            " return [i.naturalWidth, i.naturalHeight]; }",
            f"{photo} .sent img.photo",
        )
        assert size == [1600, 1067]
        assert not page.locator("[data-work-error]").count()
    finally:
        server.close()
    with app.app_context(), database.connection_context():
        work = Work.get()
        assert work.mime == "image/jpeg" and work.size < limit
