"""The learner's pages on the phone (/learn): who is learning on this phone (several
learners may share one), their courses, the path of a course as icons that need no
reading, a lesson with its audio and exercises. Answers are checked on the box."""

from __future__ import annotations

import datetime as dt
from urllib.parse import quote

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _

from appliance import blobs, csrf

from . import catalogue, coaching, pace, rules
from . import course as course_mod
from . import media as media_mod
from .models import Feedback, Learner, Progress, Work

bp = Blueprint(
    "learning",
    __name__,
    url_prefix="/learn",
    template_folder="templates",
    static_folder="static",
    static_url_path="/static",
)
KEY = "learners"  # the codes of the learners of this phone, in the signed session cookie
MAX_ON_PHONE = 8


def _codes() -> list[str]:
    codes = session.get(KEY) or []
    return [c for c in codes if isinstance(c, str)][:MAX_ON_PHONE]


def _learner(slot: int) -> Learner:
    codes = _codes()
    if not 0 <= slot < len(codes):
        abort(404)
    learner = rules.learner_by_code(codes[slot])
    if learner is None:
        abort(404)
    return learner


def _course(course_id: str):
    found = catalogue.course(current_app.config["SITE"].content_dir, course_id)
    if found is None:
        abort(404)
    return found


@bp.get("/")
def index():
    learners = [rules.learner_by_code(c) for c in _codes()]
    return render_template("learning/index.html", learners=learners, error=request.args.get("e"))


@bp.post("/enter")
@csrf.protect
def enter():
    learner = rules.learner_by_code(request.form.get("code", ""))
    if learner is None:
        return redirect(url_for(".index", e="1"))
    codes = _codes()
    if learner.code not in codes:
        codes = (codes + [learner.code])[-MAX_ON_PHONE:]
    session[KEY] = codes
    session.permanent = True
    return redirect(url_for(".courses", slot=codes.index(learner.code)))


@bp.post("/<int:slot>/leave")
@csrf.protect
def leave(slot: int):
    codes = _codes()
    if 0 <= slot < len(codes):
        del codes[slot]
        session[KEY] = codes
    return redirect(url_for(".index"))


@bp.get("/<int:slot>/")
def courses(slot: int):
    learner = _learner(slot)
    rows = [
        (c, rules.standing(c, learner))
        for _p, c in catalogue.courses(current_app.config["SITE"].content_dir).values()
    ]
    return render_template("learning/courses.html", slot=slot, learner=learner, rows=rows)


@bp.get("/<int:slot>/<course_id>/")
def path(slot: int, course_id: str):
    learner = _learner(slot)
    _p, course = _course(course_id)
    done = {
        r.lesson: r
        for r in Progress.select().where(
            (Progress.learner == learner) & (Progress.course == course.id)
        )
    }
    s = rules.standing(course, learner)
    steps = [
        [
            (
                x,
                "done"
                if rules.lesson_complete(course, x.id, done.get(x.id))
                else "next"
                if x.id == s.next_lesson
                else "open"
                if x.id in done
                else "todo",
            )
            for x in m.lessons
        ]
        for m in course.modules
    ]
    week = pace.module_this_week(learner, course, dt.date.today(), _tz())
    return render_template(
        "learning/path.html",
        slot=slot,
        learner=learner,
        course=course,
        steps=steps,
        s=s,
        week=week,
        coached=coaching.lesson_states(learner, course.id),
    )


def _tz():
    from zoneinfo import ZoneInfo

    return ZoneInfo(current_app.config["SITE"].site.timezone)


@bp.get("/<int:slot>/<course_id>/<lesson_id>")
def lesson(slot: int, course_id: str, lesson_id: str):
    learner = _learner(slot)
    zim, course = _course(course_id)
    x = course.lesson(lesson_id)
    if x is None:
        abort(404)
    rules.record(course, learner, x.id, "opened")
    row = Progress.get(learner=learner, course=course.id, lesson=x.id)
    ids = [y.id for y in course.lessons()]
    nxt = ids[ids.index(x.id) + 1] if ids.index(x.id) + 1 < len(ids) else ""
    import json

    data_dir = current_app.config["SITE"].data_dir
    work = {
        i: a
        for (lesson_id_, i), a in coaching.latest_work(learner, course.id, data_dir).items()
        if lesson_id_ == x.id
    }
    werr = request.args.get("werr", "")
    return render_template(
        "learning/lesson.html",
        slot=slot,
        learner=learner,
        course=course,
        lesson=x,
        body=course_mod.lesson_body(zim, x.id) if course.source == "espace" else "",
        # a MOOC's lesson is its own page, read in the library (scripts and all)
        page_url=f"/library/{quote(zim.stem)}/{quote(x.page, safe='/')}" if x.page else "",
        given=json.loads(row.answers or "{}"),
        row=row,
        next_id=nxt,
        checked=request.args.get("checked") == "1",
        work=work,
        work_error=_work_error(werr) if werr else "",
        work_error_at=request.args.get("wi", ""),
        max_seconds=int(coaching.MAX_RECORDING_SECONDS),
        max_bytes=_max_upload(),
    )


@bp.post("/<int:slot>/<course_id>/<lesson_id>/listened")
@csrf.protect
def listened(slot: int, course_id: str, lesson_id: str):
    learner = _learner(slot)
    _zim, course = _course(course_id)
    if course.lesson(lesson_id) is None:
        abort(404)
    rules.record(course, learner, lesson_id, "listened")
    if request.form.get("js"):
        return Response("", 204)
    return redirect(url_for(".lesson", slot=slot, course_id=course.id, lesson_id=lesson_id))


