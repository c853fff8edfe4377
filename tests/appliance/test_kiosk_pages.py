"""The kiosk's pages through the test client: a weekly session with a skipped
date, check-in by code and by name, walk-ins, no-shows, the sheet, health."""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest

from appliance.models import OutboxEvent
from appliance.pins import hash_pin
from appliance.programme import rules
from appliance.programme.models import Booking, Session
from tests.support import csrf, make_site

PIN = "2468"
TOKEN = "test-csrf-token"  # put in the session after the login (fixture kiosk)


@pytest.fixture
def site_doc(tmp_path):
    return make_site(tmp_path, kiosk={"facilitators": [{"name": "Awa",
                                                        "pin_hash": hash_pin(PIN)}]})


@pytest.fixture
def kiosk(client, db):
    r = client.post("/kiosk/login", data={"name": "Awa", "pin": PIN, "csrf": csrf(client)})
    assert r.status_code == 303
    with client.session_transaction() as session:  # the posts below carry TOKEN
        session["csrf"] = TOKEN
    return client


def session_form(day: dt.date, **extra) -> dict:
    form = {"title": "Atelier WhatsApp", "kind": "training", "date": day.isoformat(),
            "hour": "10", "minute": "30", "duration_min": "90", "capacity": "3",
            "reserved_women": "1", "reserved_youth": "1", "release_min": "120",
            "room": "Salle 1", "facilitator": "Awa", "description": "", "csrf": TOKEN}
    form.update(extra)
    return form


def test_create_a_weekly_session_with_a_skipped_date(kiosk):
    day = dt.date.today() + dt.timedelta(days=2)
    form = session_form(day, repeat="weekly", weeks="5", action="preview")
    page = kiosk.post("/kiosk/sessions/new", data=form)
    dates = re.findall(rb'name="occurrence" value="([0-9-]+)"', page.data)
    assert len(dates) == 5
    keep = [d.decode() for i, d in enumerate(dates) if i != 3]
    r = kiosk.post("/kiosk/sessions/new", data={**form, "action": "save", "previewed": "1",
                                                "occurrence": keep})
    assert r.status_code == 303
    starts = [s.starts_at.date().isoformat() for s in Session.select().order_by(Session.id)]
    assert starts == keep
    assert all(s.starts_at.time() == dt.time(10, 30) for s in Session.select())
    assert OutboxEvent.select().where(OutboxEvent.kind == "session.saved").count() == 4
    week = kiosk.get("/kiosk/week").data.decode()
    assert "Atelier WhatsApp" in week


def test_invalid_session_form_says_why(kiosk):
    day = dt.date.today() + dt.timedelta(days=1)
    r = kiosk.post("/kiosk/sessions/new", data=session_form(day, capacity="2",
                                                            reserved_women="2",
                                                            reserved_youth="1"))
    assert r.status_code == 400 and b"More kept seats than seats" in r.data
    r = kiosk.post("/kiosk/sessions/new", data=session_form(day, title=""))
    assert r.status_code == 400 and b"A title is needed" in r.data
    r = kiosk.post("/kiosk/sessions/new", data=session_form(day, capacity="900"))
    assert r.status_code == 400 and b"Seats: choose a number from 1 to 500." in r.data
    r = kiosk.post("/kiosk/sessions/new", data=session_form(day, hour="soon"))
    assert r.status_code == 400 and b"Choose a date and a time" in r.data
    # In the facilitator's language, naming the field as the form does.
    kiosk.set_cookie("lang", "fr")
    r = kiosk.post("/kiosk/sessions/new", data=session_form(day, duration_min="5"))
    text = r.get_data(as_text=True)
    assert r.status_code == 400 and "Durée : choisissez un nombre de 15 à 600." in text
    r = kiosk.post("/kiosk/sessions/new", data=session_form(day, title=""))
    assert "Il faut un titre" in r.get_data(as_text=True)
    assert Session.select().count() == 0


def test_edit_a_session_promotes_when_seats_are_added(kiosk):
    start = rules.utcnow() + dt.timedelta(days=3)
    s = rules.create_session({"title": "Débat", "kind": "debate", "duration_min": 60,
                              "capacity": 1}, start)
    rules.book(s.id, "Un", "", "m", "")
    waiting = rules.book(s.id, "Deux", "", "m", "")
    assert waiting.status == "waiting"
    edit = kiosk.get(f"/kiosk/sessions/{s.id}/edit")
    assert edit.status_code == 200 and b"D\xc3\xa9bat" in edit.data
    local = start  # Bamako = UTC
    r = kiosk.post(f"/kiosk/sessions/{s.id}/edit", data=session_form(
        local.date(), title="Débat citoyen", kind="debate", capacity="2", reserved_women="0",
        reserved_youth="0", hour=str(local.hour), minute="0"))
    assert r.status_code == 303
    assert Booking.get_by_id(waiting.id).status == "booked"
    assert Session.get_by_id(s.id).title == "Débat citoyen"


