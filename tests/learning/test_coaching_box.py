"""Remote coaching on the box: a learner's recording and photo stored whole (blob, row,
events and progress in one go), refused with a reason in the learner's language, and
kill -9 at each step leaves no partial row and no orphan file; the trainer's answer from
central shows at the lesson, on the path and at the kiosk."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap

import pytest

from appliance.db import database
from appliance.models import OutboxEvent
from tests.appliance.board_samples import ogg_opus, webm_opus
from tests.learning.course_folder import COACHING_MANIFEST, write_course
from tests.support import csrf, kiosk_login

JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01" + b"\x00" * 300 + b"\xff\xd9"


@pytest.fixture
def coach_app(app, tmp_path):
    from learning import course

    content = app.config["SITE"].content_dir
    content.mkdir(parents=True, exist_ok=True)
    course.build(write_course(tmp_path / "alpha", COACHING_MANIFEST), content / "alpha-1.zim")
    return app


def _setup(app, name="Awa"):
    from learning import rules

    with app.app_context(), database.connection_context():
        learner = rules.new_learner(name, "f", "under35")
        group = rules.new_group("Femmes de Nioro", "alpha-1")
        rules.join(group, learner)
        return learner, group


def _phone(app, learner):
    phone = app.test_client()
    token = csrf(phone)
    phone.post("/learn/enter", data={"csrf": token, "code": learner.code})
    return phone, token


def _events(kind):
    with database.connection_context():
        return [
            json.loads(e.payload)
            for e in OutboxEvent.select().where(OutboxEvent.kind == kind).order_by(OutboxEvent.seq)
        ]


def _blob_files(data_dir):
    root = data_dir / "blobs"
    return sorted(p.name for p in root.rglob("*") if p.is_file()) if root.is_dir() else []


def test_a_recording_and_a_photo_reach_the_outbox_with_hashes_only(coach_app):
    import io

    from learning import coaching
    from learning.models import Work

    app = coach_app
    awa, group = _setup(app)
    phone, token = _phone(app, awa)
    data_dir = app.config["SITE"].data_dir
    page = phone.get("/learn/0/alpha-1/lire").get_data(as_text=True)
    assert 'accept="audio/*" capture' in page and "work.js" in page
    voice = ogg_opus(2.0)
    r = phone.post(
        "/learn/0/alpha-1/lire/work/0",
        data={"csrf": token, "media": (io.BytesIO(voice), "reading.ogg")},
        content_type="multipart/form-data",
    )
    assert r.status_code == 302 and "werr" not in r.location
    page = phone.get("/learn/0/alpha-1/ecrire").get_data(as_text=True)
    assert 'accept="image/*" capture="environment"' in page
    r = phone.post(
        "/learn/0/alpha-1/ecrire/work/0",
        data={"csrf": token, "media": (io.BytesIO(JPEG), "photo.jpg")},
        content_type="multipart/form-data",
    )
    assert r.status_code == 302 and "werr" not in r.location

    with app.app_context(), database.connection_context():
        works = list(Work.select().order_by(Work.id))
        assert [(w.lesson, w.type, w.mime) for w in works] == [
            ("lire", "read_aloud", "audio/ogg"),
            ("ecrire", "photo", "image/jpeg"),
        ]
        for w in works:
            assert (data_dir / "blobs" / w.sha256[:2] / w.sha256).read_bytes() in (voice, JPEG)
        ref = coaching.group_ref(group)
    sent = _events("learning.work")
    assert [s["type"] for s in sent] == ["read_aloud", "photo"]
    assert all(s["learner"] == awa.ref and s["group"] == ref for s in sent)
    assert {m["sha256"] for m in _events("learning.media")} == {w.sha256 for w in works}
    groups = _events("learning.group")
    assert groups[-1] == {**groups[-1], "group": ref, "name": "Femmes de Nioro", "members": 1}
    everything = json.dumps(sent + groups)
    assert awa.code not in everything and "Awa" not in everything
    # the exercise counts as done; the path shows the work waiting for the trainer
    path = phone.get("/learn/0/alpha-1/").get_data(as_text=True)
    assert 'data-lesson="ecrire" data-state="done" data-coach="waiting"' in path
    # the learner hears her own recording; another phone does not
    with phone.get(f"/learn/0/work/{works[0].uuid}") as r:
        assert r.data == voice and r.headers["X-Content-Type-Options"] == "nosniff"
    other = app.test_client()
    assert other.get(f"/learn/0/work/{works[0].uuid}").status_code == 404


@pytest.mark.parametrize(
    ("lesson", "data", "code", "text"),
    [
        ("lire", b"", "empty", "Rien n"),
        ("lire", JPEG, "not_audio", "enregistrement"),
        ("ecrire", ogg_opus(1.0), "not_photo", "photo"),
        ("lire", ogg_opus(200.0), "too_long", "trop long"),
        ("lire", b"OggS" + b"\x00" * 3_400_000, "too_large", "trop grand"),
        ("chat", JPEG, "no_exercise", "exercice"),
    ],
)
def test_bad_work_is_refused_in_the_learners_language_and_nothing_is_kept(
    coach_app, lesson, data, code, text
):
    app = coach_app
    awa, _group = _setup(app)
    phone, token = _phone(app, awa)
    phone.set_cookie("lang", "fr")
    # the body built by hand: the test client spools a large file to a temporary file
    # it never closes
    b = "----espace"
    body = (
        (
            f'--{b}\r\nContent-Disposition: form-data; name="csrf"\r\n\r\n{token}\r\n'
            f'--{b}\r\nContent-Disposition: form-data; name="media"; filename="x.bin"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        + data
        + f"\r\n--{b}--\r\n".encode()
    )
    r = phone.post(
        f"/learn/0/alpha-1/{lesson}/work/0",
        data=body,
        content_type=f"multipart/form-data; boundary={b}",
    )
    assert r.status_code == 302 and f"werr={code}" in r.location
    page = phone.get(r.location).get_data(as_text=True)
    if lesson != "chat":
        assert "data-work-error" in page and text in page, page
    assert _events("learning.work") == []
    assert _blob_files(app.config["SITE"].data_dir) == []


WRITER = textwrap.dedent("""
    import os, signal, sys
    from pathlib import Path
    from appliance import create_app
    from appliance.db import database
    from learning import catalogue, coaching, rules
    from learning.models import Learner
    from tests.support import make_site

    tmp, stage, code = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
    app = create_app({"SITE": make_site(tmp), "SITE_DIR": tmp, "TESTING": True,
                      "SECRET_KEY": "t"})

    def die(at):
        if at == stage:
            os.kill(os.getpid(), signal.SIGKILL)

    coaching._checkpoint = die
    with app.app_context():
        database.connect(reuse_if_open=True)
        course = catalogue.course(app.config["SITE"].content_dir, "alpha-1")[1]
        learner = Learner.get(Learner.code == code)
        coaching.submit(course, learner, "lire", 0, Path(sys.argv[4]).read_bytes(),
                        app.config["SITE"].data_dir)
