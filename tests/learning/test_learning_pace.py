"""A group follows its course at a pace, or at the sessions of a programme series:
each module's due date, this week's module, who is on pace, behind or stuck (in words
and icons at the kiosk), the learner's path marking this week's module; moving or
cancelling a linked session moves the dates. And box migration 0060 on a 0050 box."""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

from appliance.db import database
from tests.support import csrf, kiosk_login

BAMAKO = ZoneInfo("Africa/Bamako")
SERIES = {"title": "Groupe MOOC du mardi", "kind": "mooc_group", "duration_min": 90, "capacity": 20}


def _course(app):
    from learning.catalogue import course

    return course(app.config["SITE"].content_dir, "alpha-1")[1]


def test_at_a_pace_each_module_is_due_pace_days_after_the_last(course_app):
    from learning import pace, rules

    c = _course(course_app)  # two modules
    with course_app.app_context(), database.connection_context():
        g = rules.new_group("Élus", "alpha-1", 7, started_on=dt.date(2027, 3, 1))
        dues = pace.schedule(g, c)
    assert [d.on for d in dues] == [dt.date(2027, 3, 1), dt.date(2027, 3, 8)]
    assert pace.this_week(dues, dt.date(2027, 2, 20)) == 0  # before the start
    assert pace.this_week(dues, dt.date(2027, 3, 7)) == 0
    assert pace.this_week(dues, dt.date(2027, 3, 8)) == 1
    assert pace.this_week(dues, dt.date(2028, 1, 1)) == 1


def test_statuses_done_on_pace_behind_and_stuck():
    from learning.pace import status

    start = dt.date(2027, 3, 1)
    today = dt.date(2027, 3, 20)
    assert status("completed", 2, 1, "2027-03-02T10:00:00+00:00", start, 10, today) == "done"
    assert status("progressed", 1, 1, "2027-03-19T10:00:00+00:00", start, 10, today) == "on_pace"
    assert status("progressed", 0, 1, "2027-03-19T10:00:00+00:00", start, 10, today) == "behind"
    # ten days without progress: stuck, whatever the module
    assert status("progressed", 1, 1, "2027-03-10T10:00:00+00:00", start, 10, today) == "stuck"
    # never came: quiet since the start
    assert status("", 0, 1, "", start, 10, today) == "stuck"
    assert status("", 0, 0, "", start, 30, today) == "on_pace"
    # before the group starts nobody is stuck
    assert status("", 0, 0, "", dt.date(2027, 4, 1), 1, today) == "on_pace"