def test_the_door_code_name_walk_in_no_show(kiosk, app):
    now = rules.utcnow()
    # Started a few minutes ago, and today whatever the hour (Bamako is UTC).
    start = max(now - dt.timedelta(minutes=5), now.replace(hour=0, minute=0, second=0))
    s = rules.create_session({"title": "Formation", "kind": "training", "duration_min": 120,
                              "capacity": 4}, start)
    early = start - dt.timedelta(days=1)
    a = rules.book(s.id, "Awa", "", "f", "under35", now=early)
    b = rules.book(s.id, "Oumar", "", "m", "35plus", now=early)
    c = rules.book(s.id, "Kadia", "", "f", "35plus", now=early)
    # Today at a glance.
    today = kiosk.get("/kiosk/").data.decode()
    assert "Formation" in today and "3 / 4" in today
    # By code, from the today page (spaces allowed, as printed).
    r = kiosk.post("/kiosk/checkin",
                   data={"code": a.display_code, "back": "/kiosk/", "csrf": TOKEN})
    assert r.location == "/kiosk/"
    assert "Welcome, Awa" in kiosk.get("/kiosk/").data.decode()
    # A wrong code says so.
    kiosk.post("/kiosk/checkin", data={"code": "999999", "back": "/kiosk/", "csrf": TOKEN})
    assert "no booking with this code" in kiosk.get("/kiosk/").data.decode()
    # By tapping a name.
    r = kiosk.post(f"/kiosk/sessions/{s.id}/checkin/{b.id}", data={"csrf": TOKEN})
    assert r.status_code == 303
    # A walk-in, then the room is full.
    kiosk.post(f"/kiosk/sessions/{s.id}/walkin", data={"name": "", "gender": "f", "csrf": TOKEN,
                                                       "age_group": "under35"})
    kiosk.post(f"/kiosk/sessions/{s.id}/walkin", data={"name": "Sekou", "csrf": TOKEN})
    page = kiosk.get(f"/kiosk/sessions/{s.id}").data.decode()
    assert "the room is full" in page
    # Kadia does not come: her seat frees, Sekou can come in.
    kiosk.post(f"/kiosk/sessions/{s.id}/noshow/{c.id}", data={"csrf": TOKEN})
    kiosk.post(f"/kiosk/sessions/{s.id}/walkin", data={"name": "Sekou", "csrf": TOKEN})
    counts = rules.attendance_counts(Session.get_by_id(s.id))
    assert (counts["present"], counts["no_show"], counts["walk_in"]) == (4, 1, 2)
    page = kiosk.get(f"/kiosk/sessions/{s.id}").data.decode()
    assert 'id="present">4<' in page and "50%" in page  # 2 women of 4, 2 young of 4
    sheet = kiosk.get(f"/kiosk/sessions/{s.id}/sheet").data.decode()
    assert "@media print" in sheet and "Awa" in sheet and "Sekou" in sheet
    # Central gets counts, never the names.
    payloads = "".join(e.payload for e in OutboxEvent.select())
    assert "Awa" not in payloads and "Sekou" not in payloads
    last = json.loads(OutboxEvent.select().where(OutboxEvent.kind == "attendance.counts")
                      .order_by(OutboxEvent.seq.desc()).first().payload)
    assert last["women"] == 2 and last["present"] == 4


def test_cancel_and_restore_a_session(kiosk):
    s = rules.create_session({"title": "Réunion", "kind": "officials_meeting",
                              "duration_min": 60, "capacity": 4},
                             rules.utcnow() + dt.timedelta(days=1))
    # Not without the confirmation (the page asks twice).
    kiosk.post(f"/kiosk/sessions/{s.id}/cancel", data={"csrf": csrf(kiosk)})
    assert not Session.get_by_id(s.id).cancelled
    assert "confirm first" in kiosk.get(f"/kiosk/sessions/{s.id}").data.decode()
    kiosk.post(f"/kiosk/sessions/{s.id}/cancel", data={"csrf": csrf(kiosk), "confirm": "yes"})
    assert Session.get_by_id(s.id).cancelled
    with pytest.raises(rules.SessionCancelled):
        rules.book(s.id, "Awa")
    kiosk.post(f"/kiosk/sessions/{s.id}/cancel", data={"restore": "1", "csrf": csrf(kiosk)})
    assert not Session.get_by_id(s.id).cancelled


