"""Learning's rules: learner codes, progress per lesson (each write one transaction with
the snapshot it sends), the states every figure is made from, answers checked here."""

from __future__ import annotations

import datetime as dt
import json
import secrets
from dataclasses import dataclass

from appliance import outbox, privacy
from appliance.db import database
from appliance.errors import EspaceError
from sync_contract import kinds

from . import pace
from .course import Course
from .models import AGE_GROUPS, GENDERS, Group, Learner, Member, Progress

STATES = ("started", "progressed", "completed")
EVENTS = ("opened", "listened", "answered", "recorded")


class LearningError(EspaceError):
    """A learner, answer or group the rules refuse; names the field."""


def now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def new_learner(first_name: str = "", gender: str = "", age_group: str = "") -> Learner:
    first_name = " ".join(first_name.split())[:40]
    if gender not in GENDERS:
        raise LearningError(f"gender: {gender!r} is not one of f, m or empty")
    if age_group not in AGE_GROUPS:
        raise LearningError(f"age_group: {age_group!r} is not one of under35, 35plus or empty")
    with database.atomic():
        for _ in range(50):
            code = f"{secrets.randbelow(900000) + 100000}"
            if not Learner.select().where(Learner.code == code).exists():
                break
        else:  # 900 000 codes: a box never gets here
            raise LearningError("no free learner code left")
        ref = privacy.identity_hash("learner:" + secrets.token_hex(16), "box")
        return Learner.create(
            code=code,
            ref=ref,
            first_name=first_name,
            gender=gender,
            age_group=age_group,
            created_at=now(),
        )


def learner_by_code(code: str) -> Learner | None:
    code = (code or "").strip()
    if not (len(code) == 6 and code.isascii() and code.isdigit()):
        return None
    return Learner.get_or_none(Learner.code == code)


def lesson_complete(course: Course, lesson_id: str, row: Progress | None) -> bool:
    """Done: every exercise answered; a lesson without exercises: listened to the end
    (audio or video) or opened (text only)."""
    lesson = course.lesson(lesson_id)
    if row is None or lesson is None:
        return False
    if lesson.exercises:
        return bool(row.done_at)
    return bool(row.listened_at) if lesson.audio or lesson.video else bool(row.opened_at)


@dataclass
class Standing:
    lessons: int
    opened: int
    done: int
    score_pct: int | None
    state: str  # "", started, progressed, completed
    next_lesson: str  # where to resume


def standing(course: Course, learner: Learner) -> Standing:
    rows = {
        r.lesson: r
        for r in Progress.select().where(
            (Progress.learner == learner) & (Progress.course == course.id)
        )
    }
    ids = [x.id for x in course.lessons()]
    opened = sum(1 for i in ids if i in rows and rows[i].opened_at)
    done = sum(1 for i in ids if lesson_complete(course, i, rows.get(i)))
    scores = [rows[i].score for i in ids if i in rows and rows[i].score is not None]
    possible = sum(
        sum(1 for e in course.lesson(i).exercises if e.type == "choice")
        for i in ids
        if i in rows and rows[i].score is not None
    )
    pct = round(100 * sum(scores) / possible) if possible else None
    state = (
        "completed"
        if ids and done == len(ids)
        else "progressed"
        if done
        else "started"
        if opened
        else ""
    )
    nxt = next(
        (i for i in ids if not lesson_complete(course, i, rows.get(i))), ids[-1] if ids else ""
    )
    return Standing(len(ids), opened, done, pct, state, nxt)


def record(
    course: Course,
    learner: Learner,
    lesson_id: str,
    event: str,
    answers: dict[int, int] | None = None,
) -> Progress:
    """Record ``event`` for a lesson; one transaction writes the row and the learner's
    new snapshot for the course (an acknowledged write survives a power cut: WAL and
    synchronous=FULL). Multiple-choice answers are checked here, against the course."""
    lesson = course.lesson(lesson_id)
    if lesson is None:
        raise LearningError(f"lesson {lesson_id!r} is not in course {course.id!r}")
    if event not in EVENTS:
        raise LearningError(f"event {event!r} is not one of {', '.join(EVENTS)}")
    stamp = now()
    with database.atomic():
        row, created = Progress.get_or_create(
            learner=learner, course=course.id, lesson=lesson_id, defaults={"updated_at": stamp}
        )
        before = (row.opened_at, row.listened_at, row.done_at, row.score, row.answers)
        row.opened_at = row.opened_at or stamp
        if event == "listened":
            row.listened_at = row.listened_at or stamp
        elif event == "answered":
            given = dict(json.loads(row.answers or "{}"))
            for i, choice in (answers or {}).items():
                if (
                    0 <= int(i) < len(lesson.exercises)
                    and lesson.exercises[int(i)].type == "choice"
                ):
                    given[str(int(i))] = int(choice)
            row.answers = json.dumps(given, sort_keys=True)
            row.score = sum(
                1
                for i, e in enumerate(lesson.exercises)
                if e.type == "choice" and given.get(str(i)) == e.answer
            )
        elif event == "recorded":
            given = dict(json.loads(row.answers or "{}"))
            for i in answers or {}:
                given[str(int(i))] = "recorded"
            row.answers = json.dumps(given, sort_keys=True)
        given = json.loads(row.answers or "{}")
        if lesson.exercises and all(str(i) in given for i in range(len(lesson.exercises))):
            row.done_at = row.done_at or stamp
        if not created and before == (
            row.opened_at,
            row.listened_at,
            row.done_at,
            row.score,
            row.answers,
        ):
            return row  # a lesson seen again: nothing new, no snapshot to send
        row.updated_at = stamp
        row.save()
        send_snapshot(course, learner)
    return row