""")


@pytest.mark.parametrize("stage", ["staged", "rows", "committed"])
def test_kill_9_mid_upload_leaves_no_partial_row_nor_orphan_file(coach_app, tmp_path, stage):
    from learning import coaching
    from learning.models import Work

    app = coach_app
    awa, _group = _setup(app)
    data_dir = app.config["SITE"].data_dir
    voice = tmp_path / "reading.ogg"
    voice.write_bytes(ogg_opus(1.5))
    database.close()
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    done = subprocess.run(
        [sys.executable, "-c", WRITER, str(tmp_path), stage, awa.code, str(voice)],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert done.returncode == -signal.SIGKILL, done.stderr
    with app.app_context(), database.connection_context():
        rows = list(Work.select())
        events = _events("learning.work")
        swept = coaching.recover_incoming(data_dir)
        if stage == "committed":  # acknowledged: the row, its events and its blob
            assert len(rows) == 1 and len(events) == 1 and swept == (1, 0)
            assert _blob_files(data_dir) == [rows[0].sha256]
        else:  # not acknowledged: nothing at all once swept
            assert rows == [] and events == [] and swept == (0, 1)
            assert _blob_files(data_dir) == []
        assert list((data_dir / coaching.INCOMING).iterdir()) == []


def test_the_trainers_answer_shows_at_the_lesson_the_path_and_the_kiosk(coach_app):
    import io

    from appliance.sync import handlers
    from learning import coaching
    from learning.models import Work

    app = coach_app
    awa, group = _setup(app)
    phone, token = _phone(app, awa)
    phone.post(
        "/learn/0/alpha-1/lire/work/0",
        data={"csrf": token, "media": (io.BytesIO(webm_opus(1.0)), "r.webm")},
        content_type="multipart/form-data",
    )
    kiosk = app.test_client()
    kiosk_login(kiosk)
    page = kiosk.get(f"/kiosk/learning/groups/{group.id}").get_data(as_text=True)
    assert 'data-waiting="1"' in page and 'data-answered="0"' in page
    data_dir = app.config["SITE"].data_dir
    clip = ogg_opus(1.0, salt=b"trainer")
    with app.app_context(), database.connection_context():
        work = Work.get()
        payload = {
            "uuid": "f-1",
            "work": work.uuid,
            "mark": 3,
            "clip_sha256": __import__("hashlib").sha256(clip).hexdigest(),
            "clip_mime": "audio/ogg",
            "clip_size": len(clip),
            "pieces": [],
            "created_at": "2026-11-30T10:00:00Z",
        }
        with database.atomic():
            assert coaching.receive_feedback(payload, data_dir) == "learning"
            assert coaching.receive_feedback(payload, data_dir) == "learning"  # once
            # a mark out of range is not applied
            assert coaching.receive_feedback({**payload, "uuid": "f-2", "mark": 9}, data_dir) == ""
        assert handlers.DOWN.get("learning.feedback") is not None
    # the clip is still downloading: the mark shows, the voice note is on its way
    lesson = phone.get("/learn/0/alpha-1/lire").get_data(as_text=True)
    assert 'data-work-state="answered"' in lesson and 'data-mark="3"' in lesson
    assert "data-feedback" not in lesson
    from appliance import blobs

    blobs.put_bytes(data_dir, clip)  # the download finished
    lesson = phone.get("/learn/0/alpha-1/lire").get_data(as_text=True)
    assert "data-feedback" in lesson
    with phone.get("/learn/0/feedback/f-1") as r:
        assert r.data == clip
    assert app.test_client().get("/learn/0/feedback/f-1").status_code == 404
    path = phone.get("/learn/0/alpha-1/").get_data(as_text=True)
    assert 'data-coach="answered"' in path
    page = kiosk.get(f"/kiosk/learning/groups/{group.id}").get_data(as_text=True)
    assert 'data-waiting="0"' in page and 'data-answered="1"' in page


def test_a_few_tries_a_day_then_the_box_says_the_trainer_answers_the_last(coach_app):
    import io

    from learning import coaching

    app = coach_app
    awa, _group = _setup(app)
    phone, token = _phone(app, awa)
    phone.set_cookie("lang", "fr")
    for i in range(coaching.MAX_TRIES_PER_DAY + 1):
        r = phone.post(
            "/learn/0/alpha-1/lire/work/0",
            data={"csrf": token, "media": (io.BytesIO(ogg_opus(1.0, salt=bytes([i]))), "r.ogg")},
            content_type="multipart/form-data",
        )
    assert "werr=too_many" in r.location
    assert "dernier" in phone.get(r.location).get_data(as_text=True)
    assert len(_events("learning.work")) == coaching.MAX_TRIES_PER_DAY
