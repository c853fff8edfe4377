"""MOOC ZIMs (openedx2zim, kolibri2zim) read as courses where their structure allows:
modules and lessons in the course's order (the menus', not the sorted paths'), audio
and video found; a plain or broken ZIM stays a book and the kiosk says why."""

from __future__ import annotations

import shutil

from appliance.db import database
from learning import catalogue, mooc
from tests.learning import mooc_zims
from tests.support import csrf, kiosk_login


def _outline(course):
    return [(m.title, [x.title for x in m.lessons]) for m in course.modules]


def test_an_openedx_mooc_reads_as_chapters_of_verticals_in_menu_order(tmp_path):
    reading = mooc.read(mooc_zims.openedx_zim(tmp_path / "edx.zim"))
    c = reading.course
    assert c is not None and c.source == "openedx"
    assert c.id == "mooc-sahelink-gestion-communale-fr" and c.language == "fr"
    assert c.title == "Gestion communale (SaheLink)"
    # "Introduction" sorts before "Semaine" in the ZIM, and has no sequential: no module
    assert _outline(c) == [
        ("Semaine 1 : la commune", ["Qui vote ?", "Le budget", "Rôle du maire"]),
        ("Semaine 2 : les impôts", ["À quoi sert-elle ?"]),
    ]
    qui_vote, budget, maire = c.modules[0].lessons
    base = "course/gestion-communale/semaine-1"
    assert qui_vote.page == f"{base}/le-conseil/qui-vote/index.html"
    assert qui_vote.video == f"{base}/le-conseil/qui-vote/qui-vote-video/video.mp4"
    assert not qui_vote.audio and not budget.audio and not budget.video
    assert maire.audio == f"{base}/le-maire/role-du-maire/role-du-maire-audio/audio.mp3"
    # ids are stable from the page path (progress is kept by them), and unique
    again = mooc.read(mooc_zims.openedx_zim(tmp_path / "edx2.zim")).course
    assert [x.id for x in again.lessons()] == [x.id for x in c.lessons()]
    assert len({x.id for x in c.lessons()}) == 4


def test_an_openedx_mooc_without_sequence_nav_gives_a_lesson_per_sequential(tmp_path):
    c = mooc.read(mooc_zims.openedx_zim(tmp_path / "edx.zim", seq_nav=False)).course
    assert _outline(c) == [
        ("Semaine 1 : la commune", ["Le conseil communal", "Le maire"]),
        ("Semaine 2 : les impôts", ["La taxe de développement"]),
    ]


def test_a_kolibri_channel_reads_as_topics_of_leaves_depth_first(tmp_path):
    c = mooc.read(mooc_zims.kolibri_zim(tmp_path / "k.zim")).course
    assert c is not None and c.source == "kolibri" and c.language == "bm"
    assert c.id == "mooc-kolibri-alpha-fonctionnelle"
    # the leaf right under the root first (a module named after the channel); a
    # topic's nested topic followed; a leaf whose page is missing and an empty topic
    # are left out
    assert _outline(c) == [
        ("Alphabétisation fonctionnelle", ["Bienvenue"]),
        ("Lecture", ["Les voyelles", "ba be bi"]),
        ("Écriture", ["Tracer la lettre a"]),
    ]
    bienvenue, voyelles, syllabes, tracer = c.lessons()
    assert bienvenue.video == "0a1b2c3d.mp4" and bienvenue.page == "static/bienvenue"
    assert voyelles.audio == "9f8e7d6c.mp3" and syllabes.audio == "5a5a5a5a.mp3"
    assert tracer.video == "77aa77aa.mp4"


def test_what_is_not_a_course_stays_a_book_with_the_reason(tmp_path):
    plain = mooc.read(mooc_zims.plain_zim(tmp_path / "plain.zim"))
    assert plain.course is None and plain.reason == mooc.NO_STRUCTURE
    assert plain.title == "Santé (mini)"
    broken = mooc.read(mooc_zims.broken_openedx_zim(tmp_path / "broken.zim"))
    assert broken.course is None and broken.reason == mooc.BROKEN
    assert "zim-course-navigation" in broken.detail
    damaged = tmp_path / "damaged.zim"
    damaged.write_bytes(mooc_zims.openedx_zim(tmp_path / "x.zim").read_bytes()[:5000])
    assert mooc.read(damaged).reason == mooc.UNREADABLE
    junk = tmp_path / "junk.zim"
    junk.write_bytes(b"not a zim at all")
    assert mooc.read(junk).reason == mooc.UNREADABLE


