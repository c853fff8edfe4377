"""Learners without accounts on a shared phone, progress per lesson (written with its
snapshot for central in one transaction), answers checked on the box, the kiosk's
group view and certificate, and the figures the box and central both count."""

from __future__ import annotations

import json
import re

from appliance.db import database
from appliance.models import OutboxEvent
from tests.support import csrf, kiosk_login


def _snapshots(course="alpha-1"):
    with database.connection_context():
        return [
            json.loads(e.payload)
            for e in OutboxEvent.select()
            .where(OutboxEvent.kind == "learning.progress")
            .order_by(OutboxEvent.seq)
        ]


def _learner(app, **kw):
    from learning import rules

    with app.app_context(), database.connection_context():
        return rules.new_learner(**kw)


def test_two_learners_share_a_phone_and_progress_is_kept_per_learner(course_app):
    app = course_app
    awa = _learner(app, first_name="Awa", gender="f", age_group="under35")
    moussa = _learner(app, first_name="Moussa", gender="m", age_group="35plus")
    phone = app.test_client()
    token = csrf(phone)
    assert re.fullmatch(r"[1-9]\d{5}", awa.code) and awa.code != moussa.code

    r = phone.post("/learn/enter", data={"csrf": token, "code": "000000"})
    assert r.status_code == 302 and "e=1" in r.location
    r = phone.post("/learn/enter", data={"csrf": token, "code": awa.code})
    assert r.location.endswith("/learn/0/")
    r = phone.post("/learn/enter", data={"csrf": token, "code": moussa.code})
    assert r.location.endswith("/learn/1/")
    page = phone.get("/learn/").get_data(as_text=True)
    assert "Awa" in page and "Moussa" in page
    # a code is not shown on the shared phone's list, nor is it in the URL
    assert awa.code not in page and moussa.code not in page

    # Awa: opens the path, the first lesson, listens to the end
    path = phone.get("/learn/0/alpha-1/").get_data(as_text=True)
    assert 'data-lesson="a" data-state="next"' in path
    lesson = phone.get("/learn/0/alpha-1/a").get_data(as_text=True)
    assert "<strong>a</strong>" in lesson and "&lt;script&gt;" in lesson
    assert (
        phone.post("/learn/0/alpha-1/a/listened", data={"csrf": token, "js": "1"}).status_code
        == 204
    )
    # a wrong answer, then the right one: checked on the box
    phone.get("/learn/0/alpha-1/chat")
    phone.post("/learn/0/alpha-1/chat/answer", data={"csrf": token, "q0": "0"})
    wrong = phone.get("/learn/0/alpha-1/chat?checked=1").get_data(as_text=True)
    assert 'data-result="wrong"' in wrong
    phone.post("/learn/0/alpha-1/chat/answer", data={"csrf": token, "q0": "1"})
    right = phone.get("/learn/0/alpha-1/chat?checked=1").get_data(as_text=True)
    assert 'data-result="right"' in right
    path = phone.get("/learn/0/alpha-1/").get_data(as_text=True)
    assert 'data-lesson="a" data-state="done"' in path
    assert 'data-lesson="chat" data-state="done"' in path
    assert 'data-lesson="lire" data-state="next"' in path  # resumes where she stopped

    # Moussa, same phone: his own path, untouched by Awa's
    path = phone.get("/learn/1/alpha-1/").get_data(as_text=True)
    assert 'data-lesson="a" data-state="next"' in path
    # a forged answer (out of range, non-numeric) changes nothing
    phone.post("/learn/1/alpha-1/chat/answer", data={"csrf": token, "q0": "7"})
    phone.post("/learn/1/alpha-1/chat/answer", data={"csrf": token, "q0": "1 OR 1=1"})
    assert 'data-lesson="chat" data-state="todo"' in phone.get("/learn/1/alpha-1/").get_data(
        as_text=True
    )
    # without the CSRF token, nothing is written
    assert phone.post("/learn/1/alpha-1/a/listened", data={}).status_code == 400
    # another phone cannot use slot 0 without the code
    assert app.test_client().get("/learn/0/alpha-1/").status_code == 404
    assert phone.get("/learn/5/alpha-1/").status_code == 404
    assert phone.get("/learn/0/nope/").status_code == 404
    assert phone.get("/learn/0/alpha-1/../../etc").status_code == 404

    snaps = _snapshots()
    # a lesson seen again changes nothing and sends nothing
    phone.get("/learn/0/alpha-1/a")
    phone.get("/learn/0/alpha-1/a")
    assert len(_snapshots()) == len(snaps)
    last = {(s["learner"], s["course"]): s for s in snaps}
    assert set(last) == {(awa.ref, "alpha-1")}  # Moussa opened no lesson yet
    awa_s = last[(awa.ref, "alpha-1")]
    assert awa_s == {
        **awa_s,
        "lessons": 3,
        "opened": 2,
        "done": 2,
        "state": "progressed",
        "score_pct": 100,
        "gender": "f",
        "age_group": "under35",
    }
    # names and codes stay on the box
    raw = json.dumps(snaps)
    for secret in (awa.code, moussa.code, "Awa", "Moussa"):
        assert secret not in raw