def test_health_panel(kiosk):
    page = kiosk.get("/kiosk/health")
    assert page.status_code == 200
    text = page.data.decode()
    assert "records to send" in text and "GB free" in text and "Box time" in text
    assert "disk: ok" in text and 'id="load"' in text
    assert "not enrolled" in text  # a fresh box: the sync says why nothing is sent


def test_health_panel_says_when_the_sync_fails(kiosk, app):
    """Issue 15: the panel showed only the last success; it now says the sync fails,
    since when, the last error, and a revoked box apart."""
    from appliance import health
    from appliance.models import Meta
    from appliance.sync import state

    Meta.set_value("sync:central_url", "https://central.example")
    Meta.set_value("sync:central_key", "k")
    Meta.set_value("sync:site_id", "nioro")
    now = rules.utcnow()

    def iso(hours_ago: float) -> str:
        return (now - dt.timedelta(hours=hours_ago)).isoformat() + "Z"

    Meta.set_value("sync:last_success_at", iso(30))
    state.SyncRun.create(started_at=iso(30), finished_at=iso(30), result="done")
    assert health.sync_state()["state"] == "ok"
    for hours in (5, 3, 1):
        state.SyncRun.create(started_at=iso(hours), finished_at=iso(hours),
                             result="stopped: central unreachable: connection refused")
    st = health.sync_state()
    assert st["state"] == "failing" and st["failed_runs"] == 3
    assert st["failing_since"] == iso(5) and "connection refused" in st["last_error"]
    text = kiosk.get("/kiosk/health").data.decode()
    assert "Sync is failing since 5 hours ago (3 attempts)" in text
    assert "Last success: 30 hours ago" in text and "connection refused" in text
    # A budget stop is not a failure, and does not end the streak either.
    state.SyncRun.create(started_at=iso(0.5), finished_at=iso(0.5), result="budget reached")
    assert health.sync_state()["state"] == "ok"
    state.SyncRun.create(started_at=iso(0.2), finished_at=iso(0.2),
                         result="stopped: central answered 403: unknown or revoked box")
    text = kiosk.get("/kiosk/health").data.decode()
    assert health.sync_state()["state"] == "revoked"
    assert "Central refuses this box (revoked)" in text and "enrolled again" in text


def test_cached_today_page_follows_every_change(kiosk):
    start = rules.utcnow().replace(hour=12, minute=0, second=0)  # today (Bamako is UTC)
    s = rules.create_session({"title": "Cache", "kind": "other", "duration_min": 60,
                              "capacity": 9}, start)
    before = kiosk.get("/kiosk/", headers={"Accept-Encoding": "gzip"})
    assert before.headers["Content-Encoding"] == "gzip"
    assert "0 / 9 booked" in kiosk.get("/kiosk/").data.decode()
    rules.book(s.id, "Awa", now=start - dt.timedelta(hours=1))
    assert "1 / 9 booked" in kiosk.get("/kiosk/").data.decode()
    kiosk.post("/kiosk/logout", data={"csrf": TOKEN})
    assert kiosk.get("/kiosk/").status_code == 302


def test_cancel_and_clock_need_the_pages_token(kiosk, app):
    s = rules.create_session({"title": "Réunion", "kind": "officials_meeting",
                              "duration_min": 60, "capacity": 4},
                             rules.utcnow() + dt.timedelta(days=1))
    assert kiosk.post(f"/kiosk/sessions/{s.id}/cancel").status_code == 400
    assert not Session.get_by_id(s.id).cancelled
    page = kiosk.get(f"/kiosk/sessions/{s.id}").data.decode()
    assert 'name="csrf"' in page
    app.config["CLOCK_COMMAND"] = ("/nonexistent/timedatectl",)
    r = kiosk.post("/kiosk/clock", data={"year": "2026", "month": "12", "day": "3",
                                         "hour": "9", "minute": "30"})
    assert r.status_code == 400
    assert 'name="csrf"' in kiosk.get("/kiosk/clock").data.decode()


