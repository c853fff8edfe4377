"""The kiosk's Learning tab (800x480, touch): learner cards, groups following a course,
who is where and who is stuck, the group's answers, certificates of completion."""

from __future__ import annotations

import datetime as dt
import json

from flask import Blueprint, abort, current_app, redirect, render_template, request, url_for
from flask_babel import gettext as _

from appliance import csrf
from appliance.kiosk.auth import facilitator_required

from . import catalogue, coaching, mooc, pace, rules
from .models import Group, Learner, Member, Progress

bp = Blueprint(
    "learning_kiosk", __name__, url_prefix="/kiosk/learning", template_folder="templates"
)


@bp.context_processor
def _kiosk_context() -> dict:
    from appliance import kiosk

    shared = getattr(kiosk, "kiosk_context", None)
    if shared is not None:
        return shared()
    from appliance.kiosk.auth import current_facilitator

    return {"kiosk_nav": kiosk.NAV, "facilitator": current_facilitator()}


def _courses():
    return catalogue.courses(current_app.config["SITE"].content_dir)


def why_not_a_course(code: str) -> str:
    """Why a ZIM of the library stays a book, in the facilitator's words."""
    return {
        mooc.NO_STRUCTURE: _("a book: it has no modules or lessons to follow"),
        mooc.BROKEN: _("looks like a MOOC, but its course menu cannot be followed"),
        mooc.EMPTY: _("its course menu leads to no lesson"),
        mooc.UNREADABLE: _("the file cannot be read (damaged or incomplete)"),
        mooc.DUPLICATE: _("the same course is already on the box in another file"),
    }.get(code, code)


@bp.get("/")
@facilitator_required
def index():
    groups = list(Group.select().order_by(Group.id.desc()))
    courses = _courses()
    series = pace.series_choices(_tz())
    books = catalogue.books(current_app.config["SITE"].content_dir)
    return render_template(
        "learning/kiosk.html",
        groups=groups,
        courses=courses,
        books=[(p, r, why_not_a_course(r.reason)) for p, r in books],
        series=series,
        today=dt.date.today(),
        error=request.args.get("e", ""),
    )


@bp.post("/learners")
@facilitator_required
@csrf.protect
def new_learner():
    try:
        learner = rules.new_learner(
            request.form.get("first_name", ""),
            request.form.get("gender", ""),
            request.form.get("age_group", ""),
        )
    except rules.LearningError as e:
        return redirect(url_for(".index", e=str(e)))
    group_id = request.form.get("group", "")
    if group_id.isdigit():
        group = Group.get_or_none(Group.id == int(group_id))
        if group is not None:
            rules.join(group, learner)
    return redirect(url_for(".card", learner_id=learner.id))


@bp.get("/learners/<int:learner_id>/card")
@facilitator_required
def card(learner_id: int):
    learner = Learner.get_or_none(Learner.id == learner_id) or abort(404)
    return render_template("learning/card.html", learner=learner)


def _tz():
    from zoneinfo import ZoneInfo

    return ZoneInfo(current_app.config["SITE"].site.timezone)


def _pace_form(group: Group | None = None) -> dict:
    """The pace fields of a group form, checked (raises LearningError naming one)."""
    f = request.form
    try:
        pace_days = int(f.get("pace_days") or 7)
        stuck_days = int(f.get("stuck_days") or 10)
    except ValueError:
        raise rules.LearningError("pace_days, stuck_days: whole numbers of days") from None
    try:
        started = dt.date.fromisoformat(f.get("started_on") or dt.date.today().isoformat())
    except ValueError:
        raise rules.LearningError("started_on: a date (YYYY-MM-DD)") from None
    series = f.get("series", "")
    return {
        "name": f.get("name", group.name if group else ""),
        "pace_days": pace_days,
        "started_on": started,
        "series_id": int(series) if series.isdigit() else None,
        "stuck_days": stuck_days,
    }


@bp.post("/groups")
@facilitator_required
@csrf.protect
def new_group():
    course_id = request.form.get("course", "")
    if course_id not in _courses():
        return redirect(url_for(".index", e="course"))
    try:
        p = _pace_form()
        group = rules.new_group(
            p["name"],
            course_id,
            p["pace_days"],
            started_on=p["started_on"],
            series_id=p["series_id"],
            stuck_days=p["stuck_days"],
        )
    except rules.LearningError as e:
        return redirect(url_for(".index", e=str(e)))
    return redirect(url_for(".group", group_id=group.id))


@bp.post("/groups/<int:group_id>/pace")
@facilitator_required
@csrf.protect
def group_pace(group_id: int):
    group, _course = _group_course(group_id)
    try:
        p = _pace_form(group)
        rules.set_pace(
            group, p["name"], p["pace_days"], p["started_on"], p["series_id"], p["stuck_days"]
        )
    except rules.LearningError as e:
        return redirect(url_for(".group", group_id=group.id, e=str(e)))
    return redirect(url_for(".group", group_id=group.id))


def _group_course(group_id: int):
    group = Group.get_or_none(Group.id == group_id) or abort(404)
    found = _courses().get(group.course)
    if found is None:
        abort(404)
    return group, found[1]


@bp.get("/groups/<int:group_id>")
@facilitator_required
def group(group_id: int):
    group, course = _group_course(group_id)
    tz = _tz()
    today = dt.date.today()
    rows = rules.group_view(group, course, today, tz)
    dues = pace.schedule(group, course, tz)
    expected = pace.this_week(dues, today)
    members = [r["learner"].id for r in rows]
    answers: dict[str, dict[int, dict[int, int]]] = {}
    for p in Progress.select().where(
        (Progress.course == course.id) & Progress.learner.in_(members)
    ):
        for i, c in json.loads(p.answers or "{}").items():
            if isinstance(c, int):
                bucket = answers.setdefault(p.lesson, {}).setdefault(int(i), {})
                bucket[c] = bucket.get(c, 0) + 1
    return render_template(
        "learning/group.html",
        group=group,
        course=course,
        rows=rows,
        expected=expected,
        dues=dues,
        today=today,
        icons=pace.ICONS,
        series=pace.series_choices(tz),
        answers=answers,
        coached=coaching.counts([r["learner"] for r in rows], course.id),
        error=request.args.get("e", ""),
    )


@bp.post("/groups/<int:group_id>/members")
@facilitator_required
@csrf.protect
def add_member(group_id: int):
    group, _course = _group_course(group_id)
    learner = rules.learner_by_code(request.form.get("code", ""))
    if learner is None:
        return redirect(url_for(".group", group_id=group.id, e="code"))
    rules.join(group, learner)
    return redirect(url_for(".group", group_id=group.id))


@bp.get("/groups/<int:group_id>/certificate/<int:learner_id>")
@facilitator_required
def certificate(group_id: int, learner_id: int):
    group, course = _group_course(group_id)
    member = Member.get_or_none((Member.group == group) & (Member.learner == learner_id))
    if member is None:
        abort(404)
    s = rules.standing(course, member.learner)
    if s.state != "completed":
        abort(404)
    return render_template(
        "learning/certificate.html",
        learner=member.learner,
        course=course,
        group=group,
        site=current_app.config["SITE"],
        day=dt.date.today().isoformat(),
        s=s,
    )
