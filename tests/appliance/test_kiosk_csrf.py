"""Every state-changing route of the kiosk refuses a post without the session's CSRF
token (appliance.csrf), found from the app's url_map: a route added later without the
check fails here. "Refused" means 400 and the database exactly as it was."""

from __future__ import annotations

import datetime as dt
import re
import sqlite3
from pathlib import Path

import pytest
from werkzeug.routing.converters import NumberConverter

from appliance.db import DB_NAME
from appliance.pins import hash_pin
from appliance.programme import rules
from appliance.programme.models import Booking
from tests.support import csrf, kiosk_login, make_site

PIN = "2468"
CHANGING = {"POST", "PUT", "PATCH", "DELETE"}


@pytest.fixture
def site_doc(tmp_path):
    return make_site(tmp_path, kiosk={"facilitators": [{"name": "Awa", "pin_hash": hash_pin(PIN)}]})


def kiosk_rules(app) -> list:
    """Every rule under /kiosk that changes state, whichever package added it."""
    return sorted(
        (
            r
            for r in app.url_map.iter_rules()
            if (r.rule == "/kiosk" or r.rule.startswith("/kiosk/")) and r.methods & CHANGING
        ),
        key=lambda r: r.rule,
    )


def dump(app) -> list[str]:
    con = sqlite3.connect(Path(app.config["DATA_DIR"]) / DB_NAME)
    try:
        return list(con.iterdump())
    finally:
        con.close()


@pytest.fixture
def seeded(app, client, db):
    """A session starting an hour ago with a booking, and a board post, so every
    route's path names something real: a refusal is the token's, not a 404."""
    start = rules.utcnow() - dt.timedelta(hours=1)
    s = rules.create_session(
        {"title": "Débat", "kind": "debate", "duration_min": 120, "capacity": 5}, start
    )
    b = rules.book(s.id, "Awa", now=start - dt.timedelta(days=1))
    page = client.get("/board/new").get_data(as_text=True)
    token = re.search(r'name="csrf" value="([^"]+)"', page)[1]
    r = client.post(
        "/board/new",
        data={
            "csrf": token,
            "kind": "question",
            "target": "c:1",
            "theme": "water",
            "body": "Le forage est en panne",
        },
    )
    code = r.headers["Location"].rsplit("/", 1)[1]
    return {"session_id": s.id, "booking_id": b.id, "code": code}


def url(rule, seeded: dict) -> str:
    values = {}
    for arg in rule.arguments:
        number = isinstance(rule._converters[arg], NumberConverter)
        values[arg] = seeded.get(arg, 1 if number else "publish" if arg == "action" else "x")
    return rule.build(values)[1]


def test_the_list_is_not_empty(app):
    """The door, the session form and the board are in the list (a url_map read wrong
    would make the next test pass on nothing)."""
    endpoints = {r.endpoint for r in kiosk_rules(app)}
    assert {
        "kiosk.session_checkin",
        "kiosk.session_uncheck",
        "kiosk.session_walkin",
        "kiosk.session_noshow",
        "kiosk.session_noshows",
        "kiosk.session_cancel",
        "kiosk.session_new",
        "kiosk.session_edit",
        "kiosk.checkin_code",
        "kiosk.decide",
        "kiosk.answer",
        "kiosk.save_official",
        "kiosk.login",
        "kiosk.logout_view",
        "kiosk.shutdown_view",
        "kiosk.clock_view",
    } <= endpoints


@pytest.mark.parametrize("token", [None, "forged"])
def test_every_kiosk_post_refuses_a_request_without_the_token(app, client, seeded, token):
    kiosk_login(client)
    csrf(client)  # the session has a token; the request does not carry it
    before = dump(app)
    refused = []
    for rule in kiosk_rules(app):
        path = url(rule, seeded)
        data = {"confirm": "yes", "code": "000000", "name": "X", "pin": PIN}
        if token:
            data["csrf"] = token
        for method in sorted(rule.methods & CHANGING):
            r = client.open(path, method=method, data=data)
            if r.status_code != 400:
                refused.append(f"{method} {path} answered {r.status_code}")
        assert dump(app) == before, f"{rule.rule} changed the database"
    assert not refused, refused
    # Still logged in: the forged logout did nothing either.
    assert client.get("/kiosk/").status_code == 200


def test_the_door_works_with_the_token(app, client, seeded):
    """The same posts with the page's token go through (the refusal above is the
    token's, not the route's)."""
    kiosk_login(client)
    sid, bid = seeded["session_id"], seeded["booking_id"]
    page = client.get(f"/kiosk/sessions/{sid}").get_data(as_text=True)
    token = re.search(r'name="csrf" value="([^"]+)"', page)[1]
    assert page.count(f'value="{token}"') >= 4  # check-in, no-show, walk-in, cancel...
    r = client.post(f"/kiosk/sessions/{sid}/checkin/{bid}", data={"csrf": token})
    assert r.status_code == 303 and Booking.get_by_id(bid).attendance == "present"
    r = client.post(f"/kiosk/sessions/{sid}/walkin", data={"csrf": token, "name": "Sékou"})
    assert r.status_code == 303 and Booking.select().where(Booking.walk_in).count() == 1


def test_login_without_the_token_counts_no_attempt(app, client, db):
    from appliance.models import Meta

    r = client.post("/kiosk/login", data={"name": "Awa", "pin": "0000"})
    assert r.status_code == 400 and "expired" in r.get_data(as_text=True)
    assert (Meta.get_value("kiosk:failures", "0") or "0") == "0"
    page = client.get("/kiosk/login").get_data(as_text=True)
    token = re.search(r'name="csrf" value="([^"]+)"', page)[1]
    r = client.post("/kiosk/login", data={"name": "Awa", "pin": PIN, "csrf": token})
    assert r.status_code == 303
    # The idle logout's own form (made by the page's script) carries the new token.
    home = client.get("/kiosk/").get_data(as_text=True)
    new = re.search(r'name="csrf" value="([^"]+)"', home)[1]
    assert new != token and f't.value="{new}"' in home