def test_a_learner_follows_a_mooc_and_the_kiosk_says_which_books_are_not_courses(
    course_app, tmp_path
):
    from learning import rules

    app = course_app
    content = app.config["SITE"].content_dir
    mooc_zims.openedx_zim(content / "gestion.zim")
    mooc_zims.kolibri_zim(content / "alpha_kolibri.zim")
    mooc_zims.plain_zim(content / "sante.zim")
    mooc_zims.broken_openedx_zim(content / "sans_menu.zim")
    shutil.copy(content / "gestion.zim", content / "gestion_copie.zim")
    found = catalogue.courses(content)
    assert sorted(found) == [
        "alpha-1",
        "mooc-kolibri-alpha-fonctionnelle",
        "mooc-sahelink-gestion-communale-fr",
    ]

    kiosk = app.test_client()
    kiosk_login(kiosk)
    page = kiosk.get("/kiosk/learning/").get_data(as_text=True)
    assert 'data-course="mooc-sahelink-gestion-communale-fr" data-source="openedx"' in page
    assert 'data-book="sante" data-reason="no_structure"' in page
    assert 'data-book="sans_menu" data-reason="broken"' in page
    assert 'data-book="gestion_copie" data-reason="duplicate"' in page
    assert "no modules or lessons to follow" in page

    with app.app_context(), database.connection_context():
        awa = rules.new_learner("Awa", "f", "under35")
    phone = app.test_client()
    token = csrf(phone)
    phone.post("/learn/enter", data={"csrf": token, "code": awa.code})
    cid = "mooc-sahelink-gestion-communale-fr"
    c = found[cid][1]
    qui_vote, budget = c.lessons()[:2]
    path = phone.get(f"/learn/0/{cid}/").get_data(as_text=True)
    assert f'data-lesson="{qui_vote.id}" data-state="next"' in path
    lesson = phone.get(f"/learn/0/{cid}/{qui_vote.id}").get_data(as_text=True)
    # the lesson's own page opens in the library's reader; its video is the box's
    assert f'href="/library/gestion/{qui_vote.page}"' in lesson
    assert f'src="/learn/media/{cid}/{qui_vote.video}"' in lesson
    assert phone.get(f"/library/gestion/{qui_vote.page}").status_code == 200
    phone.post(f"/learn/0/{cid}/{qui_vote.id}/listened", data={"csrf": token})
    phone.get(f"/learn/0/{cid}/{budget.id}")  # text only: done when opened
    path = phone.get(f"/learn/0/{cid}/").get_data(as_text=True)
    assert f'data-lesson="{qui_vote.id}" data-state="done"' in path
    assert f'data-lesson="{budget.id}" data-state="done"' in path
    with app.app_context(), database.connection_context():
        s = rules.standing(c, awa)
    assert (s.done, s.lessons, s.state) == (2, 4, "progressed")


def test_a_kolibri_channel_whose_topics_loop_is_read_once(tmp_path):
    """A hostile or broken channel: topics listing each other (and themselves) many
    times are each followed once, so reading ends and lists each leaf once."""
    import json

    from tests.learning.mooc_zims import AUDIO, _kolibri_leaf, _section, _topic, _zim

    loop = [_section("a", "A", "topic")] * 50 + [_section("b", "B", "topic")] * 50
    entries = [
        ("channel.json", "c", "application/json", json.dumps({"root": "a"})),
        ("topics/a.json", "A", "application/json", _topic("A", loop, [])),
        (
            "topics/b.json",
            "B",
            "application/json",
            _topic("B", loop + [_section("son", "Son", "audio")], ["a"]),
        ),
        ("static/son", "Son", "text/html", _kolibri_leaf("Son", "audio", "s.mp3"), True),
        ("s.mp3", "", "audio/mpeg", AUDIO),
    ]
    meta = {"Name": "boucle", "Title": "Boucle", "Language": "fra", "Tags": "kolibri"}
    c = mooc.read(_zim(tmp_path / "loop.zim", meta, "", entries)).course
    assert _outline(c) == [("B", ["Son"])]
