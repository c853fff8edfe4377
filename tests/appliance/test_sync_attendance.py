"""Central's attendance figures equal the box's (issue 12 part 2), whatever the link
did: a hypothesis state machine books, walks in, checks in, marks no-shows and cancels
across sessions on several days, and syncs through a fault proxy (cuts, dropped
responses, duplicated and held-then-replayed requests, box deaths) and by USB sticks
imported in any order, late, or twice. After a clean sync, per session and per day,
central's present / women / youth (so the women and youth shares) and no-shows and
walk-ins equal the box's own figures. Before snapshots, central added every running
total the box sent: 5 present showed as 1+2+3+4+5 = 15."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import shutil
import tempfile
import uuid
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, precondition, rule

from appliance import migrations
from appliance.db import open_database
from appliance.programme import rules
from appliance.programme.models import Booking, Session
from appliance.sync import sneakernet
from appliance.sync.client import CentralRefused, Options, SyncClient
from appliance.sync.enroll import enroll
from appliance.sync.transport import LinkError
from tests.appliance.test_sync_faults import FAULT, Crash, CrashingClient
from tests.central.harness import CentralServer, FaultProxy, central_call, make_central

EXAMPLES = int(os.environ.get("ESPACE_ATTENDANCE_EXAMPLES", "12"))
FIGURES = ("present", "women", "youth", "no_show", "walk_in")
SESSION = {"title": "Formation", "kind": "training", "room": "Salle", "duration_min": 120,
           "capacity": 6, "reserved_women": 2, "reserved_youth": 1, "release_min": 30}


@pytest.fixture(scope="module")
def central(tmp_path_factory):
    app = make_central(tmp_path_factory.mktemp("central"))
    server = CentralServer(app)
    server.app = app
    yield server
    server.close()


def central_figures(app, slug):
    import json

    from central.models import Site, Snapshot, UsageDay

    def q():
        site = Site.get(Site.slug == slug)
        sessions = {s.subject: json.loads(s.payload) for s in Snapshot.select().where(
            (Snapshot.site == site) & (Snapshot.kind == "attendance.counts"))}
        days = {u.day: (u.count, u.women, u.youth) for u in UsageDay.select().where(
            (UsageDay.site == site) & (UsageDay.metric == "attendance"))}
        return sessions, days

    return central_call(app, q)


class AttendanceMachine(RuleBasedStateMachine):
    central: CentralServer

    def __init__(self) -> None:
        super().__init__()
        self.tmp = Path(tempfile.mkdtemp(prefix="espace-attendance-"))
        self.db = open_database(self.tmp / "data")
        migrations.migrate(self.db)
        self.slug = "a" + uuid.uuid4().hex[:12]
        from central import service

        _site, code = central_call(self.central.app, service.create_site, self.slug, "A",
                                   "Kayes", ["Nioro"])
        enroll(self.central.url, code, self.tmp / "data")
        self.now = dt.datetime(2026, 11, 20, 8, 0)
        self.sticks: list[Path] = []

    def options(self, url: str = "") -> Options:
        return Options(url=url or self.central.url, data_dir=self.tmp / "data",
                       content_dir=self.tmp / "content", budget_bytes=10**9, timeout=2)

    # --- the room --------------------------------------------------------------------

    @rule(day=st.integers(1, 3), hour=st.sampled_from([9, 15]))
    def new_session(self, day, hour):
        rules.create_session(SESSION, self.now + dt.timedelta(days=day, hours=hour - 8))

    @precondition(lambda self: Session.select().exists())
    @rule(pick=st.integers(0, 99), gender=st.sampled_from(["", "f", "m"]),
          age=st.sampled_from(["", "under35", "35plus"]), walk_in=st.booleans())
    def book(self, pick, gender, age, walk_in):
        sessions = list(Session.select().order_by(Session.id))
        s = sessions[pick % len(sessions)]
        with contextlib.suppress(rules.ProgrammeError):  # full: nothing changes
            rules.book(s.id, "" if walk_in else "Awa", "", gender, age, now=self.now,
                       walk_in=walk_in)

    def _booking(self, pick):
        rows = list(Booking.select().order_by(Booking.id))
        return rows[pick % len(rows)] if rows else None

    @precondition(lambda self: Booking.select().exists())
    @rule(pick=st.integers(0, 999), what=st.sampled_from(["check_in", "no_show", "cancel"]))
    def at_the_door(self, pick, what):
        b = self._booking(pick)
        try:
            if what == "check_in":
                rules.check_in(b.id, now=self.now)
            elif what == "no_show":
                rules.mark_no_show(b.id, now=self.now)
            else:
                rules.cancel(b.session_id, b.code, now=self.now)
        except rules.ProgrammeError:
            pass

    # --- the link --------------------------------------------------------------------

    @rule(schedule=st.lists(FAULT, max_size=5), crash_at=st.none() | st.integers(1, 3))
    def sync(self, schedule, crash_at):
        with FaultProxy(self.central.url,
                        lambda i: schedule[i] if i < len(schedule) else "pass") as proxy:
            try:
                with CrashingClient(self.options(proxy.url), crash_at) as client:
                    client.run(force=True)
            except (LinkError, CentralRefused, Crash):
                pass

    @rule()
    def export_stick(self):
        stick = self.tmp / f"stick{len(self.sticks)}"
        sneakernet.export(stick, self.options())
        self.sticks.append(stick)

    @precondition(lambda self: self.sticks)
    @rule(pick=st.integers(0, 99), twice=st.booleans())
    def carry_stick(self, pick, twice):
        """A stick (any of them: late, out of order) imported at central, maybe twice,
        then brought back to the box."""
        from central import service
        from central import sneakernet as central_usb

        stick = self.sticks[pick % len(self.sticks)]
        app = self.central.app
        key = central_call(app, service.central_key, app.config["DATA_DIR"])
        for _ in range(1 + twice):
            central_call(app, central_usb.import_dir, stick, app.config["DATA_DIR"], key)
        sneakernet.import_(stick, self.options())

    def box_figures(self):
        sessions, days = {}, {}
        for s in Session.select():
            counts = rules.attendance_counts(s)
            sessions[s.uuid] = {k: counts[k] for k in FIGURES}
            day = s.starts_at.date().isoformat()
            acc = days.setdefault(day, [0, 0, 0])
            for i, k in enumerate(("present", "women", "youth")):
                acc[i] += counts[k]
        return sessions, {d: tuple(v) for d, v in days.items()}

    def teardown(self):
        try:
            for stick in self.sticks[::-1]:  # the oldest sticks arrive last
                self.carry_stick(self.sticks.index(stick), False)
            for _ in range(3):
                with SyncClient(self.options()) as client:
                    client.run(force=True)
            box_sessions, box_days = self.box_figures()
            got_sessions, got_days = central_figures(self.central.app, self.slug)
            for subject, figures in box_sessions.items():
                if subject not in got_sessions:
                    assert figures["present"] == figures["no_show"] == 0
                    continue
                assert {k: got_sessions[subject][k] for k in FIGURES} == figures, subject
            for day, (present, women, youth) in box_days.items():
                assert got_days.get(day, (0, 0, 0)) == (present, women, youth), day
                if present:  # the shares the donors read
                    count, w, y = got_days[day]
                    assert (w / count, y / count) == (women / present, youth / present)
        finally:
            self.db.close()
            shutil.rmtree(self.tmp, ignore_errors=True)


@pytest.mark.slow
def test_central_attendance_equals_the_box(central):
    from hypothesis.stateful import run_state_machine_as_test

    AttendanceMachine.central = central
    run_state_machine_as_test(AttendanceMachine, settings=settings(
        max_examples=EXAMPLES, stateful_step_count=20, deadline=None, database=None,
        suppress_health_check=list(HealthCheck)))
