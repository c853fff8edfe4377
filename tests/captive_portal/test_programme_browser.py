"""A visitor books a seat and cancels it from a phone (360x640) in chromium."""

from __future__ import annotations

import datetime as dt

import pytest

from appliance.programme import rules
from appliance.programme.models import Booking

pytestmark = pytest.mark.browser


def test_book_and_cancel_on_a_phone(live_server, phone, db, artifacts):
    s = rules.create_session({"title": "Utiliser WhatsApp pour sa commune", "kind": "training",
                              "duration_min": 90, "capacity": 12, "reserved_women": 4,
                              "room": "Salle principale"},
                             rules.utcnow() + dt.timedelta(days=1))
    phone.goto(live_server.url + "/programme/")
    phone.screenshot(path=artifacts / "programme-week-360x640.png")
    phone.tap("text=Utiliser WhatsApp pour sa commune")
    phone.fill("#name", "Mariam")
    phone.tap('label:has(input[name="gender"][value="f"])')
    phone.tap('label:has(input[name="age_group"][value="under35"])')
    phone.screenshot(path=artifacts / "programme-book-360x640.png", full_page=True)
    phone.tap("button[type=submit]")
    phone.wait_for_selector("#code")
    code = phone.inner_text("#code").replace(" ", "")
    b = Booking.get(Booking.session == s.id)
    assert (b.code, b.name, b.pool, b.status) == (code, "Mariam", "women", "booked")
    assert (b.gender, b.age_group) == ("f", "under35")
    assert phone.evaluate("document.documentElement.scrollWidth") <= 360
    phone.screenshot(path=artifacts / "programme-ticket-360x640.png", full_page=True)
    phone.tap("text=Cancel my booking")
    phone.wait_for_selector("text=Your booking is cancelled")
    assert Booking.get_by_id(b.id).status == "cancelled"
    phone.screenshot(path=artifacts / "programme-cancelled-360x640.png", full_page=True)
