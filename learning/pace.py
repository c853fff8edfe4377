"""A group's pace through its course: when each module is due, which module is this
week's, and who is on pace, behind or stuck.

A group starts on a date and moves a module every ``pace_days`` (7: a module a week).
Linked to a weekly series of the programme (``Group.series``), module *i* is due at
the series' *i*-th session that is not cancelled, in the order of their start: moving a
session moves its module, cancelling one hands its module to the next session (nothing
is stored: dates are computed from the programme each time). Modules beyond the last
session follow at the pace after it.

A member is **done** (course completed), **stuck** (no progress for ``stuck_days`` days
once the group has started: the facilitator should call them), **behind** (the module
they are in comes before this week's) or **on pace**.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import peewee

from .course import Course
from .models import Group, Learner, Member, Progress

STATUSES = ("done", "on_pace", "behind", "stuck")
ICONS = {"done": "✓", "on_pace": "▶", "behind": "◀", "stuck": "⚠"}  # in DejaVu: no emoji font


@dataclass
class Due:
    module: int
    on: dt.date
    session_id: int | None = None  # the programme session it is due at, if linked
    session_title: str = ""


def _sessions(group: Group, tz=None) -> list[tuple[dt.date, int, str]]:
    """The linked series' sessions that still take place, in order: (local date, id,
    title)."""
    if not group.series_id:
        return []
    from appliance.programme.models import Session
    from appliance.programme.recurrence import to_local

    out = []
    for s in (
        Session.select()
        .where((Session.series == group.series_id) & (Session.cancelled == False))  # noqa: E712
        .order_by(Session.starts_at, Session.id)
    ):
        local = to_local(s.starts_at, tz) if tz is not None else s.starts_at
        out.append((local.date(), s.id, s.title))
    return out


def schedule(group: Group, course: Course, tz=None) -> list[Due]:
    """When each module of the course is due for the group."""
    pace = dt.timedelta(days=max(1, group.pace_days))
    sessions = _sessions(group, tz)
    out: list[Due] = []
    start = dt.date.fromisoformat(group.started_on)
    for i in range(len(course.modules)):
        if i < len(sessions):
            day, sid, title = sessions[i]
            out.append(Due(i, day, sid, title))
        elif sessions:
            out.append(Due(i, sessions[-1][0] + pace * (i - len(sessions) + 1)))
        else:
            out.append(Due(i, start + pace * i))
    return out


def this_week(dues: list[Due], today: dt.date) -> int:
    """The module the group should be in today: the last one already due (the first
    before the start)."""
    current = 0
    for d in dues:
        if d.on <= today:
            current = d.module
    return current


def last_progress(learners: list[int], course_id: str) -> dict[int, str]:
    """Each learner's latest progress write in the course (ISO time)."""
    rows = (
        Progress.select(Progress.learner, peewee.fn.MAX(Progress.updated_at).alias("last"))
        .where(Progress.learner.in_(learners) & (Progress.course == course_id))
        .group_by(Progress.learner)
    )
    return {r.learner_id: r.last for r in rows}


def status(
    state: str,
    module: int,
    expected: int,
    last: str,
    started: dt.date,
    stuck_days: int,
    today: dt.date,
) -> str:
    if state == "completed":
        return "done"
    quiet_since = dt.date.fromisoformat(last[:10]) if last else started
    if today >= started and (today - max(quiet_since, started)).days >= stuck_days:
        return "stuck"
    if module < expected:
        return "behind"
    return "on_pace"


def module_this_week(learner: Learner, course: Course, today: dt.date, tz=None) -> int | None:
    """This week's module for the learner's group following ``course`` (None: in no
    such group)."""
    group = (
        Group.select()
        .join(Member)
        .where((Member.learner == learner) & (Group.course == course.id))
        .order_by(Group.id.desc())
        .first()
    )
    if group is None:
        return None
    return this_week(schedule(group, course, tz), today)


def series_choices(tz=None) -> list[tuple[int, str, dt.date, int]]:
    """The programme's weekly series a group may follow: (id, title of its sessions,
    first date, sessions still on), newest first."""
    from appliance.programme.models import Series, Session
    from appliance.programme.recurrence import to_local

    out = []
    for series in Series.select().order_by(Series.id.desc()).limit(50):
        sessions = list(
            Session.select()
            .where((Session.series == series) & (Session.cancelled == False))  # noqa: E712
            .order_by(Session.starts_at)
        )
        if sessions:
            first = to_local(sessions[0].starts_at, tz) if tz is not None else sessions[0].starts_at
            out.append((series.id, sessions[0].title, first.date(), len(sessions)))
    return out
