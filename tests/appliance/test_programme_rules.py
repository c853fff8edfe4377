"""Property-based tests of the booking rules (hypothesis): capacity is never
exceeded, reserved seats are held until the release time and then open to all,
the waiting list is served in order, cancellations free seats, and every change
reaches the outbox without names."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from appliance.db import database
from appliance.models import OutboxEvent
from appliance.programme import rules
from appliance.programme.models import Booking, Series, Session

START = dt.datetime(2027, 1, 29, 10, 0)
GENDERS = st.sampled_from(["", "f", "m"])
AGES = st.sampled_from(["", "under35", "35plus"])


@pytest.fixture
def fast_db(app):
    """The app's real SQLite file; fsync off for speed (durability is tested elsewhere)."""
    database.connect(reuse_if_open=True)
    database.execute_sql("PRAGMA synchronous=OFF")
    yield database
    database.close()


def reset() -> None:
    with database.atomic():
        for model in (OutboxEvent, Booking, Session, Series):
            model.delete().execute()


def make_session(capacity: int, women: int, youth: int, release_min: int) -> Session:
    return rules.create_session({"title": "Atelier", "kind": "training", "duration_min": 120,
                                 "capacity": capacity, "reserved_women": women,
                                 "reserved_youth": youth, "release_min": release_min}, START)


# -- an oracle written apart from the implementation ------------------------------


def holding(s: Session) -> list[Booking]:
    return list(Booking.select().where((Booking.session == s) & (Booking.status == "booked")
                                       & (Booking.attendance != "no_show")))


def oracle_may_take(s: Session, gender: str, age: str, now: dt.datetime) -> bool:
    """Could a person of this gender/age take a seat now, by the rules as written?"""
    held = holding(s)
    if len(held) >= s.capacity:
        return False
    if now >= START - dt.timedelta(minutes=s.release_min):
        return True
    by_pool = {p: sum(b.pool == p for b in held) for p in ("women", "youth", "open")}
    open_free = s.capacity - s.reserved_women - s.reserved_youth - by_pool["open"] > 0
    women_free = gender == "f" and s.reserved_women - by_pool["women"] > 0
    youth_free = age == "under35" and s.reserved_youth - by_pool["youth"] > 0
    return open_free or women_free or youth_free


def check_invariants(s: Session, now: dt.datetime) -> None:
    s = Session.get_by_id(s.id)
    held = holding(s)
    # Capacity is never exceeded.
    assert len(held) <= s.capacity
    # Before the release time, each pool stays within its seats.
    if now < START - dt.timedelta(minutes=s.release_min):
        assert sum(b.pool == "women" for b in held) <= s.reserved_women
        assert sum(b.pool == "youth" for b in held) <= s.reserved_youth
        assert sum(b.pool == "open" for b in held) <= (s.capacity - s.reserved_women
                                                       - s.reserved_youth)
        assert all(b.gender == "f" for b in held if b.pool == "women")
        assert all(b.age_group == "under35" for b in held if b.pool == "youth")
    waiting = list(Booking.select().where((Booking.session == s)
                                          & (Booking.status == "waiting")))
    if now < s.ends_at:
        # Nobody waits while a seat they may take is free.
        for b in waiting:
            assert not oracle_may_take(s, b.gender, b.age_group, now), (b.gender, b.age_group)
    # Order: within one kind of person, nobody got a seat ahead of someone who waited
    # before them.
    booked = Booking.select().where((Booking.session == s) & (Booking.status == "booked"))
    for b in waiting:
        ahead = [o.id for o in booked if (o.gender, o.age_group) == (b.gender, b.age_group)
                 and not o.walk_in]
        assert all(i < b.id for i in ahead), (b.id, ahead)


