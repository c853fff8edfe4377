"""Booking by SMS through gammu-smsd: the week's list, a reserved seat that asks for
the group, the reminder the day before, and a cancellation that frees the seat."""

from __future__ import annotations

import datetime as dt
import json

from appliance.models import OutboxEvent
from appliance.programme import rules as programme
from appliance.programme.models import Booking
from sms import outgoing, rules
from sms.models import SmsBooking
from tests.sms.conftest import handled, wait_sent, wait_until

WOMAN = "+22366000003"


def session(title: str, days: float, **extra):
    data = {
        "title": title,
        "kind": "training",
        "duration_min": 120,
        "capacity": 3,
        "reserved_women": 0,
        "reserved_youth": 0,
        "release_min": 60,
    }
    data.update(extra)
    start = programme.utcnow() + dt.timedelta(days=days)
    return programme.create_session(data, start.replace(second=0))


def test_book_remind_and_cancel_by_sms(box, gammu_smsd):
    phone, spool, _daemon = gammu_smsd
    session("Couture", 3)
    sewing = session("Informatique pour les femmes", 2, reserved_women=2)
    session("Trop tard", 9)  # beyond the week: not listed

    phone.inject(WOMAN, "prog")
    listing = wait_sent(spool, WOMAN, 1)[0]
    assert "1 " in listing and "Informatique pour les" in listing and "Couture" in listing
    assert "Trop tard" not in listing
    assert listing.index("Informatique") < listing.index("Couture")  # in time order

    phone.inject(WOMAN, "1")  # a reserved seat: the box asks for the group
    ask = wait_sent(spool, WOMAN, 2)[1]
    assert "1F" in ask and "1J" in ask
    assert Booking.select().count() == 0

    phone.inject(WOMAN, "1F")
    booked = wait_sent(spool, WOMAN, 3)[2]
    b = Booking.get()
    assert (b.session_id, b.status, b.pool, b.gender, b.channel, b.phone) == (
        sewing.id,
        "booked",
        "women",
        "f",
        "sms",
        "",
    )
    assert b.code in booked
    payload = json.loads(OutboxEvent.get(OutboxEvent.kind == "booking.created").payload)
    assert payload["channel"] == "sms" and "phone" not in payload
    assert WOMAN[1:] not in "".join(e.payload for e in OutboxEvent.select())

    # The day before: one reminder, once.
    day_before = sewing.starts_at - dt.timedelta(hours=20)
    assert rules.remind_due(now=day_before) == 1
    assert rules.remind_due(now=day_before) == 0
    outgoing.flush(spool, box.config["SITE"])
    reminder = wait_sent(spool, WOMAN, 4)[3]
    assert b.code in reminder and "Informatique" in reminder
    assert SmsBooking.get().reminded

    phone.inject(WOMAN, f"ANNULER {b.code}")
    cancelled = wait_sent(spool, WOMAN, 5)[4]
    assert handled(4)
    assert "Informatique" in cancelled
    assert Booking.get_by_id(b.id).status == "cancelled"
    assert programme.seats(sewing).free == 3
    assert OutboxEvent.select().where(OutboxEvent.kind == "booking.cancelled").count() == 1


def test_booking_refusals_name_the_reason(box, gammu_smsd):
    phone, spool, _daemon = gammu_smsd
    session("Réunion du conseil", 1, capacity=1)
    phone.inject("+22370000030", "3")  # no list asked yet
    assert "PROG" in wait_sent(spool, "+22370000030", 1)[0]
    phone.inject("+22370000030", "PROG")
    wait_sent(spool, "+22370000030", 2)
    phone.inject("+22370000030", "9")  # not in the list
    assert "PROG" in wait_sent(spool, "+22370000030", 3)[2]
    phone.inject("+22370000031", "PROG")
    wait_sent(spool, "+22370000031", 1)
    phone.inject("+22370000030", "1")
    wait_sent(spool, "+22370000030", 4)
    phone.inject("+22370000031", "1")  # the room is full: the waiting list
    # Wait on the box's state, not on a count of SMS: a reply may go as several
    # parts ("1/2", "2/2"), so the n-th SMS sent is not always the n-th reply.
    wait_until(lambda: Booking.select().where(Booking.status == "waiting").count() == 1,
               "the second number on the waiting list")
    waiting = " ".join(wait_sent(spool, "+22370000031", 2)[1:])
    assert "1" in waiting
    phone.inject("+22370000031", "ANNULER")  # the only booking of this number
    wait_until(lambda: Booking.select().where(Booking.status == "cancelled").count() == 1,
               "the waiting booking cancelled by SMS")
