"""Weekly sessions across month and year ends, in Africa/Bamako (no daylight
saving) and in a zone with it, stored in UTC; the programme migration from the
schema before it."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import peewee
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from appliance import migrations
from appliance.programme import rules
from appliance.programme.models import Series, Session
from appliance.programme.recurrence import to_local, to_utc, weekly

BAMAKO = ZoneInfo("Africa/Bamako")
DATA = {"title": "Groupe MOOC", "kind": "mooc_group", "duration_min": 90, "capacity": 10}


def test_weekly_crosses_month_and_year_ends():
    first = dt.datetime(2026, 12, 29, 16, 30)  # a Tuesday
    dates = [d.date().isoformat() for d in weekly(first, 6)]
    assert dates == ["2026-12-29", "2027-01-05", "2027-01-12", "2027-01-19", "2027-01-26",
                     "2027-02-02"]
    # End of February in a common year, then a leap year.
    assert [d.day for d in weekly(dt.datetime(2027, 2, 22, 9), 3)] == [22, 1, 8]
    assert [d.day for d in weekly(dt.datetime(2028, 2, 22, 9), 3)] == [22, 29, 7]
    # 31-day months.
    assert [d.date().isoformat() for d in weekly(dt.datetime(2027, 1, 31, 9), 2)] == \
        ["2027-01-31", "2027-02-07"]


@settings(max_examples=200, deadline=None)
@given(first=st.datetimes(min_value=dt.datetime(2026, 1, 1), max_value=dt.datetime(2035, 1, 1)),
       weeks=st.integers(1, 60),
       zone=st.sampled_from(["Africa/Bamako", "Europe/Paris", "America/Sao_Paulo"]))
def test_every_occurrence_keeps_weekday_and_wall_time(first, weeks, zone):
    tz = ZoneInfo(zone)
    first = first.replace(second=0, microsecond=0)
    occ = weekly(first, weeks)
    assert len(occ) == weeks
    for i, local in enumerate(occ):
        assert local.weekday() == first.weekday()
        assert (local.hour, local.minute) == (first.hour, first.minute)
        assert (local.date() - first.date()).days == 7 * i
        utc = to_utc(local, tz)
        if zone == "Africa/Bamako":
            assert utc == local  # Bamako is UTC all year: no shift, ever
        else:
            back = to_local(utc, tz)
            # Equal, except for a wall time that falls in a daylight-saving gap.
            assert back == local or abs((back - local).total_seconds()) == 3600


def test_series_stored_in_utc_with_exceptions(db):
    paris = ZoneInfo("Europe/Paris")
    first = dt.datetime(2027, 3, 16, 10, 0)  # Paris moves to summer time on 28 March
    skipped = {dt.date(2027, 3, 30)}
    made = rules.create_weekly(DATA, first, 4, paris, skipped)
    assert [s.starts_at for s in made] == [dt.datetime(2027, 3, 16, 9), dt.datetime(2027, 3, 23, 9),
                                          dt.datetime(2027, 4, 6, 8)]
    series = Series.get()
    assert series.exception_dates() == skipped
    # Bamako: the same wall time is the same UTC time, across the month end.
    made = rules.create_weekly(DATA, dt.datetime(2027, 1, 26, 15), 3, BAMAKO)
    assert [s.starts_at for s in made] == [dt.datetime(2027, 1, 26, 15),
                                          dt.datetime(2027, 2, 2, 15), dt.datetime(2027, 2, 9, 15)]
    # Cancelling one date adds it to the exceptions; restoring removes it.
    rules.cancel_session(made[1].id, tz=BAMAKO)
    assert dt.date(2027, 2, 2) in Series.get_by_id(made[1].series_id).exception_dates()
    rules.restore_session(made[1].id, tz=BAMAKO)
    assert Series.get_by_id(made[1].series_id).exception_dates() == set()
    assert not Session.get_by_id(made[1].id).cancelled


def test_weekly_refuses_absurd_lengths(db):
    with pytest.raises(rules.InvalidInput):
        rules.create_weekly(DATA, dt.datetime(2027, 1, 1, 9), 0, BAMAKO)
    with pytest.raises(rules.InvalidInput):
        rules.create_weekly(DATA, dt.datetime(2027, 1, 1, 9), 105, BAMAKO)


def test_programme_migration_from_the_schema_before(tmp_path):
    db = peewee.SqliteDatabase(str(tmp_path / "old.sqlite3"))
    migrations.migrate(db, upto="m0001_initial")
    assert "m0003_programme" not in migrations.applied(db)
    db.execute_sql("INSERT INTO programme_session (title, kind, starts_at, duration_min, "
                   "capacity, reserved_women) VALUES ('Ancienne', 'training', "
                   "'2026-12-01 10:00:00', 60, 12, 4)")
    migrations.migrate(db)
    uuid, release, series = db.execute_sql(
        "SELECT uuid, release_min, series_id FROM programme_session").fetchone()
    assert len(uuid) == 32 and release == 120 and series is None
    assert {"m0003_programme", "m0022_programme_client"} <= set(migrations.applied(db))
    db.execute_sql("INSERT INTO programme_booking (uuid, session_id, code, status, created_at, "
                   "updated_at) VALUES ('u1', 1, '123456', 'booked', '2026-11-30', '2026-11-30')")
    with pytest.raises(peewee.IntegrityError):
        db.execute_sql("INSERT INTO programme_booking (uuid, session_id, code, status, "
                       "created_at, updated_at) VALUES ('u2', 1, '123456', 'booked', 'x', 'x')")
    with pytest.raises(peewee.IntegrityError):
        db.execute_sql("INSERT INTO programme_booking (uuid, session_id, code, status, "
                       "created_at, updated_at) VALUES ('u3', 1, '654321', 'maybe', 'x', 'x')")
    db.close()
