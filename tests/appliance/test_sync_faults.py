"""The sync under randomized faults (hypothesis state machine): a loopback proxy that
cuts requests and responses after N bytes, drops responses after central committed,
duplicates requests and delivers held ones late (reordering), with the box "dying"
between central's commit and its own. Invariants after every step: nothing the box
holds as acknowledged is missing at central, no record is stored twice or altered,
both SQLite databases pass integrity_check; at the end a clean sync delivers every
record exactly once, every voice note whole, every answer once.

ESPACE_SYNC_EXAMPLES raises the number of examples (default keeps this file well
under 4 minutes on a loaded 2-core machine); each example runs up to 20 steps, each
sync drawing its own fault schedule.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import uuid
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from appliance import blobs, migrations, outbox
from appliance.db import database, integrity_check, open_database
from appliance.models import OutboxEvent
from appliance.sync import state
from appliance.sync.client import CentralRefused, Options, SyncClient
from appliance.sync.enroll import enroll
from appliance.sync.transport import LinkError
from tests.central.harness import (
    CentralServer,
    FaultProxy,
    central_call,
    make_central,
    post,
)

EXAMPLES = int(os.environ.get("ESPACE_SYNC_EXAMPLES", "40"))


class Crash(Exception):
    """The box lost power after central answered, before its own commit."""


class CrashingClient(SyncClient):
    def __init__(self, options, crash_at: int | None):
        super().__init__(options)
        self.crash_at, self.applies = crash_at, 0

    def _apply(self, push, msg):
        self.applies += 1
        if self.applies == self.crash_at:
            with database.atomic("IMMEDIATE"):
                super()._apply(push, msg)
                raise Crash
        super()._apply(push, msg)


FAULT = st.one_of(
    st.just("pass"),
    st.tuples(st.just("cut_up"), st.integers(1, 300_000)),
    st.tuples(st.just("cut_down"), st.integers(1, 3000)),
    st.just("drop_response"),
    st.just("duplicate"),
    st.just("hold"),
)


@pytest.fixture(scope="module")
def central(tmp_path_factory):
    app = make_central(tmp_path_factory.mktemp("central"))
    server = CentralServer(app)
    server.app = app
    yield server
    server.close()


def central_records(app, slug):
    from central.models import Record, Site

    def q():
        site = Site.get(Site.slug == slug)
        return {r.seq: (r.uuid, r.kind, r.payload) for r in
                Record.select().where(Record.site == site)}

    return central_call(app, q)


class SyncMachine(RuleBasedStateMachine):
    central: CentralServer
    stats = {"examples": 0, "syncs": 0, "faults_injected": 0, "runs_broken": 0}

    def __init__(self) -> None:
        super().__init__()
        self.tmp = Path(tempfile.mkdtemp(prefix="espace-sync-faults-"))
        self.db = open_database(self.tmp / "data")
        migrations.migrate(self.db)
        self.slug = "s" + uuid.uuid4().hex[:12]
        from central import service

        _site, code = central_call(self.central.app, service.create_site, self.slug, "S",
                                   "Kayes", ["Nioro"])
        enroll(self.central.url, code, self.tmp / "data")
        self.n = 0
        self.stats["examples"] += 1
        self.voices: list[str] = []
        self.answered = 0

    def options(self, url: str) -> Options:
        return Options(url=url, data_dir=self.tmp / "data", content_dir=self.tmp / "content",
                       budget_bytes=10**9, timeout=10)

    @rule(n=st.integers(1, 40), stream=st.sampled_from(["civic", "usage"]))
    def add_events(self, n, stream):
        with database.atomic("IMMEDIATE"):
            for _ in range(n):
                self.n += 1
                if stream == "civic":
                    outbox.append("post.created", post(body=f"record {self.n}"))
                else:
                    outbox.append("usage.content", {"hour": "2026-11-20T10:00Z", "books": [
                        {"zim": "wikipedia_fr", "views": self.n}]})

    @rule(size=st.integers(1, 200_000), seed=st.integers(0, 10**6))
    def add_voice(self, size, seed):
        data = (hashlib.sha256(str(seed).encode()).digest() * (size // 32 + 1))[:size]
        sha, _ = blobs.put_bytes(self.tmp / "data", data)
        with database.atomic("IMMEDIATE"):
            outbox.append("post.created", post(voice_sha256=sha))
            outbox.append("blob.voice", {"sha256": sha, "size": size}, stream="blob")
        self.voices.append(sha)

    @rule()
    def answer(self):
        from central import service
        from central.models import Post, Site

        def go():
            post = (Post.select().join(Site).where((Site.slug == self.slug)
                                                   & (Post.status == "open")).first())
            if post is None:
                return False
            service.record_answer(post, "Maire", f"answer {post.uuid}", None)
            return True

        self.answered += central_call(self.central.app, go)

    @rule(schedule=st.lists(FAULT, max_size=6), crash_at=st.none() | st.integers(1, 4))
    def sync(self, schedule, crash_at):
        with FaultProxy(self.central.url,
                        lambda i: schedule[i] if i < len(schedule) else "pass") as proxy:
            try:
                with CrashingClient(self.options(proxy.url), crash_at) as client:
                    client.run(force=True)
            except (LinkError, CentralRefused, Crash):
                self.stats["runs_broken"] += 1
        self.stats["syncs"] += 1
        self.stats["faults_injected"] += sum(f != "pass" for _i, f in proxy.log) + (
            crash_at is not None and crash_at <= len(proxy.log))

    # Syncing is what is under test: give it twice the weight of the other rules.
    @rule(schedule=st.lists(FAULT, min_size=1, max_size=6),
          crash_at=st.none() | st.integers(1, 4))
    def sync_again(self, schedule, crash_at):
        self.sync(schedule, crash_at)

    @invariant()
    def acknowledged_is_stored_once_and_intact(self):
        got = central_records(self.central.app, self.slug)
        acks = state.acked()
        for ev in OutboxEvent.select():
            if ev.seq <= acks.get(ev.stream, 0):
                assert ev.seq in got, f"acknowledged seq {ev.seq} missing at central"
            if ev.seq in got:
                uuid_, kind, payload = got[ev.seq]
                assert (uuid_, kind) == (ev.uuid, ev.kind)
                assert json.loads(payload) == json.loads(ev.payload)
        assert set(got) <= {ev.seq for ev in OutboxEvent.select()}

    @invariant()
    def databases_are_sound(self):
        assert integrity_check(database) == "ok"

    def teardown(self):
        try:
            for _ in range(4):
                with SyncClient(self.options(self.central.url)) as client:
                    client.run(force=True)
            got = central_records(self.central.app, self.slug)
            assert sorted(got) == [ev.seq for ev in OutboxEvent.select().order_by(
                OutboxEvent.seq)], "not every record arrived exactly once"
            root = self.central.app.config["DATA_DIR"] / "blobs"
            for sha in self.voices:
                data = (root / sha[:2] / sha).read_bytes()
                assert hashlib.sha256(data).hexdigest() == sha
            pulled = state.SyncInbox.select().where(state.SyncInbox.kind == "answer.created")
            assert pulled.count() == self.answered
            assert integrity_check(database) == "ok"
        finally:
            self.db.close()
            shutil.rmtree(self.tmp, ignore_errors=True)


@pytest.mark.slow
def test_sync_survives_random_fault_schedules(central):
    from hypothesis.stateful import run_state_machine_as_test

    SyncMachine.central = central
    run_state_machine_as_test(SyncMachine, settings=settings(
        max_examples=EXAMPLES, stateful_step_count=20, deadline=None, database=None,
        suppress_health_check=list(HealthCheck)))
    print("fault schedules:", SyncMachine.stats)  # shown with -s
    assert SyncMachine.stats["faults_injected"] >= EXAMPLES
