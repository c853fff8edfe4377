"""Chromium at 360x640: a lesson played to the end is marked listened even when the box
is busy (its database locked by another writer: a 503 with Retry-After) or the phone's
Wi-Fi drops the post; the page sends the mark again, and the box counts it once."""

from __future__ import annotations

import sqlite3
import subprocess
import threading

import pytest

from appliance.db import DB_NAME, database
from tests.learning.course_folder import write_course
from tests.support import LiveServer, require_program

pytestmark = pytest.mark.browser

PLAY_TO_THE_END = """() => new Promise((resolve, reject) => {
    const a = document.getElementById("lesson-media");
    a.muted = true;
    a.addEventListener("ended", () => resolve(true), {once: true});
    a.addEventListener("error", () => reject(String(a.error && a.error.code)));
    a.play();
})"""


def _listened(learner, lesson: str):
    from learning.models import Progress

    with database.connection_context():
        rows = list(
            Progress.select().where(
                Progress.learner == learner, Progress.course == "alpha-1", Progress.lesson == lesson
            )
        )
    return [r.listened_at for r in rows]


def _snapshots() -> int:
    from appliance.models import OutboxEvent

    with database.connection_context():
        return OutboxEvent.select().where(OutboxEvent.kind == "learning.progress").count()


def test_a_listened_mark_meets_a_busy_box_and_a_dropped_link(app, tmp_path, phone, artifacts):
    from learning import course as course_mod
    from learning import rules

    ffmpeg = require_program("ffmpeg", "ffmpeg")
    folder = write_course(tmp_path / "alpha")
    subprocess.run(
        [ffmpeg, "-loglevel", "error", "-y", "-f", "lavfi", "-i",
         "sine=frequency=440:duration=1", "-c:a", "flac", str(folder / "media" / "a.ogg")],
        check=True,
        timeout=120,
    )  # fmt: skip
    content = app.config["SITE"].content_dir
    content.mkdir(parents=True, exist_ok=True)
    course_mod.build(folder, content / "alpha-1.zim")
    with app.app_context(), database.connection_context():
        awa = rules.new_learner("Awa", "f", "under35")

    # Every listened post and the box's answer, in order; the first 503 is announced.
    answered: list[tuple[str, str]] = []
    busy_answered = threading.Event()
    inner = app.wsgi_app

    def watching(environ, start_response):
        path = environ["PATH_INFO"]
        if not (environ["REQUEST_METHOD"] == "POST" and path.endswith("/listened")):
            return inner(environ, start_response)
        # the app's 10 s wait for the lock, made short as tests/appliance/test_busy_database
        database.connect(reuse_if_open=True)
        database.execute_sql("PRAGMA busy_timeout = 50")

        def start(status, headers, *exc):
            answered.append((path.split("/")[-2], status.split()[0]))
            if status.startswith("503"):
                assert ("Retry-After", "2") in headers
                busy_answered.set()
            return start_response(status, headers, *exc)

        try:
            return inner(environ, start)
        finally:
            database.execute_sql("PRAGMA busy_timeout = 10000")

    app.wsgi_app = watching
    server = LiveServer(app)
    other = sqlite3.connect(app.config["SITE"].data_dir / DB_NAME)
    try:
        page = phone
        page.goto(server.url + "/learn/")
        page.fill("input[name=code]", awa.code)
        page.click("form[action$='/learn/enter'] button")
        page.wait_for_url("**/learn/0/")

        # 1. The box is busy: another writer holds the database's lock.
        page.goto(server.url + "/learn/0/alpha-1/a")
        assert _listened(awa, "a") == [""]  # opened, not listened
        before = _snapshots()
        other.execute("BEGIN IMMEDIATE")
        assert page.evaluate(PLAY_TO_THE_END)
        assert busy_answered.wait(timeout=30), answered
        assert _listened(awa, "a") == [""]  # the 503 kept nothing
        other.rollback()  # the lock gone: the page's next try is stored
        page.wait_for_selector("#listened .ok", state="visible")
        assert page.locator("#listened button").is_hidden()
        page.screenshot(path=str(artifacts / "learning-listened-after-busy-360x640.png"))
        statuses = [s for lesson, s in answered if lesson == "a"]
        assert statuses[0] == "503" and statuses[-1] == "204" and statuses.count("204") == 1
        assert set(statuses) == {"503", "204"}, statuses
        (first,) = _listened(awa, "a")
        assert first and _snapshots() == before + 1
        # the same mark again (a beacon, a tap on a stale page) counts once
        again = page.evaluate(
            """() => { const d = new FormData(document.getElementById("listened"));
                       d.append("js", "1");
                       return fetch(document.getElementById("listened").action,
                                    {method: "POST", body: d}).then(r => r.status); }"""
        )
        assert again == 204
        assert _listened(awa, "a") == [first] and _snapshots() == before + 1

        # 2. The Wi-Fi drops the first post: the page tries again a second later.
        dropped: list[str] = []

        def drop_once(route):
            if not dropped:
                dropped.append(route.request.url)
                route.abort("internetdisconnected")
            else:
                route.continue_()

        page.route("**/listened", drop_once)
        page.goto(server.url + "/learn/0/alpha-1/lire")
        before = _snapshots()
        assert page.evaluate(PLAY_TO_THE_END)
        page.wait_for_selector("#listened .ok", state="visible")
        assert len(dropped) == 1
        assert [s for lesson, s in answered if lesson == "lire"] == ["204"]
        assert _listened(awa, "lire")[0] and _snapshots() == before + 1
    finally:
        other.close()
        server.close()
