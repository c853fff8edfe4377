"""Booking from a phone without JavaScript: the week, the form, the ticket with
its code, cancelling, and clear messages for full, started and cancelled."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from appliance.programme import rules
from appliance.programme.models import Booking, Session
from tests.support import csrf


@pytest.fixture
def future_session(db):
    return rules.create_session({"title": "Atelier smartphone", "kind": "training",
                                 "duration_min": 90, "capacity": 1, "room": "Salle 1"},
                                rules.utcnow() + dt.timedelta(days=2))


def book(client, session_id, **form):
    data = {"name": "Awa", "phone": "", "csrf": csrf(client), **form}
    return client.post(f"/programme/{session_id}/book", data=data)


def test_week_lists_sessions_with_seats_left(client, future_session):
    page = client.get("/programme/").data.decode()
    assert "Atelier smartphone" in page and "1 seat left" in page
    assert "<script" not in page


def test_book_show_code_and_cancel(client, future_session):
    r = book(client, future_session.id, gender="f", age_group="under35", phone="76 12 34 56")
    assert r.status_code == 303 and "m=booked" in r.location
    ticket = client.get(r.location).data.decode()
    shown = re.search(r'id="code">(.*?)</p>', ticket, re.S).group(1)
    code = re.search(r"\d{3} \d{3}", re.sub(r"<[^>]+>", "", shown)).group(0)
    assert "Show this code at the door" in ticket
    b = Booking.get()
    assert (b.gender, b.age_group, b.phone) == ("f", "under35", "76 12 34 56")
    # Found again by the code alone.
    assert client.get(f"/programme/find?code={code}").location.endswith(
        f"/b/{code.replace(' ', '')}")
    r = client.post(f"/programme/{future_session.id}/b/{b.code}/cancel",
                    data={"csrf": csrf(client)})
    page = client.get(r.location).data.decode()
    assert "Your booking is cancelled" in page and "Cancel my booking" not in page
    assert Booking.get().status == "cancelled"


def test_full_session_puts_the_visitor_on_the_waiting_list(client, future_session):
    book(client, future_session.id)
    assert "Join the waiting list" in client.get(f"/programme/{future_session.id}").data.decode()
    r = book(client, future_session.id, name="Fanta")
    assert "m=full" in r.location
    page = client.get(r.location).data.decode()
    assert "This session is full" in page and "number 1" in page
    # The first one cancels: the waiting visitor's page now says the seat is theirs.
    first = Booking.get(Booking.name == "Awa")
    client.post(f"/programme/{future_session.id}/b/{first.code}/cancel",
                data={"csrf": csrf(client)})
    second = Booking.get(Booking.name == "Fanta")
    assert "Seat booked" in client.get(
        f"/programme/{future_session.id}/b/{second.code}").data.decode()


def test_started_and_cancelled_sessions_say_so(client, db):
    started = rules.create_session({"title": "En cours", "kind": "debate", "duration_min": 120,
                                    "capacity": 5}, rules.utcnow() - dt.timedelta(minutes=10))
    page = client.get(f"/programme/{started.id}").data.decode()
    assert "already started" in page and "<form method=\"post\"" not in page
    r = book(client, started.id)
    assert r.status_code == 400 and "already started" in r.data.decode()
    later = rules.create_session({"title": "Annulée", "kind": "debate", "duration_min": 60,
                                  "capacity": 5}, rules.utcnow() + dt.timedelta(days=1))
    b = rules.book(later.id, "Awa")
    rules.cancel_session(later.id)
    assert "cancelled" in client.get(f"/programme/{later.id}").data.decode()
    assert "This session is cancelled" in client.get(
        f"/programme/{later.id}/b/{b.code}").data.decode()
    assert book(client, later.id).status_code == 400


def test_bad_input_and_unknown_codes(client, future_session):
    r = book(client, future_session.id, phone="call me maybe")
    assert r.status_code == 400 and "write a name" in r.data.decode()
    assert Booking.select().count() == 0
    assert client.get(f"/programme/{future_session.id}/b/000000").status_code == 404
    assert client.get("/programme/find?code=000000").status_code == 404
    assert client.get("/programme/9999").status_code == 404
    assert Session.select().count() == 1


def test_one_phone_cannot_empty_a_room(client, db):
    s = rules.create_session({"title": "Grande salle", "kind": "debate", "duration_min": 60,
                              "capacity": 30}, rules.utcnow() + dt.timedelta(days=1))
    for n in range(4):  # programme.bookings_per_phone: a family's worth
        assert "m=booked" in book(client, s.id, name=f"Membre {n}").location
    r = book(client, s.id, name="Cinquième")
    assert r.status_code == 400 and "already booked several seats" in r.data.decode()
    # Cancelling one frees a place for this phone.
    first = Booking.get(Booking.name == "Membre 0")
    client.post(f"/programme/{s.id}/b/{first.code}/cancel", data={"csrf": csrf(client)})
    assert "m=booked" in book(client, s.id, name="Cinquième").location
    # The phone's hash stays on the box.
    from appliance.models import OutboxEvent

    assert Booking.get(Booking.name == "Cinquième").client
    assert all(Booking.get(Booking.name == "Cinquième").client not in e.payload
               for e in OutboxEvent.select())


def test_guessing_codes_is_stopped(client, future_session):
    from captive_portal import programme

    r = book(client, future_session.id)
    code = r.location.split("/b/")[1].split("?")[0]
    for n in range(programme.MISSES_ALLOWED):
        wrong = f"{(int(code) + 1 + n) % 10**6:06d}"
        assert client.get(f"/programme/find?code={wrong}").status_code == 404
    assert client.get(f"/programme/find?code={code}").status_code == 429
    assert client.post(f"/programme/{future_session.id}/b/{code}/cancel",
                       data={"csrf": csrf(client)}).status_code == 429
    assert Booking.get().status == "booked"
    # Another phone is not affected.
    other = client.get(f"/programme/{future_session.id}/b/{code}",
                       environ_overrides={"REMOTE_ADDR": "10.42.0.77"})
    assert other.status_code == 200


def test_booking_and_cancelling_need_the_pages_token(client, future_session):
    """Another site cannot book a seat or cancel a ticket in a visitor's name."""
    r = client.post(f"/programme/{future_session.id}/book", data={"name": "Forged"})
    assert r.status_code == 400 and Booking.select().count() == 0
    page = client.get(f"/programme/{future_session.id}").data.decode()
    token = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    r = client.post(f"/programme/{future_session.id}/book", data={"name": "Awa", "csrf": token})
    assert r.status_code == 303
    b = Booking.get()
    forged = client.post(f"/programme/{future_session.id}/b/{b.code}/cancel",
                         data={"csrf": "forged"})
    assert forged.status_code == 400 and Booking.get().status == "booked"
    ticket = client.get(r.location).data.decode()
    assert re.search(r'name="csrf" value="([^"]+)"', ticket).group(1) == token