class BookingMachine(RuleBasedStateMachine):
    """Random visitors book, cancel, come or not, while time passes."""

    @initialize(capacity=st.integers(1, 8), women=st.integers(0, 4), youth=st.integers(0, 4),
                release_min=st.sampled_from([0, 30, 120, 1440]))
    def setup(self, capacity, women, youth, release_min):
        assume(women + youth <= capacity)
        reset()
        self.session = make_session(capacity, women, youth, release_min)
        self.now = START - dt.timedelta(days=2)
        self.codes: list[str] = []
        self.created = 0

    @rule(gender=GENDERS, age=AGES)
    def book(self, gender, age):
        if self.now >= START:
            with pytest.raises(rules.SessionStarted):
                rules.book(self.session.id, "V", "", gender, age, now=self.now)
            return
        could = oracle_may_take(self.session, gender, age, self.now)
        b = rules.book(self.session.id, "Visiteur", "70 00 00 00", gender, age, now=self.now)
        self.created += 1
        self.codes.append(b.code)
        assert (b.status == "booked") == could

    @precondition(lambda self: self.codes)
    @rule(data=st.data())
    def cancel(self, data):
        code = data.draw(st.sampled_from(self.codes))
        before = Booking.get(Booking.code == code, Booking.session == self.session)
        if self.now >= START and before.status != "cancelled":
            with pytest.raises(rules.SessionStarted):
                rules.cancel(self.session.id, code, now=self.now)
            return
        b = rules.cancel(self.session.id, code, now=self.now)
        assert b.status == "cancelled"
        if before.status == "booked":
            # The seat is no longer held by them.
            assert b.id not in [h.id for h in holding(self.session)]

    @rule(minutes=st.integers(1, 24 * 60))
    def advance(self, minutes):
        self.now += dt.timedelta(minutes=minutes)
        rules.promote(self.session.id, now=self.now)

    @precondition(lambda self: self.now >= START)
    @rule(data=st.data())
    def door(self, data):
        booked = list(Booking.select().where((Booking.session == self.session)
                                             & (Booking.status == "booked")
                                             & (Booking.attendance == "")))
        if not booked or self.now >= self.session.ends_at:
            return
        b = data.draw(st.sampled_from(booked))
        if data.draw(st.booleans()):
            assert rules.check_in(b.id, now=self.now).attendance == "present"
        else:
            rules.mark_no_show(b.id, now=self.now)

    @invariant()
    def rules_hold(self):
        if hasattr(self, "session"):
            check_invariants(self.session, self.now)

    @invariant()
    def outbox_has_every_booking_without_names(self):
        if not hasattr(self, "session"):
            return
        events = list(OutboxEvent.select().where(OutboxEvent.kind == "booking.created"))
        assert len(events) == self.created
        for e in OutboxEvent.select():
            payload = json.loads(e.payload)
            assert "name" not in payload and "phone" not in payload
            assert "Visiteur" not in e.payload and "70 00" not in e.payload


def test_booking_rules_hold_under_random_use(fast_db):
    BookingMachine.TestCase.settings = settings(
        max_examples=60, stateful_step_count=25, deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                               HealthCheck.filter_too_much])
    BookingMachine.TestCase().runTest()


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(capacity=st.integers(2, 10), women=st.integers(0, 5), youth=st.integers(0, 5),
       release_min=st.sampled_from([15, 60, 120, 1440]), men=st.integers(1, 12))
def test_reserved_seats_held_until_release_then_open(fast_db, capacity, women, youth,
                                                     release_min, men):
    """Men (35+) fill the open seats only; at the release time, exactly then, the
    waiting men take the held seats in order."""
    assume(women + youth <= capacity)
    reset()
    s = make_session(capacity, women, youth, release_min)
    release_at = START - dt.timedelta(minutes=release_min)
    early = release_at - dt.timedelta(hours=3)
    made = [rules.book(s.id, f"M{i}", "", "m", "35plus", now=early) for i in range(men)]
    open_seats = capacity - women - youth
    assert [b.status for b in made] == (["booked"] * min(men, open_seats)
                                        + ["waiting"] * max(0, men - open_seats))
    # One second before the release: nothing moves.
    assert rules.promote(s.id, now=release_at - dt.timedelta(seconds=1)) == []
    # At the release time: the first in line take what is free, in order.
    promoted = rules.promote(s.id, now=release_at)
    waiting_before = [b.id for b in made if b.status == "waiting"]
    assert [b.id for b in promoted] == waiting_before[:women + youth]
    assert len(holding(s)) == min(men, capacity)


@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(people=st.lists(st.tuples(GENDERS, AGES), min_size=1, max_size=14),
       cancel_index=st.integers(0, 13))