@bp.post("/<int:slot>/<course_id>/<lesson_id>/answer")
@csrf.protect
def answer(slot: int, course_id: str, lesson_id: str):
    learner = _learner(slot)
    _zim, course = _course(course_id)
    x = course.lesson(lesson_id)
    if x is None:
        abort(404)
    answers = {}
    for i, e in enumerate(x.exercises):
        value = request.form.get(f"q{i}", "")
        if e.type == "choice" and value.isdigit() and int(value) < len(e.choices):
            answers[i] = int(value)
    if answers:
        rules.record(course, learner, x.id, "answered", answers)
    return redirect(
        url_for(".lesson", slot=slot, course_id=course.id, lesson_id=x.id, checked=1) + "#exercises"
    )


def _max_upload() -> int:
    """The largest recording or photo a phone may send: the work's own limit within the
    app's body limit (less room for the form's other fields)."""
    body = int(current_app.config.get("MAX_CONTENT_LENGTH") or 10_000_000) - 64 * 1024
    return min(max(coaching.MAX_RECORDING_BYTES, coaching.MAX_PHOTO_BYTES), body)


def _work_error(code: str) -> str:
    mb = f"{_max_upload() / 1e6:.0f}"
    return {
        "empty": _("Nothing was sent: record or choose a photo first."),
        "too_large": _("This file is too large (%(mb)s MB at most).", mb=mb),
        "too_long": _(
            "This recording is too long (%(minutes)d minutes at most).",
            minutes=int(coaching.MAX_RECORDING_SECONDS) // 60,
        ),
        "not_audio": _("This file is not a recording the box can play. Record again."),
        "not_photo": _("This file is not a photo (JPEG, PNG or WebP). Take the photo again."),
        "too_many": _(
            "You sent this exercise %(n)d times today: the trainer will answer the last one.",
            n=coaching.MAX_TRIES_PER_DAY,
        ),
    }.get(code, _("This exercise does not take a recording or a photo."))


@bp.post("/<int:slot>/<course_id>/<lesson_id>/work/<int:index>")
def work(slot: int, course_id: str, lesson_id: str, index: int):
    """A recording or photo for an exercise: stored whole or not at all; a refusal comes
    back to the lesson with the reason in the learner's language (a body over the app's
    limit too: it is refused before its CSRF token can be read, and nothing is kept)."""
    from werkzeug.exceptions import RequestEntityTooLarge

    learner = _learner(slot)
    _zim, course = _course(course_id)
    x = course.lesson(lesson_id)
    if x is None:
        abort(404)
    back = {"slot": slot, "course_id": course.id, "lesson_id": x.id}
    limit = current_app.config.get("MAX_CONTENT_LENGTH")
    try:
        if limit and (request.content_length or 0) > limit:
            raise RequestEntityTooLarge()  # refused unread: nothing to parse or spool
        if not csrf.valid():
            abort(400)
        upload = request.files.get("media")
        data = b""
        if upload is not None:
            with upload.stream as stream:
                data = stream.read(_max_upload() + 1)
        if len(data) > _max_upload():
            raise coaching.WorkRefused("too_large")
        coaching.submit(course, learner, x.id, index, data, current_app.config["SITE"].data_dir)
    except RequestEntityTooLarge:
        return redirect(url_for(".lesson", **back, werr="too_large", wi=index) + f"#ex{index}")
    except coaching.WorkRefused as e:
        return redirect(url_for(".lesson", **back, werr=e.code, wi=index) + f"#ex{index}")
    if request.form.get("js"):
        return Response("", 204)
    return redirect(url_for(".lesson", **back) + f"#ex{index}")


def _blob_response(sha: str, mime: str) -> Response:
    from flask import send_file

    path = blobs.path_for(current_app.config["SITE"].data_dir, sha)
    if not path.is_file():
        abort(404)
    resp = send_file(path, mimetype=mime, conditional=True, max_age=0)
    resp.headers["X-Content-Type-Options"] = "nosniff"
    resp.headers["Cache-Control"] = "private, no-store"
    return resp


@bp.get("/<int:slot>/work/<work_uuid>")
def work_media(slot: int, work_uuid: str):
    """The learner's own recording or photo (another learner's: 404)."""
    learner = _learner(slot)
    w = Work.get_or_none((Work.uuid == work_uuid) & (Work.learner == learner)) or abort(404)
    return _blob_response(w.sha256, w.mime)


@bp.get("/<int:slot>/feedback/<feedback_uuid>")
def feedback_voice(slot: int, feedback_uuid: str):
    """The trainer's voice note answering this learner's work."""
    learner = _learner(slot)
    f = Feedback.get_or_none(Feedback.uuid == feedback_uuid) or abort(404)
    mine = Work.select().where((Work.uuid == f.work_uuid) & (Work.learner == learner))
    if not f.clip_sha256 or not mine.exists():
        abort(404)
    return _blob_response(f.clip_sha256, f.clip_mime)


@bp.get("/media/<course_id>/<path:rel>")
def media(course_id: str, rel: str):
    """A course's audio, video or picture, with byte ranges (learning/media.py)."""
    zim, course = _course(course_id)
    path = media_mod.entry_path(course, rel)
    entry = media_mod.find(zim, path) if path else None
    if entry is None:
        abort(404)
    return media_mod.serve(zim, entry)


@bp.app_template_global()
def learner_label(learner: Learner) -> str:
    return learner.first_name or _("Learner %(code)s", code=learner.code[:3] + "···")