def test_a_group_at_the_sessions_of_a_series_at_the_kiosk_and_on_the_path(course_app):
    from appliance.programme import rules as programme
    from learning import rules
    from learning.models import Progress

    app = course_app
    c = _course(app)
    today = dt.date.today()
    first = dt.datetime.combine(today - dt.timedelta(days=8), dt.time(10, 0))
    with app.app_context(), database.connection_context():
        sessions = programme.create_weekly(SERIES, first, 3, BAMAKO)
        done = rules.new_learner("Awa", "f", "under35")
        on_pace = rules.new_learner("Binta", "f", "under35")
        behind = rules.new_learner("Kadia", "f", "35plus")
        stuck = rules.new_learner("Moussa", "m", "35plus")
    kiosk = app.test_client()
    kiosk_login(kiosk)
    token = csrf(kiosk)
    r = kiosk.post(
        "/kiosk/learning/groups",
        data={
            "csrf": token,
            "name": "Élus de Nioro",
            "course": "alpha-1",
            "pace_days": "7",
            "started_on": first.date().isoformat(),
            "series": str(sessions[0].series_id),
            "stuck_days": "5",
        },
    )
    group_url = r.location
    with app.app_context(), database.connection_context():
        from learning.models import Group

        g = Group.get()
        assert (g.series_id, g.stuck_days) == (sessions[0].series_id, 5)
        for who in (done, on_pace, behind, stuck):
            rules.join(g, who)
        for lesson, event, extra in [
            ("a", "listened", None),
            ("chat", "answered", {0: 1}),
            ("lire", "listened", None),
            ("lire", "recorded", {0: 1}),
        ]:
            rules.record(c, done, lesson, event, extra)
        rules.record(c, on_pace, "a", "listened")
        rules.record(c, on_pace, "chat", "answered", {0: 0})  # module 2 now: this week's
        rules.record(c, behind, "a", "opened")  # still in module 1
        rules.record(c, stuck, "a", "listened")
        rules.record(c, stuck, "chat", "answered", {0: 1})
        long_ago = (dt.datetime.now(dt.UTC) - dt.timedelta(days=6)).isoformat(timespec="seconds")
        Progress.update(updated_at=long_ago).where(Progress.learner == stuck).execute()

    page = kiosk.get(group_url).get_data(as_text=True)
    # module 1 at the first session (8 days ago), module 2 at the second (yesterday)
    dues = re.findall(r'data-module="(\d)" data-due="([\d-]+)" data-session="(\d+)"', page)
    assert dues == [
        ("0", (today - dt.timedelta(days=8)).isoformat(), str(sessions[0].id)),
        ("1", (today - dt.timedelta(days=1)).isoformat(), str(sessions[1].id)),
    ]
    assert re.search(r'<li class="now" data-module="1"[^>]*><svg', page)
    statuses = dict(re.findall(r'data-code="(\d{6})" data-stuck="\d" data-status="(\w+)"', page))
    assert statuses == {
        done.code: "done",
        on_pace.code: "on_pace",
        behind.code: "behind",
        stuck.code: "stuck",
    }
    assert "stuck: no progress for 5 days" in page and "⚠" in page and "◀" in page

    # the learner's path: this week's module marked
    phone = app.test_client()
    ptoken = csrf(phone)
    phone.post("/learn/enter", data={"csrf": ptoken, "code": behind.code})
    path = phone.get("/learn/0/alpha-1/").get_data(as_text=True)
    assert 'class="module week" data-module="1"' in path and "This week" in path
    assert 'class="module" data-module="0"' in path

    # the second session is cancelled: module 2 moves to the third (in six days), and
    # it is this week's module no more; Kadia is not behind any longer
    with app.app_context(), database.connection_context():
        programme.cancel_session(sessions[1].id, tz=BAMAKO)
    page = kiosk.get(group_url).get_data(as_text=True)
    dues = re.findall(r'data-module="(\d)" data-due="([\d-]+)" data-session="(\d+)"', page)
    assert dues[1] == ("1", (today + dt.timedelta(days=6)).isoformat(), str(sessions[2].id))
    assert re.search(r'<li class="now" data-module="0"', page)
    assert f'data-code="{behind.code}" data-stuck="0" data-status="on_pace"' in page
    path = phone.get("/learn/0/alpha-1/").get_data(as_text=True)
    assert 'class="module week" data-module="0"' in path

    # the first session moves two days later: module 1's date follows it
    s0 = sessions[0]
    moved = s0.starts_at + dt.timedelta(days=2)
    with app.app_context(), database.connection_context():
        fields = {k: getattr(s0, k) for k in ("title", "kind", "duration_min", "capacity")}
        programme.update_session(s0.id, fields, moved)
    page = kiosk.get(group_url).get_data(as_text=True)
    assert f'data-module="0" data-due="{(today - dt.timedelta(days=6)).isoformat()}"' in page

    # unlinked: back to the pace from the start date
    r = kiosk.post(
        group_url + "/pace",
        data={
            "csrf": token,
            "name": "Élus de Nioro",
            "started_on": today.isoformat(),
            "pace_days": "14",
            "series": "",
            "stuck_days": "5",
        },
    )
    assert r.status_code == 302
    page = kiosk.get(group_url).get_data(as_text=True)
    later = (today + dt.timedelta(days=14)).isoformat()
    assert f'data-module="1" data-due="{later}">' in page
    # a bad form names the field, nothing changes
    r = kiosk.post(
        group_url + "/pace",
        data={"csrf": token, "name": "x", "started_on": "hier", "pace_days": "7"},
    )
    page = kiosk.get(r.location).get_data(as_text=True)
    assert "started_on" in page
    for field, value, named in [
        ("series", "999", "series: no series 999"),
        ("pace_days", "0", "pace_days: between 1 and 90"),
        ("stuck_days", "1000", "stuck_days: between 1 and 90"),
        ("name", "  ", "name: a group needs a name"),
    ]:
        form = {"csrf": token, "name": "Élus", "started_on": today.isoformat()}
        r = kiosk.post(group_url + "/pace", data={**form, field: value})
        assert named in kiosk.get(r.location).get_data(as_text=True), field
    with app.app_context(), database.connection_context():
        assert Group.get().pace_days == 14


def test_migration_0060_keeps_the_groups_of_a_0050_box(tmp_path):
    import peewee

    from appliance import migrations

    db = peewee.SqliteDatabase(str(tmp_path / "box.sqlite3"), pragmas={"foreign_keys": 1})
    db.connect()
    migrations.migrate(db, upto="m0050_learning")
    db.execute_sql(
        "INSERT INTO learning_group (name, course, pace_days, started_on, created_at)"
        " VALUES ('Élus', 'alpha-1', 7, '2026-01-05', '2026-01-05T08:00:00+00:00')"
    )
    assert "m0060_learning_pace" in migrations.migrate(db)
    row = db.execute_sql("SELECT name, pace_days, series_id, stuck_days FROM learning_group")
    assert row.fetchall() == [("Élus", 7, None, 10)]
    # a series removed from the programme unlinks the group (ON DELETE SET NULL)
    db.execute_sql(
        "INSERT INTO programme_series (id, uuid, first_local, weeks) VALUES (3, 'u', 'x', 1)"
    )
    db.execute_sql("UPDATE learning_group SET series_id = 3")
    db.execute_sql("DELETE FROM programme_series WHERE id = 3")
    assert db.execute_sql("SELECT series_id FROM learning_group").fetchone() == (None,)
    db.close()