def test_cancellation_gives_the_seat_to_the_first_eligible_in_line(fast_db, people,
                                                                     cancel_index):
    reset()
    s = make_session(4, 1, 1, 120)
    now = START - dt.timedelta(days=1)
    made = [rules.book(s.id, "P", "", g, a, now=now) for g, a in people]
    booked = [b for b in made if b.status == "booked"]
    assume(booked)
    gone = booked[cancel_index % len(booked)]
    waiting = [b for b in made if b.status == "waiting"]
    rules.cancel(s.id, gone.code, now=now)
    # The freed seat's pool decides who may take it: the first waiting who may.
    eligible = [b for b in waiting if gone.pool == "open"
                or (gone.pool == "women" and b.gender == "f")
                or (gone.pool == "youth" and b.age_group == "under35")]
    after = {b.id: b.status for b in Booking.select().where(Booking.session == s)}
    if eligible:
        assert after[eligible[0].id] == "booked"
        assert all(after[b.id] == "waiting" for b in waiting if b.id != eligible[0].id)
    else:
        assert all(after[b.id] == "waiting" for b in waiting)
    assert len(holding(s)) == len(booked) - (0 if eligible else 1)


def test_started_and_cancelled_sessions_refuse_bookings(fast_db):
    s = make_session(5, 0, 0, 60)
    with pytest.raises(rules.SessionStarted):
        rules.book(s.id, "Awa", now=START)
    rules.cancel_session(s.id)
    with pytest.raises(rules.SessionCancelled):
        rules.book(s.id, "Awa", now=START - dt.timedelta(hours=1))
    with pytest.raises(rules.InvalidInput):
        rules.book(s.id, "Awa", "not a phone", now=START - dt.timedelta(hours=1))


def test_a_visitor_books_without_writing_a_name(fast_db):
    """Booking by voice alone: the ticket's code is what the door checks."""
    s = make_session(5, 0, 0, 60)
    b = rules.book(s.id, "  ", now=START - dt.timedelta(days=1))
    assert b.status == "booked" and b.name == "" and len(b.code) == 6


def test_names_reach_central_only_when_the_site_says_so(app, fast_db):
    s = make_session(5, 0, 0, 60)
    early = START - dt.timedelta(days=1)
    rules.book(s.id, "Awa Keïta", "76 12 34 56", "f", "under35", now=early)
    assert "Awa" not in "".join(e.payload for e in OutboxEvent.select())
    app.config["SITE"].sync.share_visitor_names = True
    try:
        with app.app_context():
            rules.book(s.id, "Fanta", "77 00 00 00", "f", "35plus", now=early)
    finally:
        app.config["SITE"].sync.share_visitor_names = False
    last = json.loads(OutboxEvent.select().where(OutboxEvent.kind == "booking.created")
                      .order_by(OutboxEvent.seq.desc()).first().payload)
    assert last["name"] == "Fanta" and last["phone"] == "77 00 00 00"


def test_attendance_counts_by_gender_and_age_sync_without_names(fast_db):
    s = make_session(6, 2, 2, 60)
    early = START - dt.timedelta(days=1)
    a = rules.book(s.id, "Awa", "", "f", "under35", now=early)
    b = rules.book(s.id, "Oumar", "", "m", "35plus", now=early)
    rules.book(s.id, "Kadia", "", "f", "35plus", now=early)
    rules.check_in(a.id, now=START)
    rules.check_in(b.id, now=START)
    rules.book(s.id, "", "", "f", "", now=START + dt.timedelta(minutes=5), walk_in=True)
    assert rules.mark_all_no_shows(s.id, now=START + dt.timedelta(minutes=10)) == 1
    last = (OutboxEvent.select().where(OutboxEvent.kind == "attendance.counts")
            .order_by(OutboxEvent.seq.desc()).first())
    counts = json.loads(last.payload)
    assert counts["by_group"] == {"f:under35": 1, "m:35plus": 1, "f:unknown": 1}
    assert (counts["present"], counts["no_show"], counts["walk_in"]) == (3, 1, 1)
    assert (counts["women"], counts["youth"]) == (2, 1)
    assert "Awa" not in last.payload
    shares = rules.attendance_counts(Session.get_by_id(s.id))
    assert shares["women_share"] == pytest.approx(2 / 3, abs=0.001)


def test_worker_releases_reserved_seats_to_the_waiting_list(app, fast_db, monkeypatch):
    from appliance import worker

    s = make_session(2, 1, 0, 60)
    early = START - dt.timedelta(days=1)
    rules.book(s.id, "Oumar", "", "m", "35plus", now=early)
    waiting = rules.book(s.id, "Moussa", "", "m", "35plus", now=early)
    assert waiting.status == "waiting"
    assert rules.release_due(now=START - dt.timedelta(minutes=61)) == 0
    monkeypatch.setattr(rules, "utcnow", lambda: START - dt.timedelta(minutes=59))
    assert worker.programme_release_job(app) == "promoted 1 waiting bookings"
    assert Booking.get_by_id(waiting.id).pool == "open"