def send_snapshot(course: Course, learner: Learner) -> None:
    """The learner's standing in ``course`` for central, in the caller's transaction."""
    s = standing(course, learner)
    outbox.append(
        kinds.LEARNING_PROGRESS,
        {
            "learner": learner.ref,
            "course": course.id,
            "lessons": s.lessons,
            "opened": s.opened,
            "done": s.done,
            "state": s.state or "started",
            "score_pct": s.score_pct,
            "gender": learner.gender,
            "age_group": learner.age_group,
            "updated_at": now(),
        },
    )


# --- groups --------------------------------------------------------------------------------


def new_group(
    name: str,
    course_id: str,
    pace_days: int = 7,
    *,
    started_on: dt.date | None = None,
    series_id: int | None = None,
    stuck_days: int = 10,
) -> Group:
    from .coaching import send_group

    stamp = now()
    with database.atomic():
        group = Group(course=course_id, created_at=stamp)
        _set_pace(
            group,
            name,
            pace_days,
            started_on or dt.date.fromisoformat(stamp[:10]),
            series_id,
            stuck_days,
        )
        group.save()
        send_group(group)  # central's trainers are assigned to groups
        return group


def set_pace(
    group: Group,
    name: str,
    pace_days: int,
    started_on: dt.date,
    series_id: int | None,
    stuck_days: int,
) -> Group:
    """Change a group's name, start, pace, linked series or stuck threshold."""
    from .coaching import send_group

    with database.atomic():
        _set_pace(group, name, pace_days, started_on, series_id, stuck_days)
        group.save()
        send_group(group)  # its name may have changed
        return group


def _set_pace(group, name, pace_days, started_on, series_id, stuck_days) -> None:
    from appliance.programme.models import Series

    name = " ".join((name or "").split())[:80]
    if not name:
        raise LearningError("name: a group needs a name")
    if not 1 <= int(pace_days) <= 90:
        raise LearningError("pace_days: between 1 and 90 days per module")
    if not 1 <= int(stuck_days) <= 90:
        raise LearningError("stuck_days: between 1 and 90 days without progress")
    if series_id is not None and Series.get_or_none(Series.id == series_id) is None:
        raise LearningError(f"series: no series {series_id} in the programme")
    group.name, group.pace_days, group.stuck_days = name, int(pace_days), int(stuck_days)
    group.started_on = started_on.isoformat()
    group.series = series_id


def join(group: Group, learner: Learner) -> None:
    from .coaching import send_group

    with database.atomic():
        if (
            not Member.select()
            .where((Member.group == group) & (Member.learner == learner))
            .exists()
        ):
            Member.create(group=group, learner=learner)
            send_group(group)


def group_view(group: Group, course: Course, today: dt.date | None = None, tz=None) -> list[dict]:
    """Who is where: each member's standing, their module, and their status (done,
    on pace, behind this week's module, or stuck: no progress for the group's
    ``stuck_days``)."""
    today = today or dt.date.today()
    dues = pace.schedule(group, course, tz)
    want = pace.this_week(dues, today)
    started = dues[0].on if dues else dt.date.fromisoformat(group.started_on)
    members = list(Member.select().where(Member.group == group).join(Learner).order_by(Learner.id))
    last = pace.last_progress([m.learner_id for m in members], course.id)
    out = []
    for m in members:
        s = standing(course, m.learner)
        module = course.module_of(s.next_lesson) if s.state != "completed" else len(course.modules)
        status = pace.status(
            s.state, module, want, last.get(m.learner_id, ""), started, group.stuck_days, today
        )
        out.append(
            {
                "learner": m.learner,
                "standing": s,
                "module": module,
                "status": status,
                "stuck": status == "stuck",
                "last": last.get(m.learner_id, ""),
            }
        )
    return out


def figures(course: Course) -> dict[str, dict[str, int]]:
    """Learners who started, progressed and completed ``course``, by gender and age
    group: what central shows from the snapshots (started includes the others)."""
    out: dict[str, dict[str, int]] = {s: {} for s in STATES}
    seen = Progress.select(Progress.learner).where(Progress.course == course.id).distinct()
    for learner in Learner.select().where(Learner.id.in_(seen)):
        s = standing(course, learner).state or "started"
        for state in STATES[: STATES.index(s) + 1]:
            for key in (
                "all",
                f"gender:{learner.gender or '-'}",
                f"age:{learner.age_group or '-'}",
            ):
                out[state][key] = out[state].get(key, 0) + 1
    return out