def test_door_actions_that_damage_data_are_guarded(kiosk, client):
    """Issue 15: "present" can be undone; a no-show only after the start; the seats
    cannot go below the bookings; a moved session says so on the visitor's ticket."""
    now = rules.utcnow()
    later = (now + dt.timedelta(hours=4, minutes=30)).replace(minute=0, second=0,
                                                               microsecond=0)
    s = rules.create_session({"title": "Atelier", "kind": "training", "duration_min": 60,
                              "capacity": 4}, later)
    a = rules.book(s.id, "Awa", "", "f", "under35", now=now)
    b = rules.book(s.id, "Oumar", "", "m", "35plus", now=now)
    c = rules.book(s.id, "Kadia", "", "f", "35plus", now=now)
    # Present by mistake, then undone (with the page's token).
    kiosk.post(f"/kiosk/sessions/{s.id}/checkin/{a.id}", data={"csrf": TOKEN})
    assert Booking.get_by_id(a.id).attendance == "present"
    page = kiosk.get(f"/kiosk/sessions/{s.id}").data.decode()
    assert f"/uncheck/{a.id}" in page
    assert kiosk.post(f"/kiosk/sessions/{s.id}/uncheck/{a.id}").status_code == 400
    kiosk.post(f"/kiosk/sessions/{s.id}/uncheck/{a.id}", data={"csrf": csrf(kiosk)})
    assert Booking.get_by_id(a.id).attendance == ""
    # 4h30 before the start no-show is refused (and not offered): the seat stays hers.
    assert f"/noshow/{b.id}" not in kiosk.get(f"/kiosk/sessions/{s.id}").data.decode()
    kiosk.post(f"/kiosk/sessions/{s.id}/noshow/{b.id}", data={"csrf": TOKEN})
    assert Booking.get_by_id(b.id).attendance == ""
    assert "has not started yet" in kiosk.get(f"/kiosk/sessions/{s.id}").data.decode()
    with pytest.raises(rules.NotStarted):
        rules.mark_no_show(b.id, now=now)
    assert rules.mark_no_show(b.id, now=later).attendance == "no_show"
    # Seats below the bookings: refused, saying how many are booked.
    local = later  # Bamako is UTC
    form = {"title": "Atelier", "kind": "training", "date": local.date().isoformat(),
            "hour": str(local.hour), "minute": "0",
            "duration_min": "60", "capacity": "2", "reserved_women": "0",
            "reserved_youth": "0", "release_min": "120", "csrf": TOKEN}
    r = kiosk.post(f"/kiosk/sessions/{s.id}/edit", data=form)
    assert r.status_code == 400 and "3 seats are already booked" in r.data.decode()
    assert Session.get_by_id(s.id).capacity == 4
    # Moved to the next day: the old time is kept and shown on the ticket.
    moved = local + dt.timedelta(days=1)
    form.update(capacity="4", date=moved.date().isoformat())
    assert kiosk.post(f"/kiosk/sessions/{s.id}/edit", data=form).status_code == 303
    after = Session.get_by_id(s.id)
    assert after.moved_from == s.starts_at and after.starts_at.date() == moved.date()
    assert "Moved: it was on" in kiosk.get(f"/kiosk/sessions/{s.id}").data.decode()
    ticket = client.get(f"/programme/{s.id}/b/{c.code}")
    assert ticket.status_code == 200
    assert 'id="moved"' in ticket.data.decode()
    assert "New time" in client.get("/programme/").data.decode()
    # Moved back: no longer "moved".
    form.update(date=local.date().isoformat())
    kiosk.post(f"/kiosk/sessions/{s.id}/edit", data=form)
    assert Session.get_by_id(s.id).moved_from is None


def test_shutdown_asks_first_and_runs_the_fixed_command(kiosk, app, tmp_path):
    marker = tmp_path / "powered-off"
    app.config["POWEROFF_COMMAND"] = ["/usr/bin/touch", str(marker)]
    page = kiosk.get("/kiosk/shutdown").data.decode()
    assert 'id="shutdown-yes"' in page and not marker.exists()
    assert kiosk.post("/kiosk/shutdown", data={"confirm": "yes"}).status_code == 400
    kiosk.post("/kiosk/shutdown", data={"csrf": csrf(kiosk)})  # not confirmed
    assert not marker.exists()
    r = kiosk.post("/kiosk/shutdown", data={"csrf": csrf(kiosk), "confirm": "yes"})
    assert r.status_code == 200 and marker.exists()
    app.config["POWEROFF_COMMAND"] = ["/bin/false"]
    r = kiosk.post("/kiosk/shutdown", data={"csrf": csrf(kiosk), "confirm": "yes"})
    assert r.status_code == 500 and "polkit" in r.data.decode()


def test_record_and_save_are_two_words_in_french():
    """Issue 15: "Enregistrer" meant both; a facilitator could not tell recording a
    sound from saving a form."""
    from babel.messages.pofile import read_po

    from appliance.i18n import TRANSLATIONS

    with open(TRANSLATIONS / "fr" / "LC_MESSAGES" / "messages.po", "rb") as f:
        fr = read_po(f)
    record, save = fr.get("Record").string, fr.get("Save").string
    assert record == "Enregistrer un son" and save == "Valider"
    assert fr.get("Save the answer").string.startswith("Valider")
