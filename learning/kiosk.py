"""The kiosk's Learning tab (800x480, touch): learner cards, groups following a course,
who is where and who is stuck, the group's answers, certificates of completion."""

from __future__ import annotations

import datetime as dt
import json

from flask import Blueprint, abort, current_app, redirect, render_template, request, url_for
from flask_babel import gettext as _

from appliance import csrf
from appliance.kiosk.auth import facilitator_required

from . import catalogue, mooc, rules
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
    books = catalogue.books(current_app.config["SITE"].content_dir)
    return render_template(
        "learning/kiosk.html",
        groups=groups,
        courses=courses,
        books=[(p, r, why_not_a_course(r.reason)) for p, r in books],
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


@bp.post("/groups")
@facilitator_required
@csrf.protect
def new_group():
    course_id = request.form.get("course", "")
    if course_id not in _courses():
        return redirect(url_for(".index", e="course"))
    try:
        pace = int(request.form.get("pace_days", "7") or 7)
        group = rules.new_group(request.form.get("name", ""), course_id, pace)
    except (ValueError, rules.LearningError) as e:
        return redirect(url_for(".index", e=str(e)))
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
    rows = rules.group_view(group, course)
    # the group's answers to each exercise: how many chose each choice
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
        expected=rules.expected_module(group),
        answers=answers,
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
