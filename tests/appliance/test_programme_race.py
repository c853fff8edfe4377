"""The last seat, taken at the same instant by real concurrent clients on a real
SQLite file: separate processes calling the rules, and phones (threads) posting
to a live waitress server. Exactly one gets the seat; the others are in line."""

from __future__ import annotations

import datetime as dt
import http.client
import multiprocessing
import re
import threading
import urllib.parse

import pytest

from appliance.db import database
from appliance.programme import rules
from appliance.programme.models import Booking
from tests.support import make_site

CLIENTS = 8


@pytest.fixture
def site_doc(tmp_path):
    # Every test phone comes from 127.0.0.1: let one address hold all the bookings.
    return make_site(tmp_path, programme={"bookings_per_phone": 50})


def make_last_seat_session(start: dt.datetime) -> int:
    s = rules.create_session({"title": "Dernière place", "kind": "debate",
                              "duration_min": 60, "capacity": 2}, start)
    rules.book(s.id, "Déjà inscrite", "", "f", "", now=start - dt.timedelta(days=1))
    return s.id


def _process_client(data_dir: str, session_id: int, n: int, barrier, results) -> None:
    from appliance import db as dbmod
    from appliance.programme import rules as r

    dbmod.open_database(data_dir)
    dbmod.database.connect()
    barrier.wait(timeout=60)
    try:
        b = r.book(session_id, f"Téléphone {n}", "", "", "")
        results.put((n, b.status))
    except Exception:  # reported to the parent, which fails the test
        import traceback
        results.put((n, traceback.format_exc()))
    finally:
        dbmod.database.close()


def test_processes_race_for_the_last_seat(app, db):
    session_id = make_last_seat_session(rules.utcnow() + dt.timedelta(days=2))
    database.close()
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(CLIENTS)
    results = ctx.SimpleQueue()
    procs = [ctx.Process(target=_process_client,
                         args=(str(app.config["DATA_DIR"]), session_id, n, barrier, results))
             for n in range(CLIENTS)]
    for p in procs:
        p.start()
    try:
        for p in procs:
            p.join(timeout=120)
    finally:
        for p in procs:
            if p.is_alive():
                p.kill()
                p.join()
    statuses = sorted(results.get()[1] for _ in range(CLIENTS))
    assert statuses == ["booked"] + ["waiting"] * (CLIENTS - 1)
    database.connect(reuse_if_open=True)
    assert Booking.select().where((Booking.session == session_id)
                                  & (Booking.status == "booked")).count() == 2
    # Each booking's event was committed with it: one each, sequence without gaps.
    from appliance.models import OutboxEvent

    created = [e.seq for e in OutboxEvent.select().where(OutboxEvent.kind == "booking.created")
               .order_by(OutboxEvent.seq)]
    assert len(created) == CLIENTS + 1
    seqs = [e.seq for e in OutboxEvent.select().order_by(OutboxEvent.seq)]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))


def test_phones_race_for_the_last_seat_over_http(app, db, live_server):
    session_id = make_last_seat_session(rules.utcnow() + dt.timedelta(days=2))
    host, port = urllib.parse.urlsplit(live_server.url).netloc.split(":")
    barrier = threading.Barrier(CLIENTS)
    answers: dict[int, str] = {}

    def phone(n: int) -> None:
        conn = http.client.HTTPConnection(host, int(port), timeout=60)
        try:
            # As a phone does: the session's page first (its cookie and the form's
            # CSRF token), then every phone posts at once on its kept-alive connection.
            conn.request("GET", f"/programme/{session_id}")
            page = conn.getresponse()
            html = page.read().decode()
            cookie = page.getheader("Set-Cookie", "").split(";", 1)[0]
            token = re.search(r'name="csrf" value="([^"]+)"', html).group(1)
            body = urllib.parse.urlencode({"name": f"Téléphone {n}", "gender": "m",
                                           "csrf": token})
            barrier.wait(timeout=30)
            conn.request("POST", f"/programme/{session_id}/book", body,
                         {"Content-Type": "application/x-www-form-urlencoded",
                          "Cookie": cookie})
            r = conn.getresponse()
            r.read()
            answers[n] = f"{r.status} {r.getheader('Location')}"
        finally:
            conn.close()

    threads = [threading.Thread(target=phone, args=(n,), name=f"phone-{n}")
               for n in range(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=90)
    assert len(answers) == CLIENTS, answers
    assert all(a.startswith("303 ") for a in answers.values()), answers
    won = [a for a in answers.values() if a.endswith("m=booked")]
    lined = [a for a in answers.values() if a.endswith("m=full")]
    assert (len(won), len(lined)) == (1, CLIENTS - 1), answers
    assert Booking.select().where((Booking.session == session_id)
                                  & (Booking.status == "booked")).count() == 2
