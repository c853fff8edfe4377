"""Chromium at 360x640: two learners share one phone, each on their own path through a
lesson and a multiple choice, this week's module framed; the facilitator's kiosk at
800x480 shows the group, the modules' dates from the programme's sessions and who is on
pace or behind."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from appliance.db import database
from tests.learning import mooc_zims
from tests.support import LiveServer, kiosk_login

pytestmark = pytest.mark.browser


def test_two_learners_on_one_phone_and_the_group_at_the_kiosk(
    course_app, phone, touchscreen, artifacts
):
    from appliance.programme import rules as programme
    from learning import rules

    app = course_app
    first = dt.datetime.combine(dt.date.today() - dt.timedelta(days=8), dt.time(10, 0))
    with app.app_context(), database.connection_context():
        sessions = programme.create_weekly(
            {"title": "MOOC du mardi", "kind": "mooc_group", "duration_min": 90, "capacity": 20},
            first,
            3,
            ZoneInfo("Africa/Bamako"),
        )
        group = rules.new_group(
            "Élus de Nioro", "alpha-1", started_on=first.date(), series_id=sessions[0].series_id
        )
        awa = rules.new_learner("Awa", "f", "under35")
        moussa = rules.new_learner("Moussa", "m", "35plus")
        rules.join(group, awa)
        rules.join(group, moussa)
    server = LiveServer(app)
    try:
        page = phone
        page.goto(server.url + "/learn/")
        page.fill("input[name=code]", awa.code)
        page.click("form[action$='/learn/enter'] button")
        page.wait_for_url("**/learn/0/")
        page.click("#courses a")
        page.wait_for_url("**/learn/0/alpha-1/")
        page.screenshot(path=str(artifacts / "learning-path-360x640.png"))
        assert page.get_attribute("li[data-lesson=a]", "data-state") == "next"
        # the second session was yesterday: module 2 is this week's, framed and said
        week = page.locator(".module.week")
        assert week.get_attribute("data-module") == "1" and week.is_visible()
        assert "This week" in week.inner_text()
        page.click("li[data-lesson=a] a")
        page.click("#listened button")  # without waiting for the clip's end
        page.wait_for_selector("#listened .ok")
        page.click("#next")
        page.click("input[name=q0][value='0']")  # the wrong picture first
        page.click("#exercises button[type=submit]")
        page.wait_for_selector("[data-result=wrong]")
        page.click("input[name=q0][value='1']")
        page.click("#exercises button[type=submit]")
        page.wait_for_selector("[data-result=right]")
        page.screenshot(path=str(artifacts / "learning-exercise-360x640.png"), full_page=True)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 360, f"the lesson is {width}px wide on a 360px phone"

        # Moussa on the same phone
        page.goto(server.url + "/learn/")
        page.fill("input[name=code]", moussa.code)
        page.click("form[action$='/learn/enter'] button")
        page.wait_for_url("**/learn/1/")
        page.goto(server.url + "/learn/")
        assert page.locator("#learners a").all_inner_texts() == ["Awa", "Moussa"]
        page.click("#learners a[data-learner='1']")
        page.click("#courses a")
        assert page.get_attribute("li[data-lesson=a]", "data-state") == "next"
        page.goto(server.url + "/learn/0/alpha-1/")
        assert page.get_attribute("li[data-lesson=chat]", "data-state") == "done"
        assert page.get_attribute("li[data-lesson=lire]", "data-state") == "next"

        # the facilitator's kiosk
        client = app.test_client()
        kiosk_login(client)
        cookie = client.get_cookie("session")
        touchscreen.context.add_cookies(
            [{"name": "session", "value": cookie.value, "url": server.url}]
        )
        touchscreen.goto(server.url + f"/kiosk/learning/groups/{group.id}")
        touchscreen.screenshot(path=str(artifacts / "learning-kiosk-group-800x480.png"))
        rows = touchscreen.locator("#members tr[data-code]")
        assert rows.count() == 2
        assert touchscreen.locator(f"tr[data-code='{awa.code}'] td").nth(2).inner_text() == "2 / 3"
        # Awa is in module 2 as the group should be; Moussa has not begun: behind
        awa_pace = touchscreen.locator(f"tr[data-code='{awa.code}'] td.status")
        moussa_pace = touchscreen.locator(f"tr[data-code='{moussa.code}'] td.status")
        assert awa_pace.inner_text().strip() == "▶ on pace" and awa_pace.is_visible()
        assert moussa_pace.inner_text().strip() == "◀ behind" and moussa_pace.is_visible()
        now = touchscreen.locator("#schedule li.now")
        assert now.get_attribute("data-module") == "1"
        assert now.get_attribute("data-session") == str(sessions[1].id)
        assert "MOOC du mardi" in now.inner_text() and now.is_visible()
        # a cancelled session moves the module to the next one, seen at the next visit
        with app.app_context(), database.connection_context():
            programme.cancel_session(sessions[1].id)
        touchscreen.reload()
        assert touchscreen.locator("#schedule li.now").get_attribute("data-module") == "0"
        moved = touchscreen.locator("#schedule li[data-module='1']")
        assert moved.get_attribute("data-session") == str(sessions[2].id)
        assert (
            touchscreen.locator(f"tr[data-code='{moussa.code}']").get_attribute("data-status")
            == "on_pace"
        )
        touchscreen.screenshot(path=str(artifacts / "learning-kiosk-pace-800x480.png"))

        # the Learning tab: a MOOC read as a course, books that are not, and why
        content = app.config["SITE"].content_dir
        mooc_zims.openedx_zim(content / "gestion.zim")
        mooc_zims.plain_zim(content / "sante.zim")
        touchscreen.goto(server.url + "/kiosk/learning/")
        mooc = touchscreen.locator("#courses li[data-source=openedx]")
        assert "Gestion communale" in mooc.inner_text()
        why = touchscreen.locator("#books li[data-reason=no_structure]")
        assert "no modules or lessons to follow" in why.inner_text()
        why.scroll_into_view_if_needed()
        assert why.is_visible()
        touchscreen.screenshot(
            path=str(artifacts / "learning-kiosk-courses-800x480.png"), full_page=True
        )
        width = touchscreen.evaluate("document.documentElement.scrollWidth")
        assert width <= 800, f"the Learning tab is {width}px wide on the 800px kiosk"
        width = touchscreen.evaluate("document.documentElement.scrollWidth")
        assert width <= 800, f"the group page is {width}px wide on the 800px kiosk"
    finally:
        server.close()


def test_a_phone_seeks_in_a_lesson_audio_by_byte_ranges(app, tmp_path, phone, artifacts):
    """Chromium at 360x640 plays a lesson's real Ogg audio (two minutes of FLAC, ~10 MB:
    more than the browser reads ahead) and jumps to 1:40: it asks the box for the bytes
    from there (a 206), as a phone seeking in a lesson or resuming it does, and plays on
    from that point; played to the end, the lesson counts as listened."""
    import subprocess

    from learning import course as course_mod
    from learning import rules
    from tests.learning.course_folder import write_course
    from tests.support import require_program

    ffmpeg = require_program("ffmpeg", "ffmpeg")
    folder = write_course(tmp_path / "alpha")
    audio = folder / "media" / "a.ogg"
    subprocess.run(
        [ffmpeg, "-loglevel", "error", "-y", "-f", "lavfi", "-i",
         "anoisesrc=duration=120:amplitude=0.2:sample_rate=44100", "-c:a", "flac", str(audio)],
        check=True,
        timeout=120,
    )  # fmt: skip
    size = audio.stat().st_size
    content = app.config["SITE"].content_dir
    content.mkdir(parents=True, exist_ok=True)
    course_mod.build(folder, content / "alpha-1.zim")
    with app.app_context(), database.connection_context():
        awa = rules.new_learner("Awa", "f", "under35")

    seen: list[tuple[str, str]] = []  # (Range asked, status answered) for the audio
    inner = app.wsgi_app

    def recording(environ, start_response):
        if environ["PATH_INFO"].startswith("/learn/media/"):

            def start(status, headers, *exc):
                seen.append((environ.get("HTTP_RANGE", ""), status.split()[0]))
                return start_response(status, headers, *exc)

            return inner(environ, start)
        return inner(environ, start_response)

    app.wsgi_app = recording
    server = LiveServer(app)
    try:
        page = phone
        page.goto(server.url + "/learn/")
        page.fill("input[name=code]", awa.code)
        page.click("form[action$='/learn/enter'] button")
        page.wait_for_url("**/learn/0/")
        page.goto(server.url + "/learn/0/alpha-1/a")
        where = page.evaluate(
            """() => new Promise((resolve, reject) => {
                const a = document.getElementById("lesson-media");
                a.muted = true;
                const seek = () => {
                    a.addEventListener("seeked", () => resolve([a.currentTime, a.duration]),
                                       {once: true});
                    a.currentTime = 100;
                };
                a.addEventListener("error", () => reject(String(a.error && a.error.code)));
                if (a.readyState >= 1) seek();
                else { a.addEventListener("loadedmetadata", seek, {once: true}); a.load(); }
            })"""
        )
        assert 99 <= where[0] <= 101 and 119 <= where[1] <= 121, where
        starts = [int(r[6:].split("-")[0]) for r, status in seen if r and status == "206"]
        # the jump asked for bytes well past the start (noise: a steady rate, ~5/6 in)
        assert any(s > size // 2 for s in starts), (seen, size)
        assert all(status in ("200", "206") for _r, status in seen), seen
        page.screenshot(path=str(artifacts / "learning-audio-seek-360x640.png"))
        # played from there to the end: the page tells the box, the lesson is listened
        page.evaluate(
            """() => new Promise(resolve => {
                const a = document.getElementById("lesson-media");
                a.addEventListener("ended", () => resolve(true), {once: true});
                a.currentTime = 118; a.playbackRate = 4; a.play();
            })"""
        )
        page.wait_for_selector("#listened .ok", state="visible")  # the box has it
        page.goto(server.url + "/learn/0/alpha-1/a")
        assert page.locator("#listened .ok").count() == 1
    finally:
        server.close()