def test_the_kiosk_shows_the_group_and_prints_a_certificate(course_app):
    from learning import rules
    from learning.catalogue import course

    app = course_app
    kiosk = app.test_client()
    kiosk_login(kiosk)
    token = csrf(kiosk)
    r = kiosk.post(
        "/kiosk/learning/groups",
        data={"csrf": token, "name": "Élus de Nioro", "course": "alpha-1", "pace_days": "7"},
    )
    assert r.status_code == 302
    group_url = r.location
    r = kiosk.post(
        "/kiosk/learning/learners",
        data={
            "csrf": token,
            "first_name": "Awa",
            "gender": "f",
            "age_group": "under35",
            "group": "1",
        },
    )
    card = kiosk.get(r.location).get_data(as_text=True)
    code = re.search(r'id="learner-code">(\d{6})<', card).group(1)
    late = _learner(app, first_name="<b>Fanta</b>", gender="f")
    assert (
        kiosk.post(group_url + "/members", data={"csrf": token, "code": late.code}).status_code
        == 302
    )
    with app.app_context(), database.connection_context():
        c = course(app.config["SITE"].content_dir, "alpha-1")[1]
        awa = rules.learner_by_code(code)
        rules.record(c, awa, "a", "listened")
        rules.record(c, awa, "chat", "answered", {0: 1})
        rules.record(c, awa, "lire", "listened")
        rules.record(c, awa, "lire", "recorded", {0: 1})
        # the group started long ago: Fanta, who has just begun, is behind
        from learning.models import Group

        Group.update(started_on="2000-01-01").execute()
        rules.record(c, late, "chat", "answered", {0: 0})
    page = kiosk.get(group_url).get_data(as_text=True)
    assert f'data-code="{code}" data-stuck="0"' in page
    assert f'data-code="{late.code}" data-stuck="0" data-status="behind"' in page
    assert f'data-code="{code}" data-stuck="0" data-status="done"' in page
    assert "&lt;b&gt;Fanta&lt;/b&gt;" in page and "<b>Fanta</b>" not in page
    cert = re.search(r'href="([^"]+/certificate/\d+)"', page).group(1)
    text = kiosk.get(cert).get_data(as_text=True)
    assert 'id="cert-name">Awa<' in text and "Lire et écrire" in text
    # no certificate for a learner who has not completed
    assert kiosk.get(f"{group_url}/certificate/{late.id}").status_code == 404
    # the group's answers: one chose each choice
    assert "chien</span> 1" in page and "chat</span> 1" in page
    # a phone cannot reach the kiosk's pages
    assert app.test_client().get(group_url).status_code in (302, 404)

    with app.app_context(), database.connection_context():
        figures = rules.figures(c)
    assert figures["started"]["all"] == 2 and figures["completed"] == {
        "all": 1,
        "gender:f": 1,
        "age:under35": 1,
    }
    assert figures["progressed"]["all"] == 2  # Fanta did an exercise (wrong, but done)


def test_bad_learner_fields_are_refused(course_app):
    import pytest

    from learning import rules

    with course_app.app_context(), database.connection_context():
        with pytest.raises(rules.LearningError, match="gender"):
            rules.new_learner(gender="x")
        with pytest.raises(rules.LearningError, match="age_group"):
            rules.new_learner(age_group="old")
    assert rules.learner_by_code("12345") is None
    assert rules.learner_by_code("١٢٣٤٥٦") is None  # Arabic-Indic digits are not a code


def test_other_and_broken_zims_are_not_courses(course_app):
    from appliance.demo_zim import build_demo_zim
    from learning import catalogue

    content = course_app.config["SITE"].content_dir
    build_demo_zim(content / "demo.zim")  # a book, not a course
    (content / "broken.zim").write_bytes(b"ZIM\x04" + b"\x00" * 100)  # cut short
    assert list(catalogue.courses(content)) == ["alpha-1"]
    awa = _learner(course_app, first_name="Awa")
    phone = course_app.test_client()
    phone.post("/learn/enter", data={"csrf": csrf(phone), "code": awa.code})
    page = phone.get("/learn/0/")
    assert page.status_code == 200 and page.get_data(as_text=True).count('class="big"') == 1
    assert phone.get("/learn/0/demo/").status_code == 404
    assert phone.get("/learn/media/alpha-1/media/nope.png").status_code == 404
    assert phone.get("/learn/media/alpha-1/../../etc/passwd").status_code == 404


def test_a_listened_mark_sent_again_counts_once(course_app, monkeypatch):
    """The lesson's page sends its mark again after a 503 or a dropped link, and as a
    beacon when it is left: the box keeps the first time and sends one snapshot."""
    from learning import rules
    from learning.models import Progress

    app = course_app
    awa = _learner(app, first_name="Awa", gender="f", age_group="under35")
    phone = app.test_client()
    token = csrf(phone)
    phone.post("/learn/enter", data={"csrf": token, "code": awa.code})
    phone.get("/learn/0/alpha-1/a")
    before = len(_snapshots())
    url = "/learn/0/alpha-1/a/listened"
    assert phone.post(url, data={"csrf": token, "js": "1"}).status_code == 204
    with database.connection_context():
        first = Progress.get(Progress.learner == awa, Progress.lesson == "a").listened_at
    assert first and len(_snapshots()) == before + 1
    monkeypatch.setattr(rules, "now", lambda: "2099-01-01T00:00:00+00:00")  # time went by
    assert phone.post(url, data={"csrf": token, "js": "1"}).status_code == 204
    assert phone.post(url, data={"csrf": token}).status_code == 302  # the button
    with database.connection_context():
        rows = list(Progress.select().where(Progress.learner == awa, Progress.lesson == "a"))
    assert [r.listened_at for r in rows] == [first]
    assert len(_snapshots()) == before + 1
